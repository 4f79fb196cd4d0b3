"""The benchmark child: load one model with one configuration in llama.cpp and time it.

Run as ``python -m sizeup.bench.worker`` with a JSON spec on stdin
(``{"path": ..., "config": BenchConfig.to_dict()}``). It writes JSON lines on stdout:
``{"event": "progress", ...}`` while it works and one final ``{"event": "result", ...}`` or
``{"event": "error", "error": "..."}``. Why a process per configuration: peak RSS (and VRAM) then
belong to that configuration alone, a crash or OOM kill in native code takes down one row only,
and llama.cpp's process-global state (logger, backends, thread pools) starts clean every time.

What it measures mirrors llama-bench (``tools/llama-bench/llama-bench.cpp``: ``test_prompt``,
``test_gen`` and the repetition loop in ``main``), so the rates compare:

* token ids are pseudo-random over the vocabulary (BOS first when the model adds one), from a
  seeded generator instead of ``std::rand()`` so runs are reproducible;
* pp: the prompt goes through ``llama_decode`` in ``n_batch`` chunks, then ``llama_synchronize``;
* tg: one token per ``llama_decode`` call, ``llama_synchronize`` after each;
* one warm-up (the whole prompt, one generated token) before the timed repetitions;
* before every repetition the KV cache is cleared (``llama_memory_clear``) and, with a depth
  ``d``, refilled with ``d`` tokens untimed (llama-bench restores a saved state instead; the
  timed part is the same);
* the rate of a repetition is tokens / seconds; the figure is the mean of those rates (avg_ts).

pp and tg are separate timed tests, as llama-bench's ``pp512`` and ``tg128`` rows are. Time to
first token is the prompt plus the first generated token, measured in the pp repetitions.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from typing import Any

MAX_LOG_CHARS = 256 * 1024
MAX_SPEC_BYTES = 1 << 20

from ..llamacpp.native import LOAD_MODE_MMAP as _LOAD_MODE_MMAP
from ..llamacpp.native import LOAD_MODE_NONE as _LOAD_MODE_NONE
from ..llamacpp.native import LOG_WARN, LogCapture, context_params
from ..llamacpp.rss import rss_now, rss_peak  # noqa: F401 (re-exported for experiment.measure)


class WorkerError(Exception):
    """A failure to report as this configuration's one-line reason."""


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _watch_parent() -> None:
    """Exit when the parent dies (SIGKILL of ``sizeup bench`` must not leave a model running)."""
    parent = os.getppid()

    def loop() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=loop, daemon=True).start()


