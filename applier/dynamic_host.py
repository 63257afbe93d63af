"""The Pulumi SDK's dynamic-provider host, driven as the engine drives it.

The engine serves every ``pulumi-python:dynamic`` resource through the plugin
``pulumi-resource-pulumi-python``, which starts ``python -u -m pulumi.dynamic`` in the program's
directory; the host prints its gRPC port and the engine speaks the ``ResourceProvider`` protocol
to it. :class:`DynamicHost` does the same: one host process per run, ``Configure`` first (the host
answers ``acceptSecrets: false``, so secret inputs go as plain values and the applier keeps their
secretness), properties as protobuf ``Struct``s with the pickled provider as ``__provider``
(unpickled by the host, never here), and the unknown sentinel where a value is not known yet.
What the host refuses (an output that cannot be serialized, a provider that raises) comes back
as the gRPC error the engine would show, raised here as :class:`ProviderError`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import proto, rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS

from applier import host_process
from applier.records import Applied

PROVIDER_KEY = "__provider"
UNKNOWN = rpc.UNKNOWN

Properties = dict[str, Any]


class ProviderError(RuntimeError):
    """A request the dynamic host failed: the provider raised, or its answer could not be
    serialized. The message is the exception the host reported."""


@dataclass(frozen=True)
class Checked:
    inputs: Properties
    failures: tuple[tuple[str, str], ...]
    """(property, reason) for each input the provider refused."""


@dataclass(frozen=True)
class Diffed:
    changes: bool | None
    """True, False, or None when the provider cannot tell yet (unknown inputs)."""
    replaces: tuple[str, ...]
    delete_before_replace: bool


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """``props`` as the engine puts them on the wire: unknowns as the sentinel; a value that is
    not a JSON-like value fails here, naming its property."""
    message = struct_pb2.Struct()
    for key, value in props.items():
        try:
            message.update({key: _wire(value)})
        except (ValueError, TypeError) as error:
            raise ProviderError(
                f"property {key!r} cannot be serialized ({type(value).__name__}): {error}"
            ) from error
    return message


def _wire(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def from_struct(message: struct_pb2.Struct, *, keep_unknowns: bool = False) -> Properties:
    """A ``Struct`` the host answered, as Python values, without ``__provider``."""
    props = rpc.deserialize_properties(message, keep_unknowns)
    props.pop(PROVIDER_KEY, None)
    return dict(props)


_FRAME = re.compile(r'^  File ".*", line \d+, in .*\n(?:    .*\n)*', re.MULTILINE)
_EXCEPTION_TYPE = re.compile(r"^[\w.]+(?:Error|Exception|Failure|Exit|Interrupt)?: ", re.ASCII)


def exception_of(details: str) -> str:
    """The exception a host's traceback ends with, without its type: what the provider
    raised, as the applier reported it when it called providers in-process."""
    frames = list(_FRAME.finditer(details))
    text = details[frames[-1].end() :] if frames else details
    return _EXCEPTION_TYPE.sub("", text.strip(), count=1)


class DynamicHost:
    """``python -m pulumi.dynamic`` in ``project`` (where the pickled providers' modules import
    from), and a ``ResourceProvider`` client for it."""

    def __init__(self, project: Path, *, stack: str = "local", name: str = "supastack") -> None:
        self._prefix = f"urn:pulumi:{stack}::{name}::"
        self._process = host_process.take(project, name)
        assert self._process.stdout is not None
        port = self._process.stdout.readline().decode().strip()
        if not port.isdigit():
            self.close()
            raise ProviderError(
                f"the dynamic provider host (python -m pulumi.dynamic in {project}) did not print "
                f"its port (exit status {self._process.returncode})"
            )
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_CHANNEL_OPTIONS)
        self._stub = proto.ResourceProviderStub(self._channel)
        configured = self._call(
            "Configure",
            proto.ConfigureRequest(args=struct_pb2.Struct(), acceptSecrets=True,
                                   acceptResources=True),
        )  # fmt: skip
        self.accepts_secrets = bool(configured.acceptSecrets)
        """What the host answered ``Configure`` (``False`` for the SDK's host: secret inputs
        go to it as plain values)."""
        self.decided: dict[str, Any] = {}
        """The run's decisions by their known inputs (``applier.steps``): ``Check`` and
        ``Diff`` answer the same for the same properties, so the update does not ask again
        what its preview asked."""

    def urn_of(self, record: Applied) -> str:
        """A record's URN (a parentless one for a record written before URNs were)."""
        return record.urn or f"{self._prefix}{record.typ}::{record.name}"

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request)
        except grpc.RpcError as error:
            details = error.details() or ""
            raise ProviderError(exception_of(details) or str(error)) from None

    def check(self, urn: str, olds: Properties, news: Properties) -> Checked:
        answer = self._call(
            "Check", proto.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        )
        return Checked(
            from_struct(answer.inputs, keep_unknowns=True),
            tuple((f.property, f.reason) for f in answer.failures),
        )

    def diff(self, urn: str, id_: str, olds: Properties, news: Properties) -> Diffed:
        answer = self._call(
            "Diff",
            proto.DiffRequest(urn=urn, id=id_, olds=to_struct(olds), news=to_struct(news)),
        )
        changes = {
            proto.DiffResponse.DIFF_SOME: True, proto.DiffResponse.DIFF_NONE: False,
        }.get(answer.changes)  # fmt: skip
        return Diffed(changes, tuple(answer.replaces), bool(answer.deleteBeforeReplace))

    def create(self, urn: str, news: Properties) -> tuple[str, Properties]:
        answer = self._call("Create", proto.CreateRequest(urn=urn, properties=to_struct(news)))
        return answer.id, from_struct(answer.properties)

    def update(self, urn: str, id_: str, olds: Properties, news: Properties) -> Properties:
        answer = self._call(
            "Update",
            proto.UpdateRequest(urn=urn, id=id_, olds=to_struct(olds), news=to_struct(news)),
        )
        return from_struct(answer.properties)

    def delete(self, urn: str, id_: str, props: Properties) -> None:
        self._call("Delete", proto.DeleteRequest(urn=urn, id=id_, properties=to_struct(props)))

    def read(self, urn: str, id_: str, props: Properties) -> tuple[str, Properties]:
        """``Read`` as ``refresh`` sends it (the state's properties, ``__provider`` included);
        an empty id means the object is gone."""
        answer = self._call("Read", proto.ReadRequest(urn=urn, id=id_, properties=to_struct(props)))
        return answer.id, from_struct(answer.properties)

    def close(self) -> None:
        if getattr(self, "_channel", None) is not None:
            self._channel.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
