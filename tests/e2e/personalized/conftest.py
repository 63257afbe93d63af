"""One deployment of the personalized-defaults app for the whole package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from applier.engine import deploy
from tests.conftest import Services
from tests.e2e.conftest import package_target
from tests.e2e.personalized.deployed import (
    Stack,
    config_with_flag,
)

fresh = package_target()


@pytest.fixture(scope="package")
def stack(fresh: Services) -> Iterator[Stack]:
    yield Stack(fresh, deploy(config_with_flag(fresh)))
