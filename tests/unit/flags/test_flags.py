"""Flags as code without a database: what manifests and stack files may say, what the program
declares (and what waits for it), the rollout's parsing and plan, and the stack-file edit."""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from supastack.config import settings
from supastack.config.manifest import load_app
from supastack.errors import SupastackError
from supastack.flags.records import Gate, RolloutRecord
from supastack.flags.rollout import (
    RolloutPlan,
    check_gates,
    choose_plan,
    parse_hold,
    parse_steps,
)
from supastack.flags.stack_file import set_rollout
from supastack.local.paths import PROJECT_DIR
from tests.unit.conftest import RecordingMocks, deploy_platform, make_project, one

FLAGS = "flags: [{name: new_checkout, description: the new checkout page}]\n"
HELLO = (
    'import { json, serve } from "../../_shared/mod.ts";\n'
    "serve(import.meta.url, {}, () => json(200, {}));\n"
)


def _project(tmp_path: Path, manifest: str = FLAGS) -> Path:
    root = make_project(tmp_path, manifest, {"1_items.sql": "select 1;\n"})
    shutil.copytree(PROJECT_DIR / "functions" / "_shared", root / "functions" / "_shared")
    (root / "functions" / "shop" / "hello").mkdir(parents=True)
    (root / "functions" / "shop" / "hello" / "index.ts").write_text(HELLO)
    return root


def test_the_program_writes_each_flag_as_the_stack_sets_it_before_the_functions(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = _project(tmp_path, FLAGS + "functions: {hello: {}}\n")
    deploy_platform(
        root, flags={"new_checkout": {"enabled": True, "percentage": 12.5, "allow": ["u1"]}}
    )
    flag = one(pulumi_mocks, "pulumi-python:dynamic/flags:FeatureFlag", "new_checkout")
    assert {k: flag.inputs[k] for k in ("name", "app", "enabled", "percentage", "allow")} == {
        "name": "new_checkout", "app": "shop", "enabled": True, "percentage": 12.5,
        "allow": ["u1"],
    }  # fmt: skip
    assert "conninfo" in flag.secret_inputs
    hello = one(pulumi_mocks, "pulumi-python:dynamic/functions:EdgeFunction", "fn-hello")
    assert flag.urn in hello.dependencies  # a function never runs before its flags exist
    app = one(pulumi_mocks, "supastack:app:App", "supastack-shop")
    flags_table = one(pulumi_mocks, "pulumi-python:dynamic/migrations:Migration", "20260103000000")
    assert flags_table.urn in app.dependencies  # the flags' table exists before the app's flags


def test_a_flag_the_stack_does_not_set_is_off(pulumi_mocks: RecordingMocks, tmp_path: Path) -> None:
    deploy_platform(_project(tmp_path))
    flag = one(pulumi_mocks, "pulumi-python:dynamic/flags:FeatureFlag", "new_checkout")
    assert (flag.inputs["enabled"], flag.inputs["percentage"], flag.inputs["allow"]) == (
        False, 0.0, [],
    )  # fmt: skip


def test_a_stack_setting_an_undeclared_flag_is_refused(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    with pytest.raises(
        SupastackError,
        match=r"Pulumi.test.yaml: supastack:flags.new_chekout: no app of this stack declares a "
        r"flag 'new_chekout' \(declared: new_checkout\)",
    ):
        deploy_platform(_project(tmp_path), flags={"new_chekout": {"enabled": True}})
    assert pulumi_mocks.resources == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": {"percentage": 101}}, r"flags.x.percentage: Input should be less than or equal"),
        ({"x": {"percentage": 12.345}}, r"supastack:flags.x.percentage: .*more than two decimals"),
        ({"x": {"enabled": "yes please"}}, r"flags.x.enabled: Input should be a valid bool"),
        ({"x": {"allow": [""]}}, r"supastack:flags.x.allow.0: .*not a subject"),
        ({"Bad-Name": {}}, r"supastack:flags.Bad-Name.\[key\]: 'Bad-Name' is not a flag name"),
        ({"x": {"percent": 5}}, r"supastack:flags.x.percent: is not a known key"),
    ],
)  # fmt: skip
def test_bad_flag_settings_name_the_stack_file_and_key(value: object, message: str) -> None:
    with pytest.raises(SupastackError, match=rf"Pulumi.test.yaml: .*{message}"):
        settings.parse("test", {"supastack:target": "local", "supastack:flags": value},
                       "Pulumi.test.yaml")  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([{"name": "a", "description": "x"}, {"name": "a", "description": "y"}],
         r"flags: 'a' is listed twice"),
        ([{"name": "a"}], r"flags.0.description: is required"),
        ([{"name": "a", "description": ""}], r"flags.0.description: String should have at least 1"),
        ([{"name": "A b", "description": "x"}], r"flags.0.name: 'A b' is not a flag name"),
    ],
)  # fmt: skip
def test_bad_flag_declarations_are_refused(flags: object, message: str, tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "shop.yaml").write_text(yaml.safe_dump({"flags": flags}))
    with pytest.raises(SupastackError, match=rf"apps/shop.yaml: {message}"):
        load_app(tmp_path, "shop")


