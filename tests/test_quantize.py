"""``sizeup quantize`` through llama.cpp's real quantizer on the SmolLM2 test model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizeup import quantize as qz
from sizeup.cli.main import main
from sizeup.errors import SizeupError
from sizeup.formats.gguf_model import describe_gguf


@pytest.fixture(scope="module")
def quantized(smollm2_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("quants")
    return out, qz.quantize_many(smollm2_path, ["Q8_0", "Q5_K_M", "Q4_0"], out)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sizeup: error: ")
    return err[0]


def test_outputs_are_valid_ggufs_with_the_requested_label(quantized):
    out, (desc, outs) = quantized
    assert [o.ftype for o in outs] == ["Q8_0", "Q5_K_M", "Q4_0"]
    for o in outs:
        assert o.ok, o.error
        d = describe_gguf(o.path)
        assert d.quant.label == o.ftype
        assert d.arch.n_layer == desc.arch.n_layer and d.params.total == desc.params.total
        assert o.bytes == Path(o.path).stat().st_size
        # the estimator knows llama-quantize's per-tensor type rules: sizes agree within 1%
        assert abs(o.predicted_error) < 0.01, (o.ftype, o.bytes, o.predicted_bytes)
    sizes = {o.ftype: o.bytes for o in outs}
    assert sizes["Q8_0"] > sizes["Q5_K_M"] > sizes["Q4_0"]
    # atomic: nothing but the finished outputs in the directory
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(o.path).name for o in outs)


def test_failed_quantization_leaves_no_file(smollm2_path, tmp_path):
    src = tmp_path / "broken.gguf"
    data = Path(smollm2_path).read_bytes()
    src.write_bytes(data)
    _, plans = qz.plan(src, ["Q4_0"], tmp_path / "out")
    src.write_bytes(data[: len(data) // 3])  # truncated after planning: llama.cpp fails mid-way
    o = qz.quantize_one(src, plans[0])
    assert not o.ok and o.error
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_json_report(smollm2_path, tmp_path, capsys):
    rc = main(["quantize", str(smollm2_path), "--to", "q8_0", "--out", str(tmp_path), "--json"])
    assert rc == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert d["requantized"] is True and d["input_label"] == "Q4_1"
    assert "already quantized" in captured.err  # the requantize warning
    (o,) = d["outputs"]
    assert o["ok"] and o["label"] == "Q8_0" and 8.0 < o["bits_per_weight"] < 9.0
    assert Path(o["path"]).parent == tmp_path


def test_unknown_type_is_one_line(smollm2_path, tmp_path, capsys):
    assert main(["quantize", str(smollm2_path), "--to", "Q4_K_M,Q7_X", "--out", str(tmp_path)]) == 2
    assert "unknown quantization type 'Q7_X'" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_iq_type_without_imatrix_refused_before_starting(smollm2_path, tmp_path, capsys):
    assert main(["quantize", str(smollm2_path), "--to", "IQ2_XS", "--out", str(tmp_path)]) == 2
    assert "needs an importance matrix" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_no_disk_room_is_one_line(smollm2_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(qz, "free_disk_bytes", lambda d: 10 * 1024 * 1024)  # the size-check hook: a 10 MiB disk
    assert main(["quantize", str(smollm2_path), "--to", "Q8_0", "--out", str(tmp_path)]) == 2
    assert "not enough disk space" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_parse_types_and_stem():
    assert qz.parse_types("q8_0, Q4_K_M,q8_0") == ["Q8_0", "Q4_K_M"]
    with pytest.raises(SizeupError):
        qz.parse_types(" , ")
    assert qz._stem(Path("SmolLM2-135M-Instruct.Q4_1.gguf")) == "SmolLM2-135M-Instruct"
    assert qz._stem(Path("gemma-3-270m-q4_k_m.gguf")) == "gemma-3-270m"


def test_legacy_imatrix_is_read_and_normalised(tmp_path):
    import struct

    import numpy as np

    # one entry "blk.0.ffn_down.weight", ncall 4, values 4, 8 -> 1, 2 (llama-quantize divides by ncall)
    name = b"blk.0.ffn_down.weight"
    blob = struct.pack("<i", 1) + struct.pack("<i", len(name)) + name + struct.pack("<ii", 4, 2)
    blob += np.array([4.0, 8.0], dtype="<f4").tobytes()
    (tmp_path / "m.dat").write_bytes(blob)
    got = qz.load_imatrix(tmp_path / "m.dat")
    assert list(got) == ["blk.0.ffn_down.weight"] and got["blk.0.ffn_down.weight"].tolist() == [1.0, 2.0]
    (tmp_path / "bad.dat").write_bytes(struct.pack("<i", 1) + struct.pack("<i", 99999))
    with pytest.raises(SizeupError):
        qz.load_imatrix(tmp_path / "bad.dat")


def test_interrupted_run_leaves_no_half_file(smollm2_path, tmp_path):
    """Ctrl-C while llama.cpp is writing: the temp output is removed, nothing half-written stays."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, PYTHONPATH=str(Path(qz.__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-m", "sizeup", "quantize", str(smollm2_path), "--to", "F16,Q8_0",
                             "--out", str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, "quantization never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert list(tmp_path.iterdir()) == []