class VramPeak:
    """Peak GPU memory of this process, sampled through NVML (nvidia-ml-py) when it is there.

    NVML counts per process, so other programs on the GPU do not inflate the figure. Absent NVML
    or NVIDIA GPU, ``peak`` stays None: no figure is better than a wrong one.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.peak: int | None = None
        self._stop = threading.Event()
        try:
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:
            self._nvml = None
            return
        self._interval = interval
        threading.Thread(target=self._loop, daemon=True).start()

    def _sample(self) -> None:
        pid = os.getpid()
        used = 0
        for h in self._handles:
            try:
                for p in self._nvml.nvmlDeviceGetComputeRunningProcesses(h):
                    if p.pid == pid and p.usedGpuMemory:
                        used += int(p.usedGpuMemory)
            except Exception:
                continue
        if used:
            self.peak = max(self.peak or 0, used)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def stop(self) -> int | None:
        if self._nvml is not None:
            self._sample()
            self._stop.set()
        return self.peak


def prepare_file(path: str, cold: bool) -> str:
    """Put the file in the state the load-time figure claims: "cold" or "warm" page cache.

    Cold: ``posix_fadvise(POSIX_FADV_DONTNEED)`` asks the kernel to drop the file's clean cached
    pages (no root needed; pages another process maps stay). Warm: read the file once so the load
    measures llama.cpp, not the disk. Returns the state actually achieved, with the reason when
    cold was asked for but not possible.
    """
    if cold:
        if not hasattr(os, "posix_fadvise"):
            return "warm? (posix_fadvise not available on this OS; page cache not dropped)"
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        except OSError as e:
            return f"warm? (posix_fadvise failed: {e.strerror})"
        return "cold (page cache dropped with posix_fadvise)"
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return "warm (file read into page cache first)"


class Bench:
    """One loaded model + context and the two llama-bench tests on it."""

    def __init__(self, L: Any, path: str, cfg: dict[str, Any], log: LogCapture) -> None:
        self.L = L
        self.cfg = cfg
        self.log = log
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = int(cfg["n_gpu_layers"])
        mp.load_mode = _LOAD_MODE_MMAP if cfg.get("use_mmap", True) else _LOAD_MODE_NONE
        t0 = time.perf_counter()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        self.t_load_model = time.perf_counter() - t0
        if not self.model:
            raise WorkerError(log.last_error() or "llama.cpp could not load the model")
        cp = context_params(L, cfg)
        cp.n_threads = cp.n_threads_batch = int(cfg["n_threads"])
        cp.no_perf = True
        t0 = time.perf_counter()
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.t_init_ctx = time.perf_counter() - t0
        if not self.ctx:
            raise WorkerError(log.last_error() or "llama.cpp could not create the context")
        L.llama_set_n_threads(self.ctx, int(cfg["n_threads"]), int(cfg["n_threads"]))
        vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = int(L.llama_vocab_n_tokens(vocab))
        if self.n_vocab <= 0:
            raise WorkerError("the model has an empty vocabulary")
        self.bos = int(L.llama_vocab_bos(vocab)) if L.llama_vocab_get_add_bos(vocab) else None
        self.rng = random.Random(int(cfg.get("seed", 42)))
        self.n_batch = int(cfg["n_batch"])
        self.mem = L.llama_get_memory(self.ctx)
        self.buf = (L.llama_token * max(1, self.n_batch))()

    def clear(self) -> None:
        self.L.llama_memory_clear(self.mem, False)

    def _decode(self, n: int) -> None:
        rc = self.L.llama_decode(self.ctx, self.L.llama_batch_get_one(self.buf, n))
        if rc != 0:
            raise WorkerError(f"llama_decode returned {rc}" + (" (no KV slot: context too small)" if rc == 1 else ""))

    def prompt(self, n_prompt: int) -> None:
        """llama-bench test_prompt: n_prompt random tokens in n_batch chunks."""
        done = 0
        while done < n_prompt:
            n = min(n_prompt - done, self.n_batch)
            for i in range(n):
                self.buf[i] = self.rng.randrange(self.n_vocab)
            if done == 0 and self.bos is not None:
                self.buf[0] = self.bos
            self._decode(n)
            done += n
        self.L.llama_synchronize(self.ctx)

    def gen(self, n_gen: int) -> None:
        """llama-bench test_gen: one token per decode, synchronized after each."""
        tok = self.bos if self.bos is not None else self.rng.randrange(self.n_vocab)
        for _ in range(n_gen):
            self.buf[0] = tok
            self._decode(1)
            self.L.llama_synchronize(self.ctx)
            tok = self.rng.randrange(self.n_vocab)

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.L.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "model", None):
            self.L.llama_model_free(self.model)
            self.model = None


def run(spec: dict[str, Any]) -> dict[str, Any]:
    path = str(spec["path"])
    cfg = dict(spec["config"])
    apply_test_fault(spec)
    rss_base = rss_now()  # the interpreter before llama.cpp: subtracted to get the model's share
    load_state = prepare_file(path, bool(cfg.get("cold")))
    vram = VramPeak() if int(cfg.get("n_gpu_layers", 0)) != 0 else None

    import llama_cpp as L

    log = LogCapture(L, LOG_WARN, MAX_LOG_CHARS)
    L.llama_backend_init()
    n_p, n_g, n_d, reps = int(cfg["n_prompt"]), int(cfg["n_gen"]), int(cfg["n_depth"]), int(cfg["reps"])
    emit({"event": "progress", "phase": "load", "done": 0, "total": reps})
    b = Bench(L, path, cfg, log)
    try:
        out: dict[str, Any] = {
            "load_state": load_state,
            "load_s": b.t_load_model,
            "ctx_init_s": b.t_init_ctx,
            "model_bytes": int(L.llama_model_size(b.model)),
            "n_params": int(L.llama_model_n_params(b.model)),
            "n_ctx": int(L.llama_n_ctx(b.ctx)),
            "system_info": L.llama_print_system_info().decode("utf-8", "replace").strip(),
            "rss_base": rss_base,
            "samples": {},
        }
        if cfg.get("warmup", True):
            emit({"event": "progress", "phase": "warmup", "done": 0, "total": reps})
            if n_p:
                b.prompt(n_p)
            if n_g:
                b.gen(1)
            b.clear()
        pp_s: list[float] = []
        ttft_s: list[float] = []
        tg_s: list[float] = []
        for phase, n in (("pp", n_p), ("tg", n_g)):
            if not n:
                continue
            for rep in range(reps):
                emit({"event": "progress", "phase": phase, "done": rep, "total": reps})
                b.clear()
                if n_d:
                    b.prompt(n_d)
                t0 = time.perf_counter_ns()
                if phase == "pp":
                    b.prompt(n)
                    t1 = time.perf_counter_ns()
                    b.gen(1)
                    pp_s.append((t1 - t0) / 1e9)
                    ttft_s.append((time.perf_counter_ns() - t0) / 1e9)
                else:
                    b.gen(n)
                    tg_s.append((time.perf_counter_ns() - t0) / 1e9)
        out["samples"] = {"pp_s": pp_s, "ttft_s": ttft_s, "tg_s": tg_s}
        out["rss_peak"] = rss_peak()
        out["vram_peak"] = vram.stop() if vram else None
        return out
    finally:
        b.close()


def apply_test_fault(spec: dict[str, Any]) -> None:
    """Deliberate failures for the runners' own tests (a real crash of a real child process),
    honoured only when SIZEUP_BENCH_FAULTS=1 so no user config can trigger them. Shared by the
    benchmark worker and ``sizeup try``'s measuring child."""
    fault = spec.get("fault")
    if not fault or os.environ.get("SIZEUP_BENCH_FAULTS") != "1":
        return
    if fault == "segv":
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "exit":
        os._exit(7)
    elif fault == "hang":
        time.sleep(3600)
    elif fault == "error":
        from ..errors import SizeupError

        raise SizeupError("deliberate failure (test fault)")


def main() -> int:
    _watch_parent()
    try:
        raw = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise WorkerError("benchmark spec too large")
        spec = json.loads(raw)
        res = run(spec)
    except WorkerError as e:
        emit({"event": "error", "error": str(e)})
        return 0
    except MemoryError:
        emit({"event": "error", "error": "out of memory"})
        return 0
    except Exception as e:  # the parent turns this into the row's one-line reason
        emit({"event": "error", "error": f"{type(e).__name__}: {e}"[:500]})
        return 0
    emit({"event": "result", **res})
    return 0


if __name__ == "__main__":
    sys.exit(main())
