"""The offline applier drives dynamic providers through the Pulumi SDK's own dynamic-provider
host, over gRPC, as the engine does: what the engine would refuse or get wrong fails here too,
naming the resource, before anything is applied. A small program of test providers (in a module
of its own, so that the host unpickles them by reference, as it does supastack's)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from applier.engine import deploy, preview
from applier.errors import DeployError
from applier.records import Applied

PROVIDERS = '''
import datetime
import json
from pathlib import Path

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, Resource, ResourceProvider

LEDGER = Path(__file__).parent / "ledger.json"


def _log(event):
    events = json.loads(LEDGER.read_text()) if LEDGER.exists() else []
    LEDGER.write_text(json.dumps(events + [event]))


class Thing(ResourceProvider):
    """Keeps its inputs; ``made`` is an output only it knows; ``shape`` forces a replacement."""

    def check(self, olds, news):
        # as a careless provider would: a string method on an input that may be unknown
        if news.get("strict"):
            news = {**news, "value": news["value"].upper()}
        return CheckResult(news, [])

    def diff(self, _id, olds, news):
        keys = [k for k in ("value", "shape") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(keys), replaces=[k for k in keys if k == "shape"])

    def create(self, props):
        _log(["create", props["name"]])
        when = datetime.datetime(2027, 1, 4) if props.get("bad_output") else None
        outs = {**props, "made": f"made-{props['name']}"}
        if when:
            outs["when"] = when
        return CreateResult(props["name"], outs)

    def update(self, _id, olds, news):
        _log(["update", news["name"]])
        from pulumi.dynamic import UpdateResult
        return UpdateResult({**news, "made": olds["made"]})

    def delete(self, _id, props):
        _log(["delete", props["name"]])


class Thing_(Resource, module="test", name="Thing"):
    made: pulumi.Output[str]

    def __init__(self, name, props, opts=None):
        super().__init__(Thing(), name, {"name": name, "made": None, **props}, opts)
'''

PROGRAM = """
import json
from pathlib import Path

import pulumi
from fixture_providers import Thing_

with (Path(__file__).parent / "runs.txt").open("a") as runs:  # how often the program ran
    runs.write("run\\n")

case = pulumi.Config("fixture").require_object("case")
outer = pulumi.ComponentResource("test:index:Outer", "outer")
inner_aliases = [pulumi.Alias(type_=typ) for typ in case.get("inner_aliases", [])]
inner = pulumi.ComponentResource(
    case.get("inner_type", "test:index:Inner"), "inner",
    opts=pulumi.ResourceOptions(parent=outer, aliases=inner_aliases),
)
parents = {"outer": outer, "inner": inner}




def options(given):
    aliases = [pulumi.Alias(name=name) for name in given.pop("aliases", [])]
    aliases += [pulumi.Alias(parent=parents[p]) for p in given.pop("alias_parents", [])]
    if "parent" in given:
        given["parent"] = parents[given["parent"]]
    return pulumi.ResourceOptions(**given, aliases=aliases)


first = Thing_(case.get("first_name", "first"),
               {"value": case.get("value", "one"), "shape": case.get("shape", "round"),
                **case.get("first", {})}, options(case.get("first_opts", {})))
if case.get("second"):
    Thing_("second", {"value": first.made, "strict": case.get("strict", False)},
           options(case.get("second_opts", {})))


class Platform:
    outputs = {"made": first.made}


platform = Platform()
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fixture_providers.py").write_text(textwrap.dedent(PROVIDERS))
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    monkeypatch.syspath_prepend(str(tmp_path))  # the program imports them; so does the host
    return tmp_path


def _config(**case: object) -> dict[str, str]:
    return {"fixture:case": json.dumps(case)}


def _ledger(project: Path) -> list[list[str]]:
    path = project / "ledger.json"
    return json.loads(path.read_text()) if path.exists() else []


def _runs(project: Path) -> int:
    return len((project / "runs.txt").read_text().splitlines())


def _deploy(project: Path, previous: list[Applied] | None = None, **case: object) -> list[Applied]:
    return deploy(_config(**case), project=project, previous=previous, seed=1).mocks.records()


def test_a_provider_that_cannot_take_an_unknown_fails_the_preview_before_anything_applies(
    project: Path,
) -> None:
    # `second` takes `first.made`, unknown until `first` exists: the engine's preview hands
    # `check` the unknown, and `.upper()` on it raises, so `pulumi up` stops before applying
    with pytest.raises(DeployError, match=r"Thing second \(preview\): .*upper"):
        _deploy(project, second=True, strict=True)
    assert _ledger(project) == []  # nothing half-applied
    # a provider that lets the unknown through deploys; its input is known by then
    records = _deploy(project, second=True)
    second = next(a for a in records if a.name == "second")
    assert second.outputs["value"] == "made-first"


def test_an_output_that_cannot_be_serialized_fails_naming_the_resource(project: Path) -> None:
    with pytest.raises(DeployError, match=r"Thing first: .*datetime"):
        _deploy(project, first={"bad_output": True})


