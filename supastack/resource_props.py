"""What the typed properties of supastack's dynamic resources share: the contract between the
program, which declares them, and the providers, which act on them. Each provider module
(``components/providers/``) owns its ``XProps``, a subclass of :class:`ResourceProps`.

The program builds a resource's props from the domain objects in one place, the class's own
constructor (``CronJobProps.for_job``, ...), typed, where a value the engine resolves later (a
``pulumi.Output``: a connection string, a token) is a :data:`Deferred`. Pulumi hands the provider
plain dicts (the inputs, or the outputs: the inputs plus what the provider added); it validates
them into the same class once, at the boundary (:meth:`ResourceProps.of`), and works with typed
values from then on. A class's fields are the resource's inputs, which its diff compares (except
those in ``not_diffed``). Secret properties (connection strings, tokens, values) are declared
once, with :func:`secret`, and never show in a repr.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar, Protocol, Self, TypeAlias, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from supastack.platform.management_api import ManagementApi

T = TypeVar("T")


class Resolvable(Protocol):
    """A value the engine resolves while it deploys (a ``pulumi.Output``; the core stays
    Pulumi-free, so it is named by what it does)."""

    def apply(self, func: Any, run_with_unknowns: bool = ...) -> Any: ...


#: A property the program knows now, or one the engine resolves (a connection string, a token).
Deferred: TypeAlias = T | Awaitable[T] | Resolvable


def secret(default: Any = ...) -> Any:
    """A field that holds a secret, declared once here: kept out of reprs, marked secret in the
    state by its resource (``additional_secret_outputs``), and required to be so by the policy
    pack (``policy.validators``)."""
    return Field(default, repr=False, json_schema_extra={"secret": True})


class ResourceProps(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        """The properties declared with :func:`secret`, as Pulumi spells them."""
        return tuple(sorted(
            field.alias or name for name, field in cls.model_fields.items()
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
        ))  # fmt: skip

    #: Inputs a change of which is no change to deploy (e.g. files a content hash covers).
    not_diffed: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def declared(cls, **values: Any) -> Self:
        """The props as the program declares them, values it knows and values the engine
        resolves side by side; only the constructors of each class call it (they are typed)."""
        return cast(Self, cls.model_construct(**values))

    def inputs(self) -> dict[str, Any]:
        """The resource's inputs as Pulumi spells them: the declared properties, and only those
        (a property left out is not sent, as before props were typed)."""
        fields = type(self).model_fields
        return {
            fields[name].alias or name: _input(getattr(self, name))
            for name in fields if name in self.model_fields_set
        }  # fmt: skip

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Self:
        """The typed properties in ``raw`` (what Pulumi hands a provider)."""
        return cls.model_validate(dict(raw))

    @classmethod
    def diffed(cls) -> tuple[str, ...]:
        """The input names (as Pulumi spells them) whose change is a change to deploy."""
        names = (field.alias or name for name, field in cls.model_fields.items())
        return tuple(n for n in names if n not in cls.not_diffed)


class ApiRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    url: str
    project_ref: str


def _input(value: Any) -> Any:
    return value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value


class OnDatabase(ResourceProps):
    conninfo: str = secret()


class OnManagementApi(ResourceProps):
    api: ApiRef
    token: str = secret()

    def client(self) -> ManagementApi:
        return ManagementApi(self.api.url, self.token, self.api.project_ref)
