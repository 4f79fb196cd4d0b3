"""How fast sizeup reads a GGUF header, next to gguf-py's GGUFReader measured in the same run.

    PYTHONPATH=src python3 benchmarks/gguf_parse.py [--runs 7] [--oracle-runs 1] [--model PATH]

Prints, for the gemma-3-270m test model (262k-token vocabulary) unless --model is given:
* median parse time of ``sizeup.formats.gguf_reader.read_gguf`` and of ``gguf.GGUFReader``
  (tokens, scores and token types included), and the ratio;
* peak Python memory of one sizeup parse (tracemalloc);
* a 100 GiB sparse GGUF (50 x 2 GiB tensors, data region a hole, same 262k vocabulary) against
  a small file with the identical metadata: parse time must not grow with tensor-data size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sizeup.formats.gguf_reader import read_gguf  # noqa: E402


def median_ms(fn, runs: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(runs):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times) * 1000


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def write_model(path: Path, tensor_shape: tuple[int, int], n_vocab: int, sparse: bool) -> None:
    """50 F16 tensors of ``tensor_shape`` and a vocabulary; data written only when not sparse."""
    w = GGUFWriter(path, "llama")
    w.add_key_value("llama.block_count", 50, GGUFValueType.UINT32)
    w.add_key_value("tokenizer.ggml.tokens", [f"tok{i}" for i in range(n_vocab)], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    w.add_key_value("tokenizer.ggml.scores", [0.0] * n_vocab, GGUFValueType.ARRAY, sub_type=GGUFValueType.FLOAT32)
    nbytes = tensor_shape[0] * tensor_shape[1] * 2
    for i in range(50):
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", tensor_shape, np.dtype(np.float16), nbytes)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    end = GGUFWriter.ggml_pad(path.stat().st_size, 32) + 50 * GGUFWriter.ggml_pad(nbytes, 32)
    if sparse:
        os.truncate(path, end)  # a hole: no disk blocks, no reads
    else:
        with open(path, "r+b") as f:
            f.seek(0, 2)
            f.write(b"\0" * (end - f.tell()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--oracle-runs", type=int, default=1, help="GGUFReader takes seconds per run; 0 skips it")
    ap.add_argument("--model", type=Path, help="a GGUF file (default: the gemma-3-270m test model)")
    args = ap.parse_args()

    if args.model is None:
        from sizeup.testmodels import fetch

        args.model = fetch("gemma3")
    model = args.model
    gf = read_gguf(model)  # warm the page cache and the numpy import
    print(f"model: {model.name}  ({gf.file_size / 2**20:.0f} MiB, header {gf.header_size / 2**20:.2f} MiB, "
          f"{len(gf.kv)} keys, {len(gf.tensors)} tensors)")

    ours = median_ms(lambda: read_gguf(model), args.runs)
    cpu = median_ms(lambda: read_gguf(model), args.runs, clock=time.process_time)
    print(f"sizeup read_gguf      median of {args.runs}: {ours:9.1f} ms  (CPU time {cpu:.1f} ms: "
          "wall time includes waiting for a busy machine's cores)")
    if args.oracle_runs > 0:
        theirs = median_ms(lambda: GGUFReader(model), args.oracle_runs)
        print(f"gguf-py GGUFReader    median of {args.oracle_runs}: {theirs:9.1f} ms")
        print(f"speed-up: {theirs / ours:.0f}x")
    print(f"peak Python memory of one sizeup parse: {peak_bytes(lambda: read_gguf(model)) / 2**20:.2f} MiB")

    with tempfile.TemporaryDirectory() as d:
        big, small = Path(d) / "sparse-100g.gguf", Path(d) / "small.gguf"
        write_model(big, (32768, 32768), 262144, sparse=True)
        write_model(small, (8, 32), 262144, sparse=False)
        tb, ts = [], []
        for _ in range(args.runs):  # interleaved, so load changes hit both alike
            tb.append(median_ms(lambda: read_gguf(big), 1))
            ts.append(median_ms(lambda: read_gguf(small), 1))
        t_big, t_small = statistics.median(tb), statistics.median(ts)
        m_big = peak_bytes(lambda: read_gguf(big))
        m_small = peak_bytes(lambda: read_gguf(small))
        on_disk = big.stat().st_blocks * 512
        print(f"sparse file: {big.stat().st_size / 2**30:.1f} GiB apparent, {on_disk / 2**20:.1f} MiB on disk")
        print(f"sparse 100 GiB file   median of {args.runs}: {t_big:9.1f} ms, peak {m_big / 2**20:.2f} MiB")
        print(f"same header, small    median of {args.runs}: {t_small:9.1f} ms, peak {m_small / 2**20:.2f} MiB")
        print(f"ratio sparse/small: {t_big / t_small:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
