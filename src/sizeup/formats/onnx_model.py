"""ONNX graphs -> ModelDescription.

The graph is parsed with the ``onnx`` package *without* loading external data
(``load_external_data=False``): a 7B ONNX export keeps its weights in side files that sizeup
only needs to stat, never read. Each external reference is checked: a relative path inside the
model's folder (no absolute paths, no ``..``), an existing file, and ``offset + length`` within
it - a graph that points elsewhere is refused with one line naming the tensor.

onnxruntime-genai int4 exports store weights as ``MatMulNBits`` blobs (uint8 with a
``[N, n_blocks, blob_size]`` shape); their logical size is ``K x N`` from the node's attributes,
and the scales/zero points are counted as bytes but not as parameters, as for GPTQ.

The architecture comes from ``genai_config.json`` (onnxruntime-genai) or a Hugging Face
``config.json`` (Optimum exports keep it beside the graph or one folder up); without either it
is None and a warning says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import BadModelFile, SizeupError
from ..licenses import classify_license
from ..model import Architecture, ModelDescription, Quantization, TensorInfo, average_bpw, count_params, type_breakdown
from ..runtimes import runtimes_for
from ..safe_open import inside, model_root, open_regular
from .safetensors import card_license, read_json_file, show, tokenizer_facts

MAX_ONNX_BYTES = 2**31  # protobuf cannot hold more; bigger graphs must use external data
MAX_IO = 10_000

# ONNX TensorProto.DataType -> bits per element (onnx/onnx.proto). Strings have no fixed size.
ONNX_DTYPE_BITS: dict[int, int] = {
    1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128,
    16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8,
}


def _dtype_name(dt: int) -> str:
    import onnx

    try:
        return onnx.TensorProto.DataType.Name(dt)
    except ValueError:
        return f"type{dt}"


def _external_file(base: Path, location: str, tensor: str, model_path: Path) -> Path:
    loc = Path(location)
    if not location or loc.is_absolute() or ".." in loc.parts or len(location) > 4096:
        raise BadModelFile(model_path, f"tensor '{show(tensor)}': external data location {show(location)!r} is outside the model folder")
    p = base / loc
    if not p.is_file():
        raise BadModelFile(model_path, f"tensor '{show(tensor)}': external data file {show(location)!r} is missing")
    if not inside(p, model_root(base)):  # a symlink out of the folder (to /etc/passwd...) is refused
        raise BadModelFile(model_path, f"tensor '{show(tensor)}': external data file {show(location)!r} resolves outside the model folder (symlink?); refused")
    return p


def _tensor_info(t: Any, base: Path, model_path: Path, ext_sizes: dict[Path, int]) -> TensorInfo:
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise BadModelFile(model_path, f"initializer '{show(t.name)}' has a negative dimension")
    n = math.prod(dims) if dims else 1
    bits = ONNX_DTYPE_BITS.get(t.data_type)
    name = _dtype_name(t.data_type)
    if t.data_location == 1:  # EXTERNAL
        kv = {e.key: e.value for e in t.external_data}
        path = _external_file(base, kv.get("location", ""), t.name, model_path)
        size = ext_sizes.setdefault(path, path.stat().st_size)
        try:
            offset = int(kv.get("offset", 0))
            length = int(kv["length"]) if "length" in kv else (n * bits + 7) // 8 if bits else size - offset
        except ValueError:
            raise BadModelFile(model_path, f"tensor '{show(t.name)}': external data offset/length are not integers") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise BadModelFile(model_path, f"tensor '{show(t.name)}': external data [{offset}, {offset + length}) runs past the end of {path.name} ({size} bytes)")
        return TensorInfo(t.name, dims, name, n, length, offset)
    if t.raw_data:
        nbytes = len(t.raw_data)
    elif bits:
        nbytes = (n * bits + 7) // 8
    else:
        nbytes = sum(len(s) for s in t.string_data)
    return TensorInfo(t.name, dims, name, n, nbytes)


def _value_info(v: Any) -> dict[str, Any]:
    tt = v.type.tensor_type
    shape: list[int | str] = []
    if tt.HasField("shape"):
        for d in tt.shape.dim:
            shape.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
    return {"name": v.name, "dtype": _dtype_name(tt.elem_type) if tt.elem_type else None, "shape": shape}


def _config_for(model_path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """HF-style config dict from config.json (here or one folder up) or genai_config.json."""
    for folder in (model_path.parent, model_path.parent.parent):
        if (folder / "config.json").is_file():
            cfg = read_json_file(folder / "config.json")
            if isinstance(cfg, dict) and ("model_type" in cfg or "text_config" in cfg):
                return cfg, str(folder / "config.json")
        g = folder / "genai_config.json"
        if g.is_file():
            data = read_json_file(g)
            m = data.get("model") if isinstance(data, dict) else None
            dec = m.get("decoder") if isinstance(m, dict) else None
            if isinstance(dec, dict):
                cfg = {
                    "model_type": m.get("type"), "num_hidden_layers": dec.get("num_hidden_layers"),
                    "hidden_size": dec.get("hidden_size"), "num_attention_heads": dec.get("num_attention_heads"),
                    "num_key_value_heads": dec.get("num_key_value_heads"), "head_dim": dec.get("head_size"),
                    "vocab_size": m.get("vocab_size"), "max_position_embeddings": m.get("context_length"),
                }
                if "sliding_window" in dec and isinstance(dec["sliding_window"], dict):
                    cfg["sliding_window"] = dec["sliding_window"].get("window_size")
                return cfg, str(g)
    return None, None


def describe_onnx(path: str | Path) -> ModelDescription:
    """Describe an ONNX model: initializers, dtypes, opsets, I/O, size incl. external data."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise BadModelFile(p, f"cannot read: {e.strerror or e}") from None
    if size > MAX_ONNX_BYTES:
        raise BadModelFile(p, f"{size} bytes is over protobuf's 2 GiB limit for one ONNX file")
    try:
        with open_regular(p) as f:  # never blocks on a FIFO swapped in after the directory walk
            data = f.read(MAX_ONNX_BYTES + 1)
        model = onnx.load_model_from_string(data)  # external data is never loaded from bytes
    except (DecodeError, ValueError, RuntimeError, OSError, RecursionError) as e:
        raise BadModelFile(p, f"not a valid ONNX model ({type(e).__name__})") from None
    g = model.graph
    if not g.node and not g.initializer:
        raise BadModelFile(p, "not a valid ONNX model (no graph)")
    ext_sizes: dict[Path, int] = {}
    tensors = [_tensor_info(t, p.parent, p, ext_sizes) for t in g.initializer]
    for st in g.sparse_initializer:
        v = _tensor_info(st.values, p.parent, p, ext_sizes)
        tensors.append(TensorInfo(st.values.name, tuple(int(d) for d in st.dims), v.dtype, v.n_elements, v.n_bytes))

    # Some exporters store weights as Constant nodes instead of initializers.
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.HasField("t"):
                    info = _tensor_info(a.t, p.parent, p, ext_sizes)
                    tensors.append(replace(info, name=info.name or (node.output[0] if node.output else "constant")))

    # MatMulNBits: logical K x N weights; scales and zero points are overhead.
    by_name = {t.name: i for i, t in enumerate(tensors)}
    nbits_label = None
    for node in g.node:
        if node.op_type == "MatMulNBits" and len(node.input) >= 2:
            attrs = {a.name: a.i for a in node.attribute}
            i = by_name.get(node.input[1])
            if i is not None and attrs.get("K", 0) > 0 and attrs.get("N", 0) > 0:
                tensors[i] = replace(tensors[i], n_elements=attrs["K"] * attrs["N"])
                nbits_label = f"int{attrs.get('bits', 4)} (MatMulNBits)"
                for extra_in in node.input[2:]:
                    j = by_name.get(extra_in)
                    if j is not None:
                        tensors[j] = replace(tensors[j], n_elements=0)

    warnings: list[str] = []
    cfg, cfg_path = _config_for(p)
    arch: Architecture | None = None
    if cfg is not None:
        from .hf_config import architecture_from_hf_config

        try:
            arch = architecture_from_hf_config(cfg)
        except SizeupError as e:
            warnings.append(f"{cfg_path}: {e}")
    else:
        warnings.append("no genai_config.json or config.json beside the graph: architecture unknown")
    label = nbits_label or (type_breakdown(tensors)[0].dtype if tensors else None)
    quant = Quantization(label=label, label_source="MatMulNBits" if nbits_label else "dtype",
                         bits_per_weight=average_bpw(tensors), by_type=type_breakdown(tensors),
                         method="matmulnbits" if nbits_label else "none")
    tok, tw = tokenizer_facts(p.parent, arch.n_vocab if arch else 0)
    warnings.extend(tw)
    lic = card_license(p.parent / "README.md") if (p.parent / "README.md").is_file() else None
    extra = {
        "opset": [{"domain": o.domain or "ai.onnx", "version": int(o.version)} for o in model.opset_import],
        "ir_version": int(model.ir_version),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": [_value_info(v) for v in list(g.input)[:MAX_IO]],
        "outputs": [_value_info(v) for v in list(g.output)[:MAX_IO]],
        "n_nodes": len(g.node),
        "external_data_files": sorted(os.path.relpath(f, p.parent) for f in ext_sizes),
    }
    if cfg_path:
        extra["config_path"] = cfg_path
    return ModelDescription(
        name=p.stem if p.stem not in ("model", "decoder_model", "decoder_model_merged") else p.parent.name or p.stem,
        source="onnx", path=str(p), files=[str(p), *(str(f) for f in sorted(ext_sizes))],
        file_size=size + sum(ext_sizes.values()), arch=arch, params=count_params(tensors, arch), quant=quant,
        tokenizer=tok, license=classify_license(lic), runtimes=runtimes_for("onnx", arch.name if arch else None),
        tensors=tensors, warnings=warnings, extra=extra,
    )
