"""Child process: import llama-cpp-python, report its build, optionally run a smoke test.

Run as ``python -m sizeup.engine.probe '{"smoke": "/path/model.gguf"}'``. It writes one JSON line
per stage reached (``import``, ``load``, ``batch``, ``single``, ``done``) and flushes each at once,
so when llama.cpp kills the process natively the parent knows which stage died: a crash during
``batch`` after a clean ``load`` is the AMX signature. It never runs in sizeup's own process.
"""

from __future__ import annotations

import json
import sys
import time


def _emit(**kw) -> None:
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1]) if len(argv) > 1 else {}
    try:
        import llama_cpp
        info = llama_cpp.llama_print_system_info()
        info = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    except BaseException as e:  # ImportError, OSError from ctypes, AttributeError on ABI drift
        _emit(stage="import_error", error=f"{type(e).__name__}: {e}"[:1000])
        return 0
    lib = getattr(getattr(llama_cpp, "llama_cpp", None), "_lib", None)
    _emit(stage="import", version=getattr(llama_cpp, "__version__", "?"), system_info=info.strip()[:4000],
          library=str(getattr(lib, "_name", "") or ""), module=str(getattr(llama_cpp, "__file__", "")))
    model = spec.get("smoke")
    if not model:
        _emit(stage="done")
        return 0
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=model, n_ctx=256, n_batch=64, n_ubatch=64, n_threads=int(spec.get("threads") or 2),
                          verbose=True)
    _emit(stage="load", seconds=time.perf_counter() - t0)
    n_vocab = llm.n_vocab()
    batch = [1] + [3 + (i * 7) % max(1, n_vocab - 3) for i in range(47)]
    t0 = time.perf_counter()
    llm.eval(batch)  # one multi-token batch: the matrix-matrix kernels (AMX, repacked GEMM)
    _emit(stage="batch", tokens=len(batch), seconds=time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(8):  # single tokens: the matrix-vector kernels
        llm.eval([3 + i])
    _emit(stage="single", tokens=8, seconds=time.perf_counter() - t0)
    import math

    logits = llm.scores[llm.n_tokens - 1]
    finite = bool(all(math.isfinite(float(x)) for x in logits[: min(len(logits), 4096)]))
    _emit(stage="done", finite_logits=finite)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
