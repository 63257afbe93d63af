"""`supastack local up` installs what is missing with apt-get: another process holding apt's
lock (unattended-upgrades, a second install) is waited for, not an immediate failure."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from pathlib import Path

import pytest

from supastack.local import system
from tests.conftest import wait_until

FRONTEND_LOCK = Path("/var/lib/dpkg/lock-frontend")


@pytest.mark.skipif(os.geteuid() != 0, reason="holding dpkg's lock needs root (CI runs as root)")
def test_an_install_waits_for_the_apt_lock_and_then_goes_on() -> None:
    lines: list[str] = []
    failures: list[BaseException] = []

    def install() -> None:
        try:
            system.install_packages(["bash"], report=lines.append)  # installed already: a no-op
        except BaseException as error:
            failures.append(error)

    with FRONTEND_LOCK.open("w") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)  # as dpkg does
        worker = threading.Thread(target=install)
        worker.start()
        wait_until(
            lambda: subprocess.run(
                ["pgrep", "-f", "apt-get -o DPkg::Lock::Timeout=.* install"],
                capture_output=True, check=False,
            ).returncode == 0,
            timeout=120,
        )  # fmt: skip
        fcntl.lockf(held, fcntl.LOCK_UN)
    worker.join(timeout=300)
    assert not worker.is_alive() and failures == []
    assert lines == [
        f"installing bash with apt-get (waiting up to {system.APT_LOCK_WAIT_S} s if another "
        "process holds apt's lock)"
    ]
