"""sizeup context: token counts of real files with the model's real tokenizer (llama.cpp vocab-only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sizeup.context_size import LlamaTokenizer, collect_files, count_tokens
from sizeup.data.token_ratios import bytes_per_token


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sizeup", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    (root / "README.md").write_text("# Project\n\nThis explains the project in plain English.\n")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02" * 1000)
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1;\n" * 1000)
    return root


def test_exact_count_equals_llama_tokenizer(project, smollm2_path):
    from sizeup.llamacpp.child import call_in_child

    tok = LlamaTokenizer(smollm2_path)
    report = count_tokens([project], tokenize=tok)
    names = sorted(Path(f.path).name for f in report.files)
    assert names == ["README.md", "a.py"]  # binary and node_modules skipped
    assert report.skipped.get("binary") == 1
    texts = [p.read_text() for p in (project / "pkg" / "a.py", project / "README.md")]
    expected = sum(call_in_child("sizeup.testing.llama_views:token_counts", {"path": str(smollm2_path), "texts": texts}))
    assert report.n_tokens == expected
    assert report.n_lines == 40 + 3


def test_gitignore_respected(project):
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("pkg/\n")
    files = {p.name for p in collect_files([project], {})}
    assert "a.py" not in files and "README.md" in files and ".gitignore" in files


def test_approximate_count_uses_measured_ratio(project):
    report = count_tokens([project / "pkg" / "a.py"], tokenizer_family="bpe")
    size = (project / "pkg" / "a.py").stat().st_size
    assert report.n_tokens == round(size / bytes_per_token("bpe", "code"))
    assert "approximate" in report.method


def test_cli_json_fits_and_kv(project, smollm2_path):
    r = _cli("context", str(project), "--model", str(smollm2_path), "--system-tokens", "100", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["method"].startswith("exact")
    assert d["total_tokens"] == d["tokens"] + 100
    assert d["fits"] is True and d["context_window"] == 8192
    # SmolLM2: 30 layers x 3 KV heads x 64 dims x (K+V) x 2 bytes per token at f16 = 23,040 B/token;
    # llama.cpp pads the cache to a multiple of 256 cells.
    cells = -(-d["total_tokens"] // 256) * 256
    assert d["kv_cache_bytes"]["f16"] == 30 * 3 * 64 * 2 * 2 * cells
    assert d["kv_cache_bytes"]["q8_0"] < d["kv_cache_bytes"]["f16"]


def test_cli_does_not_fit_with_small_ctx(project, smollm2_path):
    r = _cli("context", str(project), "--model", str(smollm2_path), "--ctx", "256", "--json")
    d = json.loads(r.stdout)
    assert d["fits"] is False and d["context_used"] > 1


def test_cli_bad_input_one_line(tmp_path, smollm2_path):
    r = _cli("context", str(tmp_path / "missing"), "--model", str(smollm2_path))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no such file" in r.stderr
    r = _cli("context", str(tmp_path), "--model", "no-such-model-xyz")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