def test_two_apps_declaring_one_flag_are_refused(
    pulumi_mocks: RecordingMocks, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    (root / "apps" / "report.yaml").write_text(FLAGS)
    with pytest.raises(SupastackError, match=r"flags: 'new_checkout' is also declared by"):
        deploy_platform(root, apps=["report", "shop"])


def test_steps_and_holds_are_parsed_strictly() -> None:
    assert parse_steps("5, 25,50,100") == tuple(Decimal(v).quantize(Decimal("0.01"))
                                                for v in (5, 25, 50, 100))  # fmt: skip
    assert parse_steps("0.5,1") == (Decimal("0.50"), Decimal("1.00"))
    assert parse_hold("1h30m") == timedelta(minutes=90)
    assert parse_hold("45s") == timedelta(seconds=45)
    for bad, message in [
        ("5,5,10", "each step must be above the one before"),
        ("0,10", "not a percentage above 0"),
        ("10,101", "not a percentage above 0 and at most 100"),
        ("10,x", "'x' is not a number"),
        ("1.234", "two decimals at most"),
    ]:
        with pytest.raises(SupastackError, match=rf"--steps '{bad}': .*{message}"):
            parse_steps(bad)
    for bad in ("15", "0s", "fifteen minutes", ""):
        with pytest.raises(SupastackError, match="--hold"):
            parse_hold(bad)


def test_gates_must_exist_and_be_quiet_before_a_rollout_starts() -> None:
    plan = RolloutPlan("prod", "f", (Decimal(5),), timedelta(minutes=15), ("errors", "latency"))
    ok = Gate("errors", "ok", 0.0, ">", 0.05)
    with pytest.raises(SupastackError, match=r"--gate latency: no alert rule of that name on "
                                             r"stack prod \(rules: errors, other\)"):  # fmt: skip
        check_gates(plan, [ok], ["errors", "other"])
    firing = Gate("latency", "firing", 900.0, ">", 500)
    with pytest.raises(SupastackError, match=r"gate latency \(firing: 900 > 500\) is firing"):
        check_gates(plan, [ok, firing], ["errors", "latency"])
    check_gates(plan, [ok, Gate("latency", "pending", 600.0, ">", 500)], ["errors", "latency"])


def test_the_dry_run_plan_says_every_step_and_gate() -> None:
    plan = RolloutPlan(
        "prod", "f", parse_steps("5,25,50,100"), timedelta(minutes=15), ("errors", "gone")
    )
    lines = plan.describe(Decimal(0), [Gate("errors", "ok", None, ">", 0.05)])
    assert lines[1] == "  step 1: rollout f: step 1/4, 5 % (a stack update), then hold 0:15:00"
    assert lines[4].startswith("  step 4: rollout f: step 4/4, 100 %")
    assert "    errors (ok: no value yet > 0.05)" in lines
    assert "    gone (NOT FOUND: no such alert rule)" in lines


def test_a_rollout_step_edits_the_stack_file_keeping_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text((PROJECT_DIR / "Pulumi.local.yaml").read_text())
    set_rollout(path, "new_checkout", Decimal(25))
    set_rollout(path, "new_checkout", Decimal("37.50"))
    text = path.read_text()
    assert "# Where the stack deploys: local | supabase." in text  # comments kept
    config = yaml.safe_load(text)["config"]
    assert config["supastack:flags"] == {  # the flags the stack file had stay as they were
        "billing_subscription_cache": {"enabled": True, "percentage": 100},
        "pattern_1_personalized_defaults": {"enabled": True, "percentage": 100},
        "new_checkout": {"enabled": True, "percentage": 37.5},
    }
    assert settings.parse("local", config, path.name).flags["new_checkout"].percentage == Decimal(
        "37.5"
    )


def test_resuming_takes_the_interrupted_rollouts_own_plan() -> None:
    steps = parse_steps("5,25,100")
    record = RolloutRecord(7, "f", steps, timedelta(minutes=15), ("errors",), Decimal(0), 1, 1)

    def choose(interrupted: RolloutRecord | None, resume: bool, steps: str | None) -> RolloutPlan:
        return choose_plan("prod", "f", interrupted, resume=resume, steps=steps, hold="1h",
                           gates=["latency"], poll="15s")  # fmt: skip

    plan = choose(record, True, None)
    assert (plan.steps, plan.hold, plan.gates) == (steps, timedelta(minutes=15), ("errors",))
    for interrupted, resume, given, message in [
        (None, True, "5,25", "flag 'f' has no interrupted rollout to resume"),
        (record, False, "5,25", "rollout #7 of flag 'f' was interrupted at step 2 of 3; go on "
                                "with --resume"),
        (record, True, "5,50", r"--steps 5,50: rollout #7 resumes with its own steps "
                               r"\(5,25,100\)"),
        (None, False, None, "--steps is required"),
    ]:  # fmt: skip
        with pytest.raises(SupastackError, match=message):
            choose(interrupted, resume, given)