def test_the_preview_shows_each_change_and_what_forces_a_replacement(project: Path) -> None:
    records = _deploy(project)
    assert preview(_config(), previous=records, project=project).changes == []
    ledger = len(_ledger(project))

    edited = preview(_config(value="two", shape="square", second=True), previous=records,
                     project=project)  # fmt: skip
    lines = edited.render().splitlines()
    assert "  +- Thing                  first  replace" in lines
    assert "      +- shape  (forces replacement)" in lines
    assert "      ~  value" in lines
    assert "  +  Thing                  second  create" in lines
    assert lines[-1] == "Resources: 1 to create, 1 to replace; 0 unchanged"
    assert len(_ledger(project)) == ledger  # a preview applies nothing

    updated = preview(_config(value="two"), previous=records, project=project)
    assert [(s.op, s.name, s.changed, s.replacing) for s in updated.changes] == [
        ("update", "first", ("value",), ())
    ]


def test_a_replacement_and_a_removal_go_through_the_host(project: Path) -> None:
    records = _deploy(project, second=True)
    records = _deploy(project, records, shape="square", second=True)
    # replaced (its `made` is the same, so `second` is unchanged)
    assert sorted(_ledger(project)[-2:]) == [["create", "first"], ["delete", "first"]]
    gone = preview(_config(shape="square"), previous=records, project=project)
    assert [(s.op, s.name) for s in gone.changes] == [("delete", "second")]
    _deploy(project, records, shape="square")
    assert _ledger(project)[-1] == ["delete", "second"]


def test_a_secret_output_not_declared_secret_is_kept_plain_and_refused_by_the_policy(
    project: Path,
) -> None:
    # the engine stores an output in plaintext unless the program marks it secret; the
    # applier keeps it as the engine would, and the policy pack refuses the resource
    deployment = deploy(_config(first={"token": "tok-undeclared"}), project=project, seed=1)
    assert deployment.mocks.violations == [
        "pulumi-python:dynamic/test:Thing::first: first: token, value must be secret outputs"
    ]
    first = next(a for a in deployment.mocks.records() if a.name == "first")
    assert first.outputs["token"] == "tok-undeclared"


def test_a_replacement_is_created_before_the_old_one_is_deleted_unless_told_otherwise(
    project: Path,
) -> None:
    records = _deploy(project)
    saved: list[list[Applied]] = []
    records = deploy(_config(shape="square"), project=project, previous=records, seed=1,
                     checkpoint=saved.append).mocks.records()  # fmt: skip
    assert _ledger(project)[-2:] == [["create", "first"], ["delete", "first"]]
    # between the two, the records keep the old one as pending deletion (the state's
    # `delete: true`): a run killed there leaves it for the next run to delete
    between = next(s for s in saved if len([a for a in s if a.name == "first"]) == 2)
    assert sorted(a.delete for a in between if a.name == "first") == [False, True]
    _deploy(project, between, shape="square")
    assert _ledger(project)[-1] == ["delete", "first"]
    assert [a.delete for a in records if a.name == "first"] == [False]

    _deploy(project, records, shape="oval", first_opts={"delete_before_replace": True})
    assert _ledger(project)[-2:] == [["delete", "first"], ["create", "first"]]


def test_a_protected_resource_is_neither_replaced_nor_deleted_and_nothing_applies(
    project: Path,
) -> None:
    protect = {"protect": True}
    records = _deploy(project, second=True, first_opts=protect, second_opts=protect)
    applied = len(_ledger(project))
    with pytest.raises(DeployError, match=r'Thing first \(preview\): unable to replace resource '
                       r'"urn:[^"]*::first" as it is currently marked for protection'):  # fmt: skip
        _deploy(project, records, shape="square", second=True, first_opts=protect)
    with pytest.raises(DeployError, match=r'unable to delete resource "urn:[^"]*::second" as it '
                       r"is currently marked for protection.*pulumi state unprotect"):  # fmt: skip
        _deploy(project, records, value="two", first_opts=protect)  # second dropped
    assert len(_ledger(project)) == applied  # not even first's update was applied
    # unprotected in the program first (an update of the flag), then it can go
    records = _deploy(project, records, second=True)
    _deploy(project, records)
    assert _ledger(project)[-1] == ["delete", "second"]


def test_retain_on_delete_forgets_without_deleting(project: Path) -> None:
    records = _deploy(project, second=True, second_opts={"retain_on_delete": True})
    records = _deploy(project, records)
    assert ["delete", "second"] not in _ledger(project)
    assert "second" not in {a.name for a in records}


def test_ignore_changes_and_replace_on_changes(project: Path) -> None:
    records = _deploy(project)
    ignored = preview(_config(value="two", first_opts={"ignore_changes": ["value"]}),
                      previous=records, project=project)  # fmt: skip
    assert ignored.changes == []
    forced = preview(_config(value="two", first_opts={"replace_on_changes": ["value"]}),
                     previous=records, project=project)  # fmt: skip
    assert [(s.op, s.replacing) for s in forced.changes] == [("replace", ("value",))]


