"""Shared fixtures: the two real test models, fetched once into the cache dir.

``scripts/test`` fetches them before pytest starts; the fixtures fetch on demand too, so a single
test file can be run on its own.
"""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path

import pytest


class _NoLlamaInThisProcess(importlib.abc.MetaPathFinder):
    """llama.cpp is native code: one crash would kill pytest before its summary. Every test that
    runs it does so in a child process (the product's runners, or
    ``sizeup.llamacpp.child.call_in_child`` with an oracle from ``sizeup.testing.llama_views``);
    importing it here is a bug, and this makes it a clear one."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "llama_cpp" or fullname.startswith("llama_cpp."):
            raise ImportError("llama_cpp must not be imported in the pytest process: run llama.cpp in a child "
                              "process (sizeup.llamacpp.child.call_in_child)")
        return None


sys.meta_path.insert(0, _NoLlamaInThisProcess())

# Tests never reach the real Hub (tests that speak the Hub's protocol start their own server on
# 127.0.0.1 and unset this), and a user catalog left by `sizeup catalog update` on a developer's
# machine must not change what the built-in catalog tests see.
import os  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never read or write the developer's own benchmark history: a machine with a history has
# speed calibrations a fresh CI machine lacks, and `sizeup bench` runs in tests would add to it.
# Tests that need a history make their own (SIZEUP_HISTORY_DB per test).
import tempfile  # noqa: E402

os.environ["SIZEUP_HISTORY_DB"] = str(Path(tempfile.mkdtemp(prefix="sizeup-test-history-")) / "history.db")
os.environ["SIZEUP_USER_CATALOG"] = str(Path(__file__).parent / "data" / "no-user-catalog.json")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from sizeup.testmodels import fetch

    return fetch("smollm2")


@pytest.fixture(scope="session")
def gemma3_path() -> Path:
    from sizeup.testmodels import fetch

    return fetch("gemma3")
