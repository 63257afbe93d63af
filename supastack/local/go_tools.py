"""Go programs built from the Go module proxy, pinned in ``tools/go.mod`` (``go.sum`` the lock):
the Pulumi CLI, which the engine contract test runs (``tests/e2e/test_engine_contract.py``), and
Stripe's pg-schema-diff, which ``supastack db drift`` compares schemas with
(``supastack.database.schema_diff``).

Built into ``.supastack/tools/bin`` with the module and build caches in ``.supastack/go``, so a
second build costs seconds; the first downloads about 1.6 GB of modules and compiles for about
four minutes on two cores. Never put on ``PATH`` by this module: which engine deploys a stack
stays the target's decision (``supastack.targets``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from supastack.errors import SupastackError
from supastack.local.paths import PROJECT_DIR, TOOLS_DIR

GO_MODULE = PROJECT_DIR / "tools"
#: The peers the benchmarks compare with, in a module of their own (their dependencies apart).
PEERS_MODULE = GO_MODULE / "peers"
SUPABASE_CLI_MODULE = "github.com/supabase/cli"
GO_DIR = TOOLS_DIR.parent / "go"
BIN_DIR = TOOLS_DIR / "bin"
PULUMI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
SCHEMA_DIFF_MODULE = "github.com/stripe/pg-schema-diff"
#: The dynamic-provider plugin the engine launches for ``pulumi-python:dynamic`` resources: a
#: script of the SDK's distribution (it runs ``python -u -m pulumi.dynamic``), as released.
DYNAMIC_PLUGIN = "pulumi-resource-pulumi-python"


@dataclass(frozen=True)
class PulumiEngine:
    cli: Path
    version: str

    @property
    def bin_dir(self) -> Path:
        """The CLI and the dynamic-provider plugin, for the engine's ``PATH``."""
        return self.cli.parent


def go_env() -> dict[str, str]:
    return {**os.environ, "GOMODCACHE": str(GO_DIR / "mod"), "GOCACHE": str(GO_DIR / "cache"),
            "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "local"}  # fmt: skip


def pinned_version(module: str, where: Path = GO_MODULE) -> str:
    """The version ``where/go.mod`` requires of ``module``."""
    found = re.search(rf"^\s*{re.escape(module)} (v\S+)", (where / "go.mod").read_text(), re.M)
    if found is None:
        raise SupastackError(f"{where / 'go.mod'}: requires no version of {module}")
    return found[1]


def _go(args: list[str], what: str, where: Path = GO_MODULE) -> str:
    go = shutil.which("go")
    if go is None:
        raise SupastackError(f"{what}: the go command is missing (Go 1.26 builds tools/go.mod)")
    done = subprocess.run([go, *args], cwd=where, env=go_env(), capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SupastackError(f"{what}: go {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def ensure_pulumi_engine() -> PulumiEngine:
    """The Pulumi CLI at the pinned version and the dynamic-provider plugin beside it, built
    when missing or of another version."""
    version = pinned_version(PULUMI_PACKAGE)
    cli = BIN_DIR / "pulumi"
    if not (cli.exists() and _version_of(cli) == version):
        BIN_DIR.mkdir(parents=True, exist_ok=True)
        flag = f"-X {SDK_MODULE}/go/common/version.Version={version}"
        _go(["build", "-ldflags", flag, "-o", str(cli), f"{PULUMI_PACKAGE}/cmd/pulumi"],
            f"building the Pulumi CLI {version}")  # fmt: skip
    plugin = BIN_DIR / DYNAMIC_PLUGIN
    if not plugin.exists():
        sdk = Path(_go(["list", "-m", "-f", "{{.Dir}}", SDK_MODULE], "finding the Pulumi SDK"))
        shutil.copyfile(sdk / "python" / "dist" / DYNAMIC_PLUGIN, plugin)
        plugin.chmod(0o755)
    return PulumiEngine(cli, version)


def _ensure_built(module: str, package: str, name: str, where: Path = GO_MODULE) -> Path:
    """``package`` of ``module`` at the version ``where/go.mod`` pins, built into the tools'
    bin directory when missing or of another version (a stamp beside the binary says which)."""
    version = pinned_version(module, where)
    binary = BIN_DIR / name
    stamp = binary.with_name(f"{name}.version")
    if not (binary.exists() and stamp.exists() and stamp.read_text() == version):
        BIN_DIR.mkdir(parents=True, exist_ok=True)
        _go(["build", "-o", str(binary), package], f"building {name} {version}", where)
        stamp.write_text(version)
    return binary


def ensure_schema_differ() -> Path:
    """pg-schema-diff at the pinned version."""
    return _ensure_built(
        SCHEMA_DIFF_MODULE, f"{SCHEMA_DIFF_MODULE}/cmd/pg-schema-diff", "pg-schema-diff"
    )


def ensure_supabase_cli() -> Path:
    """The Supabase CLI at the version ``tools/peers/go.mod`` pins (a peer for the benchmarks;
    the first build downloads its modules and compiles for about six minutes on two cores)."""
    return _ensure_built(SUPABASE_CLI_MODULE, SUPABASE_CLI_MODULE, "supabase", PEERS_MODULE)


def _version_of(cli: Path) -> str | None:
    done = subprocess.run([cli, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None