def test_an_alias_keeps_a_renamed_resource_and_without_it_the_engine_replaces(
    project: Path,
) -> None:
    records = _deploy(project)
    renamed = {"first_name": "primary", "first_opts": {"aliases": ["first"]}}
    plan = preview(_config(**renamed), previous=records, project=project)
    assert plan.changes == []
    assert plan.unchanged == 1
    records = _deploy(project, records, **renamed)
    assert [a.name for a in records if a.typ.endswith(":Thing")] == ["primary"]
    assert ["delete", "first"] not in _ledger(project)
    # and a second run keeps it under its new name, with nothing to do
    assert preview(_config(**renamed), previous=records, project=project).changes == []

    unaliased = preview(_config(first_name="other"), previous=records, project=project)
    assert sorted((s.op, s.name) for s in unaliased.changes) == [
        ("create", "other"), ("delete", "primary")
    ]  # fmt: skip


def test_a_resource_moved_to_another_parent_is_a_new_urn_unless_an_alias_names_the_old_one(
    project: Path,
) -> None:
    """The engine keys its state by URN, which holds the parents' types: a resource moved from
    a component to one of another type is created anew and the old one deleted (as the real
    engine previews it: create 1, delete 1), unless ``Alias(parent=old)`` names the old one."""
    records = _deploy(project, first_opts={"parent": "inner"})
    first = next(a for a in records if a.name == "first")
    assert first.urn.endswith(
        "::test:index:Outer$test:index:Inner$pulumi-python:dynamic/test:Thing::first"
    )

    moved = preview(_config(first_opts={"parent": "outer"}), previous=records, project=project)
    assert sorted((s.op, s.name) for s in moved.changes) == [
        ("create", "first"), ("delete", "first")
    ]  # fmt: skip

    aliased = {"first_opts": {"parent": "outer", "alias_parents": ["inner"]}}
    assert preview(_config(**aliased), previous=records, project=project).changes == []
    records = _deploy(project, records, **aliased)
    assert ["delete", "first"] not in _ledger(project)
    assert [a.urn.rsplit("::", 2)[-2:] for a in records if a.name == "first"] == [
        ["test:index:Outer$pulumi-python:dynamic/test:Thing", "first"]
    ]
    assert preview(_config(**aliased), previous=records, project=project).changes == []


def test_a_child_inherits_the_aliases_of_its_renamed_parent(project: Path) -> None:
    """A component whose type changes, with an alias of its old type, keeps its children too:
    the engine gives each child an alias under each of its parent's old URNs."""
    records = _deploy(project, first_opts={"parent": "inner"})
    retyped = {"first_opts": {"parent": "inner"}, "inner_type": "test:index:Middle"}
    plan = preview(_config(**retyped), previous=records, project=project)
    assert sorted((s.op, s.name) for s in plan.changes) == [
        ("create", "first"), ("delete", "first")
    ]  # fmt: skip
    aliased = {**retyped, "inner_aliases": ["test:index:Inner"]}
    assert preview(_config(**aliased), previous=records, project=project).changes == []


def test_records_written_before_urns_are_taken_over_by_type_and_name(project: Path) -> None:
    """Records of an older applier (keyed by type and name) continue under their URNs: nothing
    is created or deleted, and the next save records the URNs."""
    records = _deploy(project, first_opts={"parent": "inner"})
    older = [replace(a, urn="") for a in records]
    assert preview(_config(first_opts={"parent": "inner"}), previous=older,
                   project=project).changes == []  # fmt: skip
    again = _deploy(project, older, first_opts={"parent": "inner"})
    assert [a.urn for a in again] == [a.urn for a in records]
    assert [event[0] for event in _ledger(project)] == ["create"]


def test_importing_a_dynamic_resource_fails_as_under_the_engine(project: Path) -> None:
    # the engine's import Read carries no __provider, so the dynamic host cannot answer it
    # (pulumi/pulumi#16175): `pulumi up` fails the same way, before anything is applied
    with pytest.raises(DeployError, match=r"Thing first \(preview\): .*__provider"):
        _deploy(project, first_opts={"import_": "first"})
    assert _ledger(project) == []


def test_an_unchanged_update_runs_the_program_once_and_applies_nothing(project: Path) -> None:
    """The update runs the program twice (a preview that records the dependencies, then the
    apply pass in their order) unless the preview finds nothing to change, in the resources
    or in their records: then its outputs are the update's, as the engine's same steps are."""
    records = _deploy(project, second=True)
    runs, ledger = _runs(project), _ledger(project)
    again = deploy(_config(second=True), project=project, previous=records, seed=1)
    assert (_runs(project), _ledger(project)) == (runs + 1, ledger)  # the preview alone
    assert [action for action, _ in again.mocks.actions] == ["unchanged", "unchanged"]
    assert again.mocks.records() == records and again.outputs == {"made": "made-first"}
    # a change of the records only (protect) is an update: both passes, the record changed
    protected = deploy(_config(second=True, first_opts={"protect": True}), project=project,
                       previous=records, seed=1)  # fmt: skip
    assert _runs(project) == runs + 3 and _ledger(project) == ledger
    assert next(a for a in protected.mocks.records() if a.name == "first").protect
