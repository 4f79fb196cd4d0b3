"""Predicted vs actual llama.cpp quantization of the real test models, per file type.

For each test model (SmolLM2-135M, gemma-3-270m) and each file type, quantize the model with
real llama.cpp (llama-cpp-python's ``llama_model_quantize``, requantizing since the test
models ship quantized), read the result, and compare:

* per-tensor types: sizeup's ``requantized_tensors`` and ``predict_tensors`` (from the
  architecture alone) against the file, name by name;
* bytes: predicted file size (exact metadata from the source file; estimated metadata from the
  architecture) against the real size.

Usage: PYTHONPATH=src python3 benchmarks/quant_mix_validation.py [--out DIR] [--ftypes Q4_K_M,Q8_0]
Outputs are cached in DIR (default: a temp dir) so a second run only re-reads them.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time
from pathlib import Path



def quantize(src: Path, dst: Path, ftype: str) -> float:
    """Run llama.cpp's quantizer; seconds taken (0 when the cached output was reused)."""
    import llama_cpp

    from sizeup.data.ggml_types import LLAMA_FILE_TYPE_IDS

    if dst.exists():
        return 0.0
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = LLAMA_FILE_TYPE_IDS[ftype]
    p.allow_requantize = True
    p.nthread = os.cpu_count() or 1
    tmp = dst.with_suffix(".part")
    t0 = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize {ftype} failed with {rc}")
    tmp.rename(dst)
    return time.perf_counter() - t0


def read(path: Path):
    from sizeup.formats.gguf_reader import read_gguf

    g = read_gguf(path)
    return g, g.tensor_infos()


def arch_of(g):
    """Architecture from GGUF keys (the minimum for these two dense test models)."""
    from sizeup.model import Architecture

    a = g.get("general.architecture")

    def k(key, default=None):
        return g.get(f"{a}.{key}", default)

    n = int(k("block_count"))
    n_head = int(k("attention.head_count"))
    E = int(k("embedding_length"))
    hd = int(k("attention.key_length", E // n_head))
    tensors = {t.name for t in g.tensors}
    n_vocab = len(g.get("tokenizer.ggml.tokens"))
    swa = int(k("attention.sliding_window", 0))
    return Architecture(
        name=a, n_layer=n, n_embd=E, n_head=(n_head,) * n, n_head_kv=(int(k("attention.head_count_kv", n_head)),) * n,
        head_dim_k=hd, head_dim_v=int(k("attention.value_length", hd)), n_ff=(int(k("feed_forward_length")),) * n,
        n_vocab=n_vocab, n_ctx_train=int(k("context_length")), swa_window=swa,
        tie_embeddings="output.weight" not in tensors)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="cache dir for quantized files")
    from sizeup.data.quant_mix_rules import COMMON_FTYPES

    ap.add_argument("--ftypes", default=",".join(COMMON_FTYPES), help="comma-separated (default: all common types)")
    args = ap.parse_args()
    from sizeup.estimate.weights_predict import (
        estimate_metadata_bytes,
        gguf_file_size,
        metadata_bytes_of,
        predict_tensors,
        requantized_tensors,
    )
    from sizeup.testmodels import fetch

    out = args.out or Path(tempfile.mkdtemp(prefix="sizeup-qmix-"))
    out.mkdir(parents=True, exist_ok=True)
    ftypes = [f.strip().upper() for f in args.ftypes.split(",") if f.strip()]
    print(f"{'model':8} {'ftype':7} {'quant s':>7} {'actual bytes':>13} {'pred(file)':>13} {'err':>7} "
          f"{'pred(arch)':>13} {'err':>7} {'type mismatches':>15}")
    worst = 0.0
    mismatches_total = 0
    for key in ("smollm2", "gemma3"):
        src = fetch(key)
        reader, src_tensors = read(src)
        arch = arch_of(reader)
        tok_model = reader.get("tokenizer.ggml.model")
        merges = reader.get("tokenizer.ggml.merges")
        for ftype in ftypes:
            dst = out / f"{key}.{ftype}.gguf"
            secs = quantize(src, dst, ftype)
            _, actual = read(dst)
            actual_size = dst.stat().st_size
            re_t = requantized_tensors(src_tensors, arch, ftype)
            pr_t = predict_tensors(arch, ftype)
            real_types = {t.name: t.dtype for t in actual}
            bad = sum(1 for t in re_t if real_types.get(t.name) != t.dtype)
            bad += sum(1 for t in pr_t if real_types.get(t.name) != t.dtype)
            mismatches_total += bad
            size_file = gguf_file_size(re_t, metadata_bytes_of(reader.data_offset, src_tensors))
            size_arch = gguf_file_size(pr_t, estimate_metadata_bytes(arch.n_vocab, tok_model,
                                                                     len(merges) if merges else None))
            e1 = (size_file - actual_size) / actual_size
            e2 = (size_arch - actual_size) / actual_size
            worst = max(worst, abs(e2))
            print(f"{key:8} {ftype:7} {secs:7.1f} {actual_size:13,d} {size_file:13,d} {e1:+7.2%} "
                  f"{size_arch:13,d} {e2:+7.2%} {bad:15d}")
    print(f"\ncache: {out}\ntype mismatches: {mismatches_total}; worst size error from architecture alone: {worst:.2%}")
    return 0 if mismatches_total == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())
