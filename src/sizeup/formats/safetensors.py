"""safetensors files and Hugging Face model directories -> ModelDescription.

The header is parsed by hand (8-byte little-endian length, then a JSON object) rather than with
the ``safetensors`` package, for two reasons: sizeup must describe a 400 GB sharded model without
touching the weights, and it must give one clear line - not a Rust panic or a multi-GB allocation -
for a file a stranger crafted. Every entry is validated: known dtype, non-negative bounded shape,
offsets inside the data region, byte length equal to dtype x shape, no overlapping tensors.

Directory layouts understood:

* a plain model directory: ``config.json`` + ``model.safetensors`` or shards listed in
  ``model.safetensors.index.json`` (every listed shard must exist);
* a Hugging Face cache repo ``models--org--name/`` (``refs/main`` names the snapshot under
  ``snapshots/<rev>/``, whose files are symlinks into ``blobs/``), or one snapshot directory.

Quantized checkpoints store packed integers; parameter counts are reported in *logical* weights
(what the unquantized model has), and the per-group scales/zeros count as bytes but not as
parameters, so bits per weight comes out as e.g. 4.25 for GPTQ 4-bit with group size 128.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..bounded_json import SAFETENSORS_HEADER_MAX_VALUES, BoundedJSONError, bounded_json_loads, value_bound
from ..errors import BadModelFile, SizeupError
from ..licenses import classify_license
from ..limits import MAX_DIM_SIZE, MAX_DIMS, MAX_JSON_FILE_BYTES, MAX_JSON_HEADER_BYTES, MAX_SPLIT_PARTS, MAX_TENSOR_NAME, MAX_TENSORS
from ..model import (
    Architecture, ModelDescription, Quantization, TensorInfo, Tokenizer, average_bpw, count_params, type_breakdown,
)
from ..runtimes import runtimes_for
from ..safe_open import FileTooLarge, open_regular, read_regular, read_text, require_inside

# safetensors dtype -> bits per element. Source: safetensors/src/tensor.rs (enum Dtype, bitsize()).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}
MAX_METADATA_ITEMS = 100_000
MAX_README_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SafetensorsHeader:
    """A validated header: tensors (offsets absolute in the file), metadata, and sizes."""

    tensors: list[TensorInfo]
    metadata: dict[str, str]
    header_len: int
    file_size: int

    @property
    def data_start(self) -> int:
        return 8 + self.header_len


def show(text: object, limit: int = 60) -> str:
    """A name from an untrusted file, safe to put in a one-line message."""
    return "".join(c if c.isprintable() else "?" for c in str(text)[:limit])


def _dims_ok(shape: list[Any]) -> bool:
    for d in shape:
        if type(d) is not int or d < 0 or d > MAX_DIM_SIZE:  # type() is: bool is not a dimension
            return False
    return True


def _n_elements(shape: tuple[int, ...], cap: int) -> int:
    """Product of dims, stopping once it exceeds ``cap`` (so 2**40 x 2**40 costs nothing)."""
    if 0 in shape:
        return 0
    n = 1
    for d in shape:
        n *= d
        if n > cap:
            return cap + 1
    return n


def parse_header(blob: bytes, file_size: int, path: object = "<safetensors>") -> SafetensorsHeader:
    """Validate ``blob`` = the first ``8 + header_len`` bytes of a file of ``file_size`` bytes.

    Pure function (the fuzz tests drive it directly); raises BadModelFile for anything malformed.
    """
    if file_size < 8 or len(blob) < 8:
        raise BadModelFile(path, "too small to be a safetensors file (no 8-byte header length)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_JSON_HEADER_BYTES:
        raise BadModelFile(path, f"safetensors header length {n} exceeds the {MAX_JSON_HEADER_BYTES}-byte limit")
    if 8 + n > file_size:
        raise BadModelFile(path, f"safetensors header length {n} runs past the end of the file ({file_size} bytes)")
    if len(blob) < 8 + n:
        raise BadModelFile(path, "safetensors header is truncated")
    raw = blob[8 : 8 + n]
    try:
        if value_bound(raw) > SAFETENSORS_HEADER_MAX_VALUES:  # counted on the bytes: no decoded copy
            raise BoundedJSONError(f"more than {SAFETENSORS_HEADER_MAX_VALUES:,} JSON values")
        header = bounded_json_loads(raw.decode("utf-8"), max_values=SAFETENSORS_HEADER_MAX_VALUES)
    except BoundedJSONError as e:
        raise BadModelFile(path, f"safetensors header JSON is over the parse budget ({e})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadModelFile(path, f"safetensors header is not valid JSON ({type(e).__name__})") from None
    if not isinstance(header, dict):
        raise BadModelFile(path, "safetensors header is not a JSON object")
    if len(header) > MAX_TENSORS + 1:
        raise BadModelFile(path, f"safetensors header lists {len(header)} entries (limit {MAX_TENSORS})")
    data_start = 8 + n
    data_size = file_size - data_start
    metadata: dict[str, str] = {}
    tensors: list[TensorInfo] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or len(entry) > MAX_METADATA_ITEMS or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
            ):
                raise BadModelFile(path, "safetensors __metadata__ must be a map of strings to strings")
            metadata = dict(entry)
            continue
        if len(name) > MAX_TENSOR_NAME:
            raise BadModelFile(path, f"tensor name longer than {MAX_TENSOR_NAME} characters")
        if not isinstance(entry, dict):
            raise BadModelFile(path, f"tensor '{show(name, 80)}': entry is not a JSON object")
        dtype, shape, offs = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            raise BadModelFile(path, f"tensor '{show(name, 80)}': unknown dtype {show(dtype, 20)!r}")
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or not _dims_ok(shape):
            raise BadModelFile(path, f"tensor '{show(name, 80)}': shape must be at most {MAX_DIMS} integers in 0..{MAX_DIM_SIZE}")
        if not isinstance(offs, list) or len(offs) != 2 or type(offs[0]) is not int or type(offs[1]) is not int:
            raise BadModelFile(path, f"tensor '{show(name, 80)}': data_offsets must be two integers")
        begin, end = offs
        if not 0 <= begin <= end <= data_size:
            raise BadModelFile(path, f"tensor '{show(name, 80)}': data_offsets [{begin}, {end}] outside the {data_size}-byte data region")
        shp = tuple(shape)
        bits = DTYPE_BITS[dtype]
        cap = (data_size * 8) // bits
        numel = _n_elements(shp, cap)
        if numel > cap:
            raise BadModelFile(path, f"tensor '{show(name, 80)}': shape {list(shp)[:8]} is larger than the whole data region")
        nbits = numel * bits
        if nbits % 8 or nbits // 8 != end - begin:
            raise BadModelFile(path, f"tensor '{show(name, 80)}': {dtype} {list(shp)} needs {nbits / 8:g} bytes but data_offsets span {end - begin}")
        tensors.append(TensorInfo(name=name, shape=shp, dtype=dtype, n_elements=numel, n_bytes=end - begin, offset=data_start + begin))
    spans = sorted((t.offset, t.offset + t.n_bytes, t.name) for t in tensors if t.n_bytes)
    for (b0, e0, n0), (b1, _e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise BadModelFile(path, f"tensors '{show(n0)}' and '{show(n1)}' overlap")
    return SafetensorsHeader(tensors=tensors, metadata=metadata, header_len=n, file_size=file_size)


def read_header(path: str | Path) -> SafetensorsHeader:
    """Read and validate the header of one .safetensors file (never reads the weights)."""
    p = Path(path)
    try:
        with open_regular(p) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise BadModelFile(p, "too small to be a safetensors file (no 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_JSON_HEADER_BYTES or 8 + n > size:
                return parse_header(head, size, p)  # raises with the precise reason
            blob = head + f.read(n)
    except OSError as e:
        raise BadModelFile(p, f"cannot read: {e.strerror or e}") from None
    return parse_header(blob, size, p)


# --- small bounded readers shared by the format modules ---------------------------------------
def read_json_file(path: Path, limit: int = MAX_JSON_FILE_BYTES) -> Any:
    """Parse a JSON file no larger than ``limit`` bytes; BadModelFile with one line otherwise."""
    try:
        data = read_regular(path, limit)
    except FileTooLarge as e:
        raise BadModelFile(path, f"{e.strerror} for a JSON file") from None
    except OSError as e:
        raise BadModelFile(path, f"cannot read: {e.strerror or e}") from None
    try:
        return bounded_json_loads(data.decode("utf-8"))
    except BoundedJSONError as e:
        raise BadModelFile(path, f"JSON too large to parse safely ({e})") from None
    except OSError as e:
        raise BadModelFile(path, f"cannot read: {e.strerror or e}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadModelFile(path, f"not valid JSON ({type(e).__name__})") from None


def card_license(readme: Path) -> str | None:
    """``license:`` (or ``license_name:`` when it says ``other``) from a model card's YAML header."""
    try:
        with open_regular(readme) as f:
            text = f.read(MAX_README_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    m = re.match(r"\A\ufeff?---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.S)
    if not m:
        return None
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        km = re.match(r"^(license|license_name):\s*(.*?)\s*$", line)
        if km:
            fields[km.group(1)] = km.group(2).strip("'\"")
    lic = fields.get("license") or None
    if lic == "other" and fields.get("license_name"):
        return fields["license_name"]
    return lic


def tokenizer_facts(folder: Path, n_vocab: int) -> tuple[Tokenizer | None, list[str]]:
    """Tokenizer model from tokenizer.json and whether a chat template ships with the model."""
    warnings: list[str] = []
    kind: str | None = None
    raw_type: str | None = None
    tj = folder / "tokenizer.json"
    if tj.is_file():
        try:
            data = read_json_file(tj)
            model = data.get("model") if isinstance(data, dict) else None
            if isinstance(model, dict):
                raw_type = model.get("type") if isinstance(model.get("type"), str) else None
                if raw_type == "BPE":
                    kind = "llama" if model.get("byte_fallback") is True else "gpt2"
                else:
                    kind = {"Unigram": "t5", "WordPiece": "bert", "WordLevel": "wordlevel"}.get(raw_type or "", raw_type)
                if not n_vocab and isinstance(model.get("vocab"), (dict, list)):
                    n_vocab = len(model["vocab"])
        except SizeupError as e:
            warnings.append(f"tokenizer.json unreadable: {e}")
    has_template = (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file()
    tc = folder / "tokenizer_config.json"
    if tc.is_file() and not has_template:
        try:
            data = read_json_file(tc)
            tmpl = data.get("chat_template") if isinstance(data, dict) else None
            has_template = bool(tmpl) and isinstance(tmpl, (str, list))
        except SizeupError as e:
            warnings.append(f"tokenizer_config.json unreadable: {e}")
    if kind is None and not has_template and not tj.is_file():
        return None, warnings
    return Tokenizer(model=kind, n_vocab=n_vocab, pre=raw_type, has_chat_template=has_template), warnings


# --- quantized checkpoints ---------------------------------------------------------------------
# Tensor-name suffixes that hold quantization metadata (scales, zero points, group indices): they
# cost bytes but are not model parameters.
_OVERHEAD = {
    "gptq": (".qzeros", ".scales", ".g_idx"),
    "awq": (".qzeros", ".scales"),
    "bitsandbytes": (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".SCB", ".weight_format",
                     ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"),
    "compressed-tensors": ("_scale", "_zero_point", ".weight_shape", "_g_idx"),
    "fp8": (".weight_scale_inv", ".weight_scale", ".input_scale", ".activation_scale"),
    "mxfp4": ("_scales",),
}


def _quant_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    q = (cfg or {}).get("quantization_config") or (cfg or {}).get("compression_config")
    return q if isinstance(q, dict) else {}


def _qbits(q: dict[str, Any], default: int) -> int:
    b = q.get("bits", q.get("w_bit", default))
    return b if isinstance(b, int) and not isinstance(b, bool) and b in (2, 3, 4, 8) else default


def quant_method(q: dict[str, Any]) -> str:
    m = str(q.get("quant_method", "")).lower()
    if m == "bitsandbytes" or q.get("load_in_4bit") or q.get("load_in_8bit"):
        return "bitsandbytes"
    return m


def logical_tensors(tensors: list[TensorInfo], q: dict[str, Any]) -> tuple[list[TensorInfo], str | None, str]:
    """Tensors with logical element counts for a quantized checkpoint, plus (label, method)."""
    method = quant_method(q)
    names = {t.name for t in tensors}
    if method in ("gptq", "awq"):
        bits = _qbits(q, 4)
        per_int32 = 32 // bits if 32 % bits == 0 else 0
        out = []
        for t in tensors:
            if t.name.endswith(".qweight") and t.dtype in ("I32", "U32") and per_int32:
                out.append(replace(t, n_elements=t.n_elements * per_int32))
            elif t.name.endswith(_OVERHEAD[method]) and t.name.rsplit(".", 1)[0] + ".qweight" in names:
                out.append(replace(t, n_elements=0))
            else:
                out.append(t)
        return out, f"{method.upper()} {bits}-bit", method
    if method == "bitsandbytes":
        four = bool(q.get("load_in_4bit")) or any(".quant_state.bitsandbytes__" in n for n in names)
        qtype = str(q.get("bnb_4bit_quant_type", "nf4"))
        out = []
        for t in tensors:
            base = t.name.rsplit(".", 1)[0] if t.name.endswith(".weight") else None
            if t.name.endswith(_OVERHEAD["bitsandbytes"]) or ".quant_state." in t.name:
                out.append(replace(t, n_elements=0))
            elif four and t.dtype == "U8" and base and any(n.startswith(base + ".weight.quant_state.") for n in names):
                out.append(replace(t, n_elements=t.n_elements * 2))
            else:
                out.append(t)
        return out, (f"bitsandbytes 4-bit ({qtype})" if four else "bitsandbytes 8-bit"), method
    if method == "compressed-tensors":
        bits = 4
        label = "compressed-tensors"
        groups = q.get("config_groups")
        if isinstance(groups, dict):
            for g in groups.values():
                w = g.get("weights") if isinstance(g, dict) else None
                if isinstance(w, dict) and isinstance(w.get("num_bits"), int):
                    bits = w["num_bits"]
                    label = f"compressed-tensors {w.get('type', 'int')}{bits}"
                    break
        out = []
        for t in tensors:
            if t.name.endswith(".weight_packed") and t.dtype in ("I32", "U32") and bits in (2, 4, 8):
                out.append(replace(t, n_elements=t.n_elements * (32 // bits)))
            elif t.name.endswith(_OVERHEAD[method]):
                out.append(replace(t, n_elements=0))
            else:
                out.append(t)
        return out, label, method
    if method == "fp8":
        out = [replace(t, n_elements=0) if t.name.endswith(_OVERHEAD["fp8"]) else t for t in tensors]
        return out, "FP8", method
    if method == "mxfp4":
        out = []
        for t in tensors:
            if t.name.endswith("_blocks") and t.dtype == "U8":
                out.append(replace(t, n_elements=t.n_elements * 2))
            elif t.name.endswith("_scales") and t.name[: -len("_scales")] + "_blocks" in names:
                out.append(replace(t, n_elements=0))
            else:
                out.append(t)
        return out, "MXFP4", method
    return tensors, None, method or "none"


def dtype_label(tensors: list[TensorInfo]) -> str | None:
    """Storage type holding most of the weights by bytes ("BF16", "F16", "F32", "F8_E4M3")."""
    shares = type_breakdown(tensors)
    return shares[0].dtype if shares else None


# --- architecture guess for a lone file --------------------------------------------------------
_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|h|blocks|blk)\.(\d+)\.")


def guess_architecture(tensors: list[TensorInfo]) -> Architecture | None:
    """A Llama-like Architecture from tensor names and shapes alone (no config.json).

    Only what the names prove: layer count, width, vocabulary, FFN width, and - when the
    projections are there - head counts assuming head_dim 128 (64 for narrow models). The
    context length is unknown (0). Returns None when there is no layered structure.
    """
    by_name = {t.name: t for t in tensors}
    layers = {int(m.group(1)) for t in tensors if (m := _LAYER_RE.search(t.name))}
    embed = next((t for t in tensors if re.search(r"(embed_tokens|wte|tok_embeddings|word_embeddings)\.weight$", t.name)), None)
    if not layers or embed is None or len(embed.shape) != 2 or max(layers) >= 10_000:
        return None
    n_layer = max(layers) + 1
    n_vocab, n_embd = embed.shape
    if n_embd == 0 or n_vocab == 0:
        return None

    def find(pattern: str) -> TensorInfo | None:
        return next((t for n, t in by_name.items() if re.search(pattern, n)), None)

    head_dim = 128 if n_embd % 128 == 0 and n_embd >= 2048 else 64
    qn = find(r"\.0\.self_attn\.q_norm\.weight$")
    if qn is not None and len(qn.shape) == 1 and qn.shape[0]:
        head_dim = qn.shape[0]
    q = find(r"\.0\.self_attn\.q_proj\.weight$")
    k = find(r"\.0\.self_attn\.k_proj\.weight$")
    n_head = (q.shape[0] // head_dim) if q is not None and q.shape else max(1, n_embd // head_dim)
    n_kv = (k.shape[0] // head_dim) if k is not None and k.shape else n_head
    up = find(r"\.0\.mlp\.(up_proj|c_fc|fc1)\.weight$")
    n_ff = up.shape[0] if up is not None and up.shape else 0
    experts = {m.group(1) for t in tensors if (m := re.search(r"\.experts\.(\d+)\.", t.name))}
    n_head, n_kv = max(n_head, 1), max(n_kv, 1)
    return Architecture(
        name="llama", n_layer=n_layer, n_embd=n_embd, n_head=(n_head,) * n_layer, n_head_kv=(n_kv,) * n_layer,
        head_dim_k=head_dim, head_dim_v=head_dim, n_ff=(n_ff,) * n_layer, n_vocab=n_vocab, n_ctx_train=0,
        n_expert=len(experts), tie_embeddings=find(r"^lm_head\.weight$") is None,
        extra={"guessed_from_tensor_names": True},
    )


# --- directories -------------------------------------------------------------------------------
def resolve_hf_dir(path: Path) -> tuple[Path, str | None, list[str]]:
    """The snapshot folder holding the files, the repo id if known, and warnings."""
    warnings: list[str] = []
    path = Path(path)
    if (path / "snapshots").is_dir() and path.name.startswith("models--"):
        repo = path.name[len("models--"):].replace("--", "/")
        ref = path / "refs" / "main"
        rev = None
        if ref.is_file():
            try:
                rev = read_text(ref, 4096)[:100].strip()
            except OSError:
                rev = None
            if rev and not re.fullmatch(r"[0-9a-fA-F]{40}", rev):
                raise BadModelFile(ref, f"not a commit hash: {show(rev, 40)!r}")
        snaps = sorted((p for p in (path / "snapshots").iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if rev and (path / "snapshots" / rev).is_dir():
            return path / "snapshots" / rev, repo, warnings
        if not snaps:
            raise BadModelFile(path, "Hugging Face cache repo has no snapshots")
        if rev:
            warnings.append(f"refs/main names {rev[:12]} which is not downloaded; using snapshot {snaps[-1].name[:12]}")
        elif len(snaps) > 1:
            warnings.append(f"no refs/main; using the newest of {len(snaps)} snapshots ({snaps[-1].name[:12]})")
        return snaps[-1], repo, warnings
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return path, path.parent.parent.name[len("models--"):].replace("--", "/"), warnings
    return path, None, warnings


def _shards(folder: Path) -> tuple[list[Path], dict[str, str] | None]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        data = read_json_file(index)
        wm = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(wm, dict) or not wm or len(wm) > MAX_TENSORS:
            raise BadModelFile(index, "weight_map missing, empty or too large")
        files: dict[str, None] = {}  # ordered set: a list membership test here was quadratic
        for tname, fname in wm.items():
            if not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname or fname in (".", ".."):
                raise BadModelFile(index, f"tensor '{show(tname)}' maps to an invalid shard name {show(fname)!r}")
            files[fname] = None
            if len(files) > MAX_SPLIT_PARTS:
                raise BadModelFile(index, f"more than {MAX_SPLIT_PARTS} shards")
        for fname in files:
            if not (folder / fname).is_file():
                raise BadModelFile(folder / fname, "shard listed in model.safetensors.index.json is missing")
            require_inside(folder / fname, folder, "shard")
        return [folder / f for f in sorted(files)], wm
    single = folder / "model.safetensors"
    if single.is_file():
        require_inside(single, folder, "weights file")
        return [single], None
    found = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    for p in found:
        require_inside(p, folder, "shard")
    if not found:
        hint = " (PyTorch pickle weights found: those are described with a safety warning, not loaded)" if any(
            folder.glob("*.bin")) or any(folder.glob("*.pt")) else ""
        raise BadModelFile(folder, f"no .safetensors weights in this directory{hint}")
    return found, None


def describe_hf_dir(path: str | Path) -> ModelDescription:
    """Describe a Hugging Face model directory, cache repo or snapshot (headers only)."""
    folder, repo, warnings = resolve_hf_dir(Path(path))
    if not folder.is_dir():
        raise SizeupError(f"{folder}: not a directory")
    shards, weight_map = _shards(folder)
    tensors: list[TensorInfo] = []
    metadata: dict[str, str] = {}
    seen: dict[str, str] = {}
    file_size = 0
    for shard in shards:
        h = read_header(shard)
        file_size += h.file_size
        metadata.update(h.metadata)
        for t in h.tensors:
            if t.name in seen:
                raise BadModelFile(shard, f"tensor '{show(t.name)}' also appears in {seen[t.name]}")
            seen[t.name] = shard.name
            if weight_map is not None and weight_map.get(t.name, shard.name) != shard.name:
                warnings.append(f"index maps '{show(t.name)}' to {weight_map[t.name]} but it is in {shard.name}")
        tensors.extend(h.tensors)
    if weight_map is not None:
        missing = [n for n in weight_map if n not in seen]
        if missing:
            raise BadModelFile(folder / "model.safetensors.index.json", f"{len(missing)} indexed tensors are in no shard, e.g. '{show(missing[0])}'")
    cfg = None
    if (folder / "config.json").is_file():
        cfg = read_json_file(folder / "config.json")
        if not isinstance(cfg, dict):
            raise BadModelFile(folder / "config.json", "top level must be a JSON object")
    return _describe(tensors, cfg, folder, shards, file_size, metadata, repo, warnings)


def describe_safetensors_file(path: str | Path) -> ModelDescription:
    """Describe one .safetensors file; config.json beside it is used when present."""
    p = Path(path)
    h = read_header(p)
    cfg = None
    warnings: list[str] = []
    if (p.parent / "config.json").is_file():
        cfg = read_json_file(p.parent / "config.json")
        if not isinstance(cfg, dict):
            cfg = None
            warnings.append("config.json beside the file is not a JSON object; ignored")
    return _describe(h.tensors, cfg, p.parent, [p], h.file_size, h.metadata, None, warnings, name=p.stem)


def _describe(tensors: list[TensorInfo], cfg: dict[str, Any] | None, folder: Path, files: list[Path], file_size: int,
              metadata: dict[str, str], repo: str | None, warnings: list[str], name: str | None = None,
              remote: dict[str, Any] | None = None) -> ModelDescription:
    """``remote`` (set for Hub repos read over HTTP) carries ``tokenizer`` and ``license`` facts
    fetched elsewhere, so nothing is looked up in ``folder`` on the local disk."""
    from .hf_config import architecture_from_hf_config

    arch: Architecture | None = None
    if cfg is not None:
        arch = architecture_from_hf_config(cfg)
        if arch.extra.get("unknown_model_type"):
            warnings.append(f"model_type '{arch.extra.get('hf_model_type')}' is not in sizeup's family table; read with generic Llama-like rules")
    else:
        arch = guess_architecture(tensors)
        warnings.append("no config.json: architecture guessed from tensor names (context length unknown)" if arch
                        else "no config.json and no recognizable layer structure: architecture unknown")
    q = _quant_config(cfg)
    logical, label, method = logical_tensors(tensors, q)
    if label is None:
        label = dtype_label(logical)
        source = "dtype"
    else:
        source = "quantization_config"
    quant = Quantization(label=label, label_source=source, bits_per_weight=average_bpw(logical),
                         by_type=type_breakdown(logical), method=method)
    if remote is not None:
        tok, lic_raw = remote.get("tokenizer"), remote.get("license")
    else:
        tok, tw = tokenizer_facts(folder, arch.n_vocab if arch else 0)
        warnings.extend(tw)
        lic_raw = card_license(folder / "README.md") if (folder / "README.md").is_file() else None
    extra: dict[str, Any] = {"n_files": len(files)}
    if repo:
        extra["repo_id"] = repo
    if metadata:
        extra["safetensors_metadata"] = dict(list(metadata.items())[:50])
    if cfg and isinstance(cfg.get("torch_dtype"), str):
        extra["torch_dtype"] = cfg["torch_dtype"]
    return ModelDescription(
        name=name or repo or folder.name, source="safetensors", path=str(folder if name is None else files[0]),
        files=[str(f) for f in files], file_size=file_size, arch=arch, params=count_params(logical, arch),
        quant=quant, tokenizer=tok, license=classify_license(lic_raw), runtimes=runtimes_for("safetensors", arch.name if arch else None),
        tensors=logical, warnings=warnings, extra=extra,
    )
