"""Building one component on its own under the mocks (not through the whole Platform)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from supastack.config.manifest import AppManifest
from supastack.local.system import free_port


def build(make: Callable[[], pulumi.Resource]) -> None:
    """Construct a component inside a Pulumi program and wait for every registration."""

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return make().urn

    program()


def manifest(app: str = "shop", **keys: Any) -> AppManifest:
    return AppManifest.model_validate({"app": app, "source": f"apps/{app}.yaml", **keys})


#: A database nothing listens on (components that look at the database at preview go on
#: without it: the lint then covers every file).
NOWHERE = f"host=127.0.0.1 port={free_port()} dbname=x user=x password=x connect_timeout=1"


def secret(value: str = NOWHERE) -> pulumi.Output[str]:
    """A secret input (by default a connection string; tokens are opaque to the components)."""
    return pulumi.Output.secret(value)
