"""``sizeup try`` on remote references: download after confirmation, with a free-disk check first.

A real HTTP server on 127.0.0.1 (tests/hub_server.py) speaks the Hub's endpoints and the Ollama
registry's, serving the real SmolLM2-135M test model. Checked: the downloaded bytes are the
served file (size and the Hub's ``lfs.sha256`` / the Ollama digest), a second call reuses the
verified copy without a single request, the token goes only to the Hub's host (not its CDN),
scripts without ``--yes`` and without a terminal get one line, a short disk is refused before a
byte of the file moves, hostile servers end in one line within the deadline and leave nothing
behind, and ``sizeup try org/repo:Q4_1 --yes`` runs the downloaded model end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_server import HubServer, Repo
from sizeup.errors import SizeupError
from sizeup.sources import meta_cache

SRC = str(Path(__file__).resolve().parents[1] / "src")
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SPEC = "org/SmolLM2-GGUF:Q4_1"


def _sha(path: Path) -> str:
    return path.with_name(path.name + ".sha256").read_text().split()[0]


@pytest.fixture
def hub(tmp_path, monkeypatch, smollm2_path):
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                "SIZEUP_MIN_FREE_BYTES", "SIZEUP_DOWNLOAD_DEADLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("SIZEUP_CACHE_DIR", str(tmp_path / "sizeup-cache"))
    monkeypatch.setenv("SIZEUP_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    monkeypatch.setenv("LMSTUDIO_MODELS", str(tmp_path / "lmstudio"))
    meta_cache.set_offline(False)
    with HubServer() as server:
        server.state.repos["org/SmolLM2-GGUF"] = Repo({NAME: smollm2_path, "README.md": b"# test\n"})
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("SIZEUP_OLLAMA_REGISTRY", server.url)
        yield server
    meta_cache.set_offline(False)
    hf_home = tmp_path / "hf-home"
    assert not hf_home.exists() or not any(p.is_file() for p in hf_home.rglob("*"))  # never the HF cache


def _plan(spec: str = SPEC):
    from sizeup.sources import download as dl
    from sizeup.sources.dispatch import describe
    from sizeup.sources.hub import endpoint_host
    from sizeup.sources.refs import parse_ref

    return dl.plan(parse_ref(spec, endpoint_host()), describe(spec, allow_catalog=False))


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_download_is_verified_and_the_copy_reused_without_a_request(hub, tmp_path, smollm2_path, monkeypatch):
    from sizeup.experiment import candidates as cmod
    from sizeup.sources import download as dl

    monkeypatch.setenv("HF_TOKEN", "hf_secret_test_token")
    p = _plan()
    size = smollm2_path.stat().st_size
    assert not p.cached and p.total == size and len(p.files) == 1
    assert p.files[0].sha256 == _sha(smollm2_path)  # from the model info's lfs.sha256
    assert p.dest_dir.is_relative_to(tmp_path / "models")
    seen: list[tuple[int, int]] = []
    path = dl.download(p, lambda d, t: seen.append((d, t)))
    assert path.stat().st_size == size and path.name == NAME
    assert seen[0] == (0, size) and seen[-1] == (size, size) and all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    stamp = json.loads(path.with_name(path.name + dl.STAMP).read_text())
    assert stamp["sha256"] == _sha(smollm2_path) and stamp["sha256_checked"] is True
    assert sorted(q.name for q in _leftovers(tmp_path / "models")) == sorted([NAME, NAME + dl.STAMP])  # no .part
    # the token went to the Hub's host, never to the CDN host a large file redirects to
    assert hub.state.auth_seen and all(h.startswith("127.0.0.1") for h, _ in hub.state.auth_seen)
    assert any(path_.startswith("/cdn/") for _m, path_, _r in hub.state.requests)

    hub.state.reset()
    again = _plan()
    assert again.cached and again.path == path
    c = cmod.resolve(SPEC, remote=cmod.RemotePolicy(yes=False, ask=None))  # nothing to ask: it is here
    assert c.path == str(path) and c.source == "remote" and c.model.quant.label == "Q4_1"
    assert c.model.extra["downloaded"]["cached"] is True
    assert hub.state.requests == []  # the second time: not a single request


def test_ollama_registry_blob_is_checked_against_its_digest(hub, tmp_path, smollm2_path):
    from sizeup.experiment import candidates as cmod

    hub.state.ollama["library/smol:latest"] = ("sha256:" + _sha(smollm2_path), smollm2_path)
    notes: list[str] = []
    c = cmod.resolve("smol:latest", remote=cmod.RemotePolicy(yes=True, note=notes.append))
    assert Path(c.path).stat().st_size == smollm2_path.stat().st_size
    assert c.model.extra["downloaded"]["sha256"] == _sha(smollm2_path)
    assert notes and "1 file(s) to download" in notes[0] and "free there" in notes[0]


def test_asks_and_refuses(hub, tmp_path, smollm2_path):
    from sizeup.experiment import candidates as cmod

    with pytest.raises(SizeupError, match="pass --yes") as e:
        cmod.resolve(SPEC, remote=cmod.RemotePolicy(yes=False, ask=None))
    assert "\n" not in str(e.value) and "MiB" in str(e.value)
    questions: list[str] = []
    with pytest.raises(SizeupError, match="declined"):
        cmod.resolve(SPEC, remote=cmod.RemotePolicy(ask=lambda q: questions.append(q) or False))
    assert questions and questions[0].startswith("Download ") and questions[0].endswith("[y/N] ")
    assert not _leftovers(tmp_path / "models")
    assert hub.state.total_bytes(NAME) < smollm2_path.stat().st_size // 10  # only the header was read


def test_short_disk_is_refused_before_the_download(hub, tmp_path, monkeypatch, smollm2_path):
    from sizeup.experiment import candidates as cmod

    (tmp_path / "models").mkdir()
    free = shutil.disk_usage(tmp_path / "models").free
    # demand, as the reserve to keep free, a little more than the file system has left
    monkeypatch.setenv("SIZEUP_MIN_FREE_BYTES", str(free))
    with pytest.raises(SizeupError, match="not enough free disk") as e:
        cmod.resolve(SPEC, remote=cmod.RemotePolicy(yes=True))
    assert "\n" not in str(e.value)
    assert not _leftovers(tmp_path / "models")
    assert hub.state.total_bytes(NAME) < smollm2_path.stat().st_size // 10


@pytest.mark.parametrize("mode", ["endless", "lie-length", "drip", "stall", "swapped"])
def test_hostile_servers_end_in_one_line_within_the_deadline(hub, tmp_path, monkeypatch, mode):
    from sizeup.sources import download as dl

    p = _plan()
    monkeypatch.setenv("SIZEUP_DOWNLOAD_DEADLINE", "2")
    monkeypatch.setenv("SIZEUP_REMOTE_TIMEOUT", "1")
    if mode == "swapped":  # same size, other bytes than the listing's sha256
        hub.state.repos["org/SmolLM2-GGUF"].files[NAME] = bytes(p.total)
    else:
        hub.state.mode = mode
    t0 = time.monotonic()
    with pytest.raises(SizeupError) as e:
        dl.download(p)
    took = time.monotonic() - t0
    msg = str(e.value)
    assert "\n" not in msg and took < 8, (msg, took)
    expect = {"endless": ("more than",), "lie-length": ("Content-Length",), "drip": ("deadline", "timed out"),
              "stall": ("timed out",), "swapped": ("sha256",)}[mode]
    assert any(w in msg for w in expect), msg
    assert not _leftovers(tmp_path / "models")  # the temp file is gone, nothing in place


def _cli(args: list[str], hub, tmp_path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(PYTHONPATH=SRC, SIZEUP_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "sizeup.cli.main", "try", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def test_cli_without_yes_and_without_a_terminal_refuses(hub, tmp_path):
    r = _cli([SPEC, "--corpus", "prose", "--no-save"], hub, tmp_path)
    lines = r.stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("sizeup:")]
    assert r.returncode == 2 and len(errors) == 1 and "pass --yes" in lines[-1] and "Traceback" not in r.stderr, r.stderr
    assert not _leftovers(tmp_path / "models")


def test_cli_try_remote_with_yes_end_to_end(hub, tmp_path, smollm2_path):
    r = _cli([SPEC, "--yes", "--corpus", "prose", "--budget", "8K", "--chunks", "2", "--span-bytes", "96",
              "--context-bytes", "96", "--tasks", "none", "--ctx", "512", "-t", "1", "-p", "16", "-n", "4", "-r", "1",
              "--no-save", "--no-chart", "--json"], hub, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    (c,) = doc["candidates"]
    assert c["status"] == "ok" and c["label"] == SPEC and c["model"]["source"] == "remote"
    assert Path(c["model"]["path"]).is_relative_to(tmp_path / "models")
    assert 0.05 < c["quality"]["bpb"] < 8 and c["measured"]["tg_tps"] > 0
    assert "downloading " + SPEC in r.stderr and "to download" in r.stderr
    assert _sha(smollm2_path) in Path(c["model"]["path"] + ".sizeup.json").read_text()
