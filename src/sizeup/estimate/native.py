"""The precision a model was released in, and the GGUF types that are "full precision" for it.

A model's full precision is what its publisher shipped, not F16: gpt-oss ships its MoE experts in
MXFP4, DeepSeek-V3/R1 and Kimi K2 ship FP8, most others BF16. Converting an FP8 release to an
F16 GGUF doubles its size without adding information, so sizeup never sizes a model above its
release precision. The GGUF counterparts:

* BF16 / F16 / F32 releases: every llama.cpp type, BF16 (or F16) being the lossless one;
* FP8 releases: Q8_0 and below (llama.cpp's converter has no FP8 type; Q8_0 keeps 8.5 bits);
* MXFP4 releases (gpt-oss): ``MXFP4_MOE``, llama.cpp's file type that keeps the experts in
  the ggml ``MXFP4`` type (4.25 bits per weight) and the rest in Q8_0, which is what the
  ggml-org and unsloth GGUFs of gpt-oss are (lower "quants" of gpt-oss change little: the
  experts are already 4-bit);
* 4-bit releases (GPTQ, AWQ, compressed-tensors int4): Q4_K_M and below.

The precision is read from the model's own config fields first (``quantization_config
.quant_method``, then ``torch_dtype`` / ``dtype``), then from the id table in
``data/native_precision.json`` (each row with the config.json that states it), else BF16.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SizeupError

TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "native_precision.json"
MAX_TABLE_BYTES = 1 << 20

# Candidate GGUF file types, best quality first. Each release precision allows a suffix of it.
ALL_TYPES: tuple[str, ...] = ("BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
_DTYPES = {"bfloat16": "BF16", "float16": "F16", "half": "F16", "float32": "F32", "float": "F32",
           "bf16": "BF16", "fp16": "F16", "fp32": "F32"}


@dataclass(frozen=True)
class Release:
    """How a model was released and what that allows as GGUF."""

    precision: str  # BF16 | F16 | F32 | FP8 | MXFP4 | INT4
    types: tuple[str, ...]  # candidate llama.cpp file types, best first, never above the release
    lossless: str  # the type that loses nothing against the release (quality baseline)
    source: str  # where the precision was read: "config quantization_config", "config torch_dtype", table URL, "default"

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "types": list(self.types), "lossless": self.lossless,
                "source": self.source}


@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], ...]:
    from ..data import load_json_data

    doc = load_json_data(TABLE_PATH, MAX_TABLE_BYTES)
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        raise SizeupError(f"{TABLE_PATH.name}: expected a 'rules' list")
    out = []
    for r in rules:
        if not (isinstance(r, dict) and isinstance(r.get("match"), str) and r.get("precision") in _PRECISIONS
                and isinstance(r.get("source"), str) and r["source"].startswith("https://")):
            raise SizeupError(f"{TABLE_PATH.name}: bad rule {str(r)[:80]!r}")
        out.append({"match": r["match"].lower(), "precision": r["precision"], "source": r["source"]})
    return tuple(out)


def _release(precision: str, source: str) -> Release:
    if precision in ("BF16", "F32"):
        return Release(precision, ALL_TYPES, "BF16", source)
    if precision == "F16":
        return Release(precision, ("F16",) + ALL_TYPES[1:], "F16", source)
    if precision == "FP8":
        return Release(precision, ALL_TYPES[1:], "Q8_0", source)
    if precision == "MXFP4":
        return Release(precision, ("MXFP4_MOE",), "MXFP4_MOE", source)
    if precision == "INT4":
        return Release(precision, ALL_TYPES[4:], "Q4_K_M", source)
    raise SizeupError(f"unknown release precision '{precision}'")


_PRECISIONS = ("BF16", "F16", "F32", "FP8", "MXFP4", "INT4")


def _from_config(cfg: dict[str, Any]) -> Release | None:
    q = cfg.get("quantization_config") or cfg.get("compression_config")
    if isinstance(q, dict):
        method = str(q.get("quant_method", "")).lower()[:40]
        if method == "mxfp4":
            return _release("MXFP4", "config quantization_config (mxfp4)")
        if method in ("fp8", "fbgemm_fp8"):
            return _release("FP8", f"config quantization_config ({method})")
        if method in ("gptq", "awq") or q.get("load_in_4bit"):
            return _release("INT4", f"config quantization_config ({method or 'bitsandbytes 4-bit'})")
        if method == "compressed-tensors":
            groups = q.get("config_groups")
            bits = set()
            if isinstance(groups, dict):
                for g in list(groups.values())[:16]:
                    w = g.get("weights") if isinstance(g, dict) else None
                    if isinstance(w, dict) and isinstance(w.get("num_bits"), int):
                        bits.add((w["num_bits"], str(w.get("type", "int"))[:10]))
            if any(b == 4 for b, _ in bits):
                return _release("INT4", "config quantization_config (compressed-tensors 4-bit)")
            if any(b == 8 and t == "float" for b, t in bits):
                return _release("FP8", "config quantization_config (compressed-tensors fp8)")
    for key in ("torch_dtype", "dtype"):
        v = cfg.get(key)
        if isinstance(v, str) and v.lower() in _DTYPES:
            return _release(_DTYPES[v.lower()], f"config {key} ({v.lower()})")
    return None


def release_of(config: dict[str, Any] | None, hf_id: str | None) -> Release:
    """The release precision of a model from its config fields, else the id table, else BF16."""
    if isinstance(config, dict):
        # A quantization_config wins over any dtype, wherever it sits: multimodal configs nest the
        # language model's (Kimi K2.5's INT4 under text_config beside a top-level bf16 dtype).
        found = _from_config(config)
        nested = config.get("text_config")
        if isinstance(nested, dict):
            inner = _from_config(nested)
            top_is_quant = isinstance(config.get("quantization_config") or config.get("compression_config"), dict)
            if inner is not None and (found is None or (not top_is_quant and inner.precision not in ("BF16", "F16", "F32"))):
                found = inner
        if found is not None and found.precision not in ("BF16", "F16", "F32"):
            return found
        table = _from_table(hf_id)
        if table is not None:
            return table
        if found is not None:
            return found
    else:
        table = _from_table(hf_id)
        if table is not None:
            return table
    return _release("BF16", "default (no dtype in the config; most 2024-2026 releases are bfloat16)")


def _from_table(hf_id: str | None) -> Release | None:
    if not hf_id:
        return None
    key = hf_id.lower()[:200]
    for r in _table():
        if fnmatch.fnmatchcase(key, r["match"]):
            return _release(r["precision"], r["source"])
    return None


def release_from_dict(d: dict[str, Any]) -> Release:
    """A :class:`Release` back from :meth:`Release.to_dict` (as catalog descriptions carry it)."""
    p = d.get("precision")
    if p not in _PRECISIONS:
        raise SizeupError(f"unknown release precision '{str(p)[:20]}'")
    return _release(p, str(d.get("source", ""))[:300])
