"""Shared fixtures: the two real test models, fetched once into the cache dir.

``scripts/test`` fetches them before pytest starts; the fixtures fetch on demand too, so a single
test file can be run on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from sizeup.testmodels import fetch

    return fetch("smollm2")


@pytest.fixture(scope="session")
def gemma3_path() -> Path:
    from sizeup.testmodels import fetch

    return fetch("gemma3")
