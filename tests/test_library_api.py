"""The library API as the README documents it: every exported name works on every call, in any
import order, and the README's snippet runs verbatim (twice, in a fresh interpreter)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _library_snippet() -> str:
    text = README.read_text()
    section = text[text.index("## Library"):]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README's Library section has no python block"
    return m.group(1)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_readme_snippet_runs_verbatim_twice(smollm2_path):
    snippet = _library_snippet()
    assert Path(smollm2_path).name in snippet  # the snippet names the test model, so it runs where the model is
    r = _run(snippet + "\n" + snippet, Path(smollm2_path).parent)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0] == lines[2] and lines[1] == lines[3]
    n_layer, n_params, label = lines[0].split()
    assert int(n_layer) == 30 and 130e6 < int(n_params) < 140e6 and label == "Q4_1"


@pytest.mark.parametrize("first", ["import sizeup.sources.dispatch", "import sizeup.sources.local_scan",
                                   "from sizeup import scan", "from sizeup.sources.local_scan import scan",
                                   "import sizeup.sources", "import sizeup.cli.main", "pass"])
def test_exports_survive_any_import_order(first, smollm2_path):
    code = f"""
{first}
import sizeup
for name in sizeup.__all__:
    getattr(sizeup, name)
m1 = sizeup.describe({str(smollm2_path)!r})
m2 = sizeup.describe({str(smollm2_path)!r})
assert m1.arch.n_layer == m2.arch.n_layer == 30
assert callable(sizeup.describe) and callable(sizeup.scan) and callable(sizeup.probe_hardware)
print("ok")
"""
    r = _run(code, Path.cwd())
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_help_shows_the_api():
    r = _run("import sizeup; help(sizeup)", Path.cwd())
    assert r.returncode == 0
    for name in ("describe", "probe_hardware", "scan", "ModelDescription", "estimate_memory", "RunConfig"):
        assert name in r.stdout, name
