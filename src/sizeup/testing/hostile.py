"""Hostile model files, written byte by byte: the shapes ``tests/test_hostile_inputs.py``, the
malformed corpus (``tests/malformed/make_corpus.py``) and ``benchmarks/hostile_parsers.py`` feed
to every parser and command.

Each builder returns bytes or writes a file; none needs gguf-py, safetensors or torch, which
refuse to write most of these.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

# GGUF value types (ggml/include/gguf.h)
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
GGML_F32 = 0

# A string that is rich markup, a forged error line and terminal escapes at once.
HOSTILE_NAME = "[bold red]x[/]\n\x1b]0;pwn\x07\x1b[2J sizeup: error: forged [link=https://evil.example]y[/link]"


def _u32(x: int) -> bytes:
    return struct.pack("<I", x)


def _u64(x: int) -> bytes:
    return struct.pack("<Q", x)


def _s(x: str | bytes) -> bytes:
    b = x.encode("utf-8", "surrogatepass") if isinstance(x, str) else x
    return _u64(len(b)) + b


def kv_str(key: str, value: str) -> bytes:
    return _s(key) + _u32(STR) + _s(value)


def kv_u32(key: str, value: int) -> bytes:
    return _s(key) + _u32(U32) + _u32(value)


def kv_f32(key: str, value: float) -> bytes:
    return _s(key) + _u32(F32) + struct.pack("<f", value)


def kv_f64(key: str, value: float) -> bytes:
    return _s(key) + _u32(F64) + struct.pack("<d", value)


def kv_str_array(key: str, items: list[str]) -> bytes:
    return _s(key) + _u32(ARR) + _u32(STR) + _u64(len(items)) + b"".join(_s(x) for x in items)


def kv_f32_array(key: str, items: list[float]) -> bytes:
    return _s(key) + _u32(ARR) + _u32(F32) + _u64(len(items)) + b"".join(struct.pack("<f", x) for x in items)


def tensor_info(name: str, dims: list[int], type_id: int = GGML_F32, offset: int = 0) -> bytes:
    return _s(name) + _u32(len(dims)) + b"".join(_u64(d) for d in dims) + _u32(type_id) + _u64(offset)


def gguf(kvs: list[bytes], tinfos: list[bytes], data: bytes = b"", alignment: int = 32) -> bytes:
    head = b"GGUF" + _u32(3) + _u64(len(tinfos)) + _u64(len(kvs)) + b"".join(kvs) + b"".join(tinfos)
    head += b"\0" * (-len(head) % alignment)
    return head + data


def llama_kvs(arch: str = "llama", name: str = "tiny", *, n_layer: int = 2, n_embd: int = 64) -> list[bytes]:
    """The hyperparameters sizeup needs to describe a llama-like model."""
    return [
        kv_str("general.architecture", arch), kv_str("general.name", name),
        kv_u32(f"{arch}.block_count", n_layer), kv_u32(f"{arch}.embedding_length", n_embd),
        kv_u32(f"{arch}.feed_forward_length", 4 * n_embd), kv_u32(f"{arch}.attention.head_count", 4),
        kv_u32(f"{arch}.attention.head_count_kv", 2), kv_u32(f"{arch}.context_length", 2048),
    ]


def gguf_hostile_strings() -> bytes:
    """A valid small GGUF whose name, architecture-facing strings, licence and tensor name are hostile."""
    kvs = llama_kvs(name=HOSTILE_NAME) + [
        kv_str("general.license", "[/]" + HOSTILE_NAME), kv_str("tokenizer.ggml.model", "[red]gpt2[/]\x1b[5m"),
        kv_str("general.description", HOSTILE_NAME),
    ]
    return gguf(kvs, [tensor_info("token_embd.weight[/]\x1b[31m", [64, 8]), tensor_info("output.weight", [64, 8], offset=2048)],
                b"\0" * 4096)


def gguf_nan_floats() -> bytes:
    """Float metadata that is NaN and +/-Inf (f32 and f64), where JSON has no such numbers."""
    kvs = llama_kvs() + [
        kv_f32("llama.attention.layer_norm_rms_epsilon", float("nan")), kv_f32("llama.rope.freq_base", float("inf")),
        kv_f64("general.quality", float("-inf")), kv_f32_array("tokenizer.ggml.scores", [float("nan"), float("inf"), 0.5]),
    ]
    return gguf(kvs, [tensor_info("token_embd.weight", [64, 8])], b"\0" * 2048)


def gguf_vocab_only() -> bytes:
    """Like llama.cpp's ``models/ggml-vocab-*.gguf``: hyperparameters and a vocabulary, no tensors."""
    kvs = llama_kvs(n_layer=32, n_embd=4096) + [
        kv_str("tokenizer.ggml.model", "llama"), kv_str_array("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "a", "b"]),
    ]
    return gguf(kvs, [])


def gguf_negative_ffn_multiplier() -> bytes:
    """An lfm2 model whose FFN multiplier is negative (a negative FFN width if trusted)."""
    arch = "lfm2"
    kvs = llama_kvs(arch) + [kv_f32(f"{arch}.feed_forward_multiplier", -2.0), kv_f32(f"{arch}.ffn_dim_multiplier", -2.0)]
    return gguf(kvs, [tensor_info("token_embd.weight", [64, 8])], b"\0" * 2048)


def write_gguf_many_tensors(path: str | Path, n: int) -> Path:
    """A GGUF with one real tensor and ``n`` zero-size ones (a 0 dimension: no data), streamed."""
    p = Path(path)
    kvs = llama_kvs()
    with open(p, "wb") as f:
        head = b"GGUF" + _u32(3) + _u64(n + 1) + _u64(len(kvs)) + b"".join(kvs) + tensor_info("token_embd.weight", [64, 8])
        f.write(head)
        size = len(head)
        block: list[bytes] = []
        for i in range(n):
            block.append(tensor_info(f"blk.{i}.z", [0, 8]))
            if len(block) >= 10_000:
                data = b"".join(block)
                f.write(data)
                size += len(data)
                block.clear()
        data = b"".join(block)
        f.write(data)
        size += len(data)
        f.write(b"\0" * (-size % 32) + b"\0" * 2048)
    return p


def safetensors_bytes(header: dict | str, data: bytes = b"") -> bytes:
    h = header if isinstance(header, str) else json.dumps(header)
    hb = h.encode()
    return _u64(len(hb)) + hb + data


def safetensors_many_values(n: int) -> bytes:
    """A header that is a JSON object holding a list of ``n`` empty objects: ``{"x":[{},{},...]}``."""
    return safetensors_bytes('{"__metadata__":{},"x":[' + ",".join(["{}"] * n) + "]}")


def pickle_memoize(n: int) -> bytes:
    """Protocol-4 pickle: one empty list memoized ``n`` times (MEMOIZE opcodes)."""
    return b"\x80\x04]" + b"\x94" * n + b"."


def pickle_protocol0_os_system(cmd: str = "echo pwned") -> bytes:
    """A protocol-0 (text) pickle that would call ``os.system(cmd)`` when loaded."""
    return b"cos\nsystem\n(V" + cmd.encode() + b"\ntR."


def zip_claiming_members(n: int) -> bytes:
    """A zip whose end-of-central-directory record claims ``n`` members (zip64 when needed)."""
    local = b"PK\x03\x04" + b"\0" * 26
    cd_offset = len(local)
    if n < 0xFFFF:
        return local + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, n, n, 46 * n, cd_offset, 0)
    z64_off = len(local)
    z64 = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, n, n, 46 * n, cd_offset)
    loc = b"PK\x06\x07" + struct.pack("<IQI", 0, z64_off, 1)
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + z64 + loc + eocd
