"""describe_pickle on real pickle files and torch-style zip containers written in tmp dirs.

The malicious pickles are made by ``pickle`` itself from objects whose ``__reduce__`` calls
``os.system``; the tests check they are reported and that nothing ran (the sentinel file the
command would create never appears).
"""

from __future__ import annotations

import collections
import os
import pickle
import pickletools
import zipfile
from pathlib import Path

import pytest

from sizeup.errors import BadModelFile
from sizeup.formats.pickle_check import classify_global, describe_pickle, scan_pickle


def torch_state_dict_pickle() -> bytes:
    """Protocol-2 opcodes of a one-tensor state dict as torch.save writes it (hand assembled)."""
    def s(x: str) -> bytes:
        b = x.encode()
        return b"X" + len(b).to_bytes(4, "little") + b

    body = (
        b"\x80\x02" + b"ccollections\nOrderedDict\nq\x00)Rq\x01"
        + s("weight")
        + b"ctorch._utils\n_rebuild_tensor_v2\nq\x02("
        + b"(" + s("storage") + b"ctorch\nFloatStorage\nq\x03" + s("0") + s("cpu") + b"K\x06tq\x04Q"
        + b"K\x00K\x02K\x03\x86q\x05K\x03K\x01\x86q\x06\x89h\x01)Rq\x07tq\x08Rq\x09"
        + b"s."
    )
    pickletools.dis(body, out=open(os.devnull, "w"))  # well-formed
    return body


class Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def write_torch_zip(path: Path, pkl: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\0" * 24)
        z.writestr("archive/version", "3\n")


def test_torch_zip_checkpoint(tmp_path: Path):
    p = tmp_path / "pytorch_model.bin"
    write_torch_zip(p, torch_state_dict_pickle())
    d = describe_pickle(p)
    assert d.source == "pytorch-pickle" and d.params is None and d.arch is None
    names = {g["name"]: g["verdict"] for g in d.extra["globals"]}
    assert names == {"collections.OrderedDict": "expected", "torch._utils._rebuild_tensor_v2": "expected",
                     "torch.FloatStorage": "expected"}
    assert d.extra["format"] == "torch-zip" and d.extra["n_storages"] == 1 and d.extra["storage_bytes"] == 24
    assert d.extra["protocol"] == 2 and d.extra["n_dangerous"] == 0
    assert "arbitrary code" in d.warnings[0] and len(d.warnings) == 1


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_os_system_reported_never_executed(tmp_path: Path, protocol: int):
    sentinel = tmp_path / "pwned"
    payload = {"state": collections.OrderedDict(a=1), "x": Evil(f"touch {sentinel}")}
    p = tmp_path / "model.pt"
    p.write_bytes(pickle.dumps(payload, protocol=protocol))
    d = describe_pickle(p)
    verdicts = {g["name"]: g["verdict"] for g in d.extra["globals"]}
    system = "posix.system" if os.name == "posix" else "nt.system"
    assert verdicts[system] == "dangerous" and verdicts["collections.OrderedDict"] == "expected"
    assert any(w.startswith("DANGEROUS") and system in w for w in d.warnings)
    assert not sentinel.exists()


def test_malicious_inside_zip(tmp_path: Path):
    sentinel = tmp_path / "pwned"
    p = tmp_path / "evil.pth"
    write_torch_zip(p, pickle.dumps(Evil(f"touch {sentinel}"), protocol=2))
    d = describe_pickle(p)
    assert d.extra["n_dangerous"] == 1 and not sentinel.exists()


def test_builtins_eval_and_unknown(tmp_path: Path):
    p = tmp_path / "x.ckpt"
    p.write_bytes(b"\x80\x02cbuiltins\neval\nX\x03\x00\x00\x001+1\x85R" + b"cmylib.models\nNet\n)R" + b"\x86.")
    d = describe_pickle(p)
    v = {g["name"]: g["verdict"] for g in d.extra["globals"]}
    assert v == {"builtins.eval": "dangerous", "mylib.models.Net": "unknown"}
    assert any("outside the usual" in w for w in d.warnings)


class EvilCwd:
    def __reduce__(self):
        return (os.getcwd, ())


def test_stack_global_through_memo():
    # Protocol 4 memoizes the module name: the second global from the same module fetches it
    # with BINGET, so the scanner must follow the memo to name it.
    data = pickle.dumps([Evil("a"), EvilCwd()], protocol=4)
    assert b"\x94" in data  # MEMOIZE used
    found, proto, problem, _ = scan_pickle(data)
    assert proto == 4 and problem is None
    mod = os.system.__module__
    assert found == {f"{mod}.system": 1, f"{mod}.getcwd": 1}


def test_legacy_multi_pickle(tmp_path: Path):
    p = tmp_path / "legacy.pt"
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"protocol_version": 1001}, protocol=2), torch_state_dict_pickle(), pickle.dumps(["0"], protocol=2)]
    p.write_bytes(b"".join(parts) + b"\0" * 24)
    d = describe_pickle(p)
    assert d.extra["format"] == "pickle" and "torch._utils._rebuild_tensor_v2" in {g["name"] for g in d.extra["globals"]}


@pytest.mark.parametrize("content, msg", [
    (b"", "not a PyTorch checkpoint"),
    (b"hello world", "not a PyTorch checkpoint"),
    (b"PK\x03\x04garbage", "zip container is corrupt"),
])
def test_not_a_checkpoint(tmp_path: Path, content: bytes, msg: str):
    p = tmp_path / "bad.bin"
    p.write_bytes(content)
    with pytest.raises(BadModelFile, match=msg):
        describe_pickle(p)


def test_zip_without_data_pkl(tmp_path: Path):
    p = tmp_path / "a.bin"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(BadModelFile, match="without data.pkl"):
        describe_pickle(p)


def test_truncated_pickle_reports_what_it_saw(tmp_path: Path):
    data = pickle.dumps(Evil("x"), protocol=2)
    p = tmp_path / "t.bin"
    p.write_bytes(data[:-3])
    d = describe_pickle(p)
    assert d.extra["n_dangerous"] == 1 and any("malformed" in w for w in d.warnings)


def test_classify():
    assert classify_global("subprocess.Popen") == "dangerous"
    assert classify_global("builtins.getattr") == "dangerous"
    assert classify_global("torch._utils._rebuild_parameter") == "expected"
    assert classify_global("numpy.core.multiarray._reconstruct") == "expected"
    assert classify_global("builtins.set") == "expected"
    assert classify_global("transformers.Foo") == "unknown"


def test_lying_length_prefix_does_not_allocate(tmp_path: Path):
    import struct

    p = tmp_path / "bb8.bin"  # BINBYTES8 claiming 2**62 bytes, then EOF
    p.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc")
    d = describe_pickle(p)
    assert any("malformed" in w for w in d.warnings) and d.extra["globals"] == []


def test_endless_protocol0_line_is_bounded(tmp_path: Path):
    p = tmp_path / "line.bin"
    p.write_bytes(b"S" + b"a" * (3 << 20))  # STRING argument without a newline
    with pytest.raises(BadModelFile, match="not a PyTorch checkpoint"):
        describe_pickle(p)
