"""Predictions made before a benchmark, and the speed calibration learnt from its results.

Before each configuration runs, sizeup predicts its memory (``sizeup.estimate.memory``) and its
speed (``sizeup.estimate.speed``) so the report can show predicted vs measured with the error.
Afterwards every measured tg rate becomes a calibration point for this machine: the speed
model's uncalibrated prediction for that configuration paired with the measured rate, stored in
the history under the hardware fingerprint.
:func:`load_calibration` fits :func:`sizeup.estimate.speed.calibrate` to those points, so
``sizeup estimate`` / ``fit`` can quote speeds "calibrated from N runs" on this machine.

Why calibrate per thread count: on a CPU, decode speed depends on how many cores pull from
memory; one thread reaches a fraction of the bandwidth eight do. Points remember their thread
count and GPU layer count, and a calibration is fitted on comparable points only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SizeupError

# Assumed CPU clock for the prefill FLOP estimate when the probe gives none: a typical all-core
# turbo of 2020s desktop/server parts. Prefill is compared, not calibrated, so this only moves
# the (documented) prefill prediction.
ASSUMED_CPU_GHZ = 3.0
# Where a Hardware's CPU bandwidth is an achieved read rate (sizeup's probe, now or cached),
# not a spec figure: the speed model applies a different decode efficiency to each.
MEASURED_BANDWIDTH_SOURCES = ("measured", "cached")
# The speed model's version, stored with each calibration point: points record the roofline's
# parts (memory and compute seconds per token) of the model that predicted them, and a fit on
# parts from another version would mix scales. Bump it when the model's constants or terms change.
SPEED_MODEL_VERSION = 3  # 3: probe by max reduction, measured-bandwidth efficiency 1.0, VNNI int8 speed-up
# Fewer points than this and the fit would chase noise: no calibration is reported.
MIN_POINTS = 1
MAX_POINTS = 200  # the most recent points used in one fit


@dataclass(frozen=True)
class CalibrationInfo:
    """A fitted :class:`sizeup.estimate.speed.Calibration` and which runs it came from."""

    calibration: Any  # sizeup.estimate.speed.Calibration
    n_runs: int
    n_threads: int | None
    n_gpu_layers: int | None

    # Calibration's own fields, so this object can be passed wherever a Calibration is expected
    # (``estimate_speed(..., calibration=info)``) while still saying where it came from.
    @property
    def efficiency(self) -> float:
        return self.calibration.efficiency

    @property
    def overhead_s(self) -> float:
        return self.calibration.overhead_s

    @property
    def n_points(self) -> int:
        return self.calibration.n_points

    @property
    def rel_rms_error(self) -> float:
        return self.calibration.rel_rms_error

    def describe(self) -> str:
        c = self.calibration
        where = f" at {self.n_threads} thread(s)" if self.n_threads else ""
        if getattr(c, "compute_scale", None) or getattr(c, "memory_scale", None) or getattr(c, "prefill_scale", None):
            parts = [f"{k} x{v:.2f}" for k, v in (("compute", c.compute_scale), ("memory", c.memory_scale),
                                                  ("prefill", c.prefill_scale),
                                                  ("prefill of repacked weights", getattr(c, "prefill_repacked_scale", None)))
                     if v]
            if getattr(c, "token_overhead_s", None) is not None:
                parts.append(f"{c.token_overhead_s * 1e3:.1f} ms/token overhead")
            return f"calibrated from {self.n_runs} run(s){where}: " + ", ".join(parts)
        return (f"calibrated from {self.n_runs} run(s){where}: measured = {c.efficiency:.2f} x model"
                + (f" + {c.overhead_s * 1e3:.2f} ms/token" if c.overhead_s else ""))


def device_specs(hw: Any, n_threads: int | None = None, n_gpu_layers: int = 0, build: Any = None):
    """(cpu, gpu) :class:`~sizeup.estimate.speed.DeviceSpec` for ``hw``; gpu is None when no
    layers are offloaded or the GPU's bandwidth is unknown. Returns (None, None) without a CPU
    bandwidth figure: a speed prediction from a guessed bandwidth would be noise.

    ``build``: the llama.cpp build's compiled CPU features (:class:`~sizeup.estimate.repack.
    BuildFeatures`); the SIMD width is what the *build* uses (a generic AVX2 wheel on an AVX-512
    CPU computes 256 bits at a time), else what the CPU has. The CPU's L3 (else L2) is the cache
    a model must fit in to run from cache."""
    from ..estimate.speed import DeviceSpec, cpu_peak_flops, int8_dot_speedup

    if hw is None or not hw.cpu_bandwidth_gbs:
        return None, None
    feats = set(build.features) if build is not None and getattr(build, "features", None) else set(hw.cpu.features or ())
    cores = n_threads or hw.cpu.physical_cores or 1
    if hw.cpu.arch in ("aarch64", "arm64"):
        flops = cpu_peak_flops(cores, ASSUMED_CPU_GHZ, simd_bits=128, fma_units=4)
    else:
        bits = 512 if "avx512f" in feats else 256 if "avx2" in feats or "avx" in feats else 128
        # quantized matmuls run on int8 dot products: VNNI builds go well past the fp32 peak
        flops = cpu_peak_flops(cores, ASSUMED_CPU_GHZ, simd_bits=bits) * int8_dot_speedup(feats)
    cache_kb = getattr(hw.cpu, "l3_kb", None) or getattr(hw.cpu, "l2_kb", None) or 0
    cpu = DeviceSpec("cpu", hw.cpu_bandwidth_gbs * 1e9, flops, hw.cpu.model, cache_bytes=int(cache_kb) * 1024,
                     bandwidth_measured=getattr(hw, "bandwidth_source", "") in MEASURED_BANDWIDTH_SOURCES)
    gpu = None
    if n_gpu_layers != 0 and hw.gpus:
        g = hw.gpus[0]
        if g.bandwidth_gbs and g.fp16_tflops:
            gpu = DeviceSpec("gpu", g.bandwidth_gbs * 1e9, g.fp16_tflops * 1e12, g.name)
    return cpu, gpu


_KV_BYTES = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32, "q4_1": 20 / 32,
             "iq4_nl": 18 / 32, "q5_0": 22 / 32, "q5_1": 24 / 32}  # ggml block sizes / 32 elements


def predict_speed(model: Any, cfg: Any, hw: Any, calibration: Any = None) -> dict[str, Any] | None:
    """Predicted tg/pp tok/s for a :class:`~.config.BenchConfig`, plus the efficiency-1
    bandwidth-bound rate that calibration points are made of. None when it cannot be predicted."""
    try:
        from ..estimate.memory import model_tensors
        from ..estimate.speed import estimate_speed
    except ImportError:
        return None
    if model.arch is None:
        return None
    cpu, gpu = device_specs(hw, cfg.n_threads, cfg.n_gpu_layers, build=_installed_build())
    if cpu is None:
        return None
    ngl = model.arch.n_layer + 1 if cfg.n_gpu_layers < 0 else cfg.n_gpu_layers
    tensors = model_tensors(model)
    kw = dict(cpu=cpu, gpu=gpu, n_gpu_layers=ngl if gpu else 0, depth=cfg.n_depth + cfg.n_gen // 2,
              prompt_tokens=max(cfg.n_prompt, 1), bytes_k=_KV_BYTES[cfg.type_k], bytes_v=_KV_BYTES[cfg.type_v],
              ubatch=cfg.n_ubatch, build=None if gpu else _installed_build())
    est = estimate_speed(tensors, model.arch, calibration=calibration, **kw)
    # The uncalibrated model's rate: the x axis of calibration points (see speed.calibrate).
    raw = est if calibration is None else estimate_speed(tensors, model.arch, **kw)
    model_tps = raw.decode_tps
    return {"tg_tps": est.decode_tps, "pp_tps": est.prefill_tps, "bound": est.bound,
            "calibrated": est.calibrated, "model_tps": model_tps, "regime": est.regime,
            "memory_time_s": raw.memory_time_s, "compute_time_s": raw.compute_time_s,
            "pp_model_tps": raw.prefill_model_tps, "pp_repacked_s": raw.prefill_repacked_s,
            "pp_other_s": raw.prefill_other_s, "pp_memory_s": raw.prefill_memory_s,
            "bytes_per_token": sum(est.bytes_per_token.values()),
            "cpu_bandwidth_gbs": hw.cpu_bandwidth_gbs, "notes": list(est.notes)}


def _installed_build():
    """The installed llama.cpp's compiled features (child probe, cached), or None."""
    try:
        from ..llamacpp.sysinfo import installed_build_features

        return installed_build_features()
    except Exception:  # no engine, or a broken one: fall back to the CPU's features
        return None


def predict_memory(model: Any, cfg: Any, hw: Any) -> dict[str, Any]:
    """Predicted memory of a configuration and whether it fits in free RAM / VRAM now."""
    from ..estimate.memory import estimate_memory

    rc = cfg.run_config()
    if model.arch is not None and rc.n_gpu_layers > model.arch.n_layer + 1:
        rc = rc.with_(n_gpu_layers=-1)  # llama-bench's "-ngl 99" idiom: all layers
    est = estimate_memory(model, rc, hardware=hw,
                          n_tokens_used=cfg.n_depth + max(cfg.n_prompt, 0) + cfg.n_gen + 1)
    return {
        "rss": est.rss,
        "host_total": est.host.total,
        "vram": sum(g.total for g in est.gpus) or None,
        "fits": est.fits,
        "devices": [{"name": d.name, "kind": d.kind, "total": d.total, "free": d.free} for d in est.devices],
        "notes": list(est.notes),
    }


def memory_refusal(pred: dict[str, Any]) -> str | None:
    """One line saying why a configuration would not fit, or None when it fits (or is unknown)."""
    from ..units import fmt_bytes

    if pred.get("fits") is not False:
        return None
    for d in pred.get("devices", []):
        if d.get("free") is not None and d["total"] > d["free"]:
            return (f"predicted to need {fmt_bytes(d['total'])} on {d['name']} but only {fmt_bytes(d['free'])} "
                    "is free (use --force to try anyway)")
    return "predicted not to fit in free memory (use --force to try anyway)"


def record_points(db: Any, hw_fingerprint: str, run_id: int, cfg: Any, speed_pred: dict[str, Any] | None,
                  measured: dict[str, float]) -> int:
    """Store this run's calibration point(s); returns how many were stored."""
    if not speed_pred or not speed_pred.get("model_tps") or not measured.get("tg"):
        return 0
    features = {"n_threads": cfg.n_threads, "n_gpu_layers": cfg.n_gpu_layers, "n_depth": cfg.n_depth,
                "bytes_per_token": speed_pred.get("bytes_per_token"),
                "cpu_bandwidth_gbs": speed_pred.get("cpu_bandwidth_gbs"),
                "memory_time_s": speed_pred.get("memory_time_s"), "compute_time_s": speed_pred.get("compute_time_s"),
                "regime": speed_pred.get("regime"), "pp_repacked_s": speed_pred.get("pp_repacked_s"),
                "pp_other_s": speed_pred.get("pp_other_s"), "pp_memory_s": speed_pred.get("pp_memory_s"),
                "speed_model": SPEED_MODEL_VERSION}
    db.add_calibration_point(hw_fingerprint, run_id, "tg", speed_pred["model_tps"], measured["tg"], features)
    n = 1
    if speed_pred.get("pp_model_tps") and measured.get("pp"):
        db.add_calibration_point(hw_fingerprint, run_id, "pp", speed_pred["pp_model_tps"], measured["pp"], features)
        n += 1
    return n


# A measurement more than this factor away from the uncalibrated roofline says more about the run
# (a machine busy with other work, a throttled or swapping host) than about the hardware: the model
# is never that far off on a quiet machine (benchmarks/speed_validation.py, scale_validation.py).
# Such points are left out of the fit, so one bad run cannot make every later estimate absurd.
MAX_CALIBRATION_RATIO = 8.0


def _plausible(p: dict[str, Any]) -> bool:
    try:
        r = float(p["measured"]) / float(p["predicted"])
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return 1.0 / MAX_CALIBRATION_RATIO <= r <= MAX_CALIBRATION_RATIO


def _current(p: dict[str, Any]) -> bool:
    """Whether a point's roofline parts come from this version of the speed model (points without
    parts - plain (predicted, measured) pairs - are always usable)."""
    f = p["features"]
    return f.get("memory_time_s") is None or f.get("speed_model") == SPEED_MODEL_VERSION


def _pp_point(p: dict[str, Any]) -> tuple:
    """A prefill point for calibrate_regimes: its parts when recorded, else (predicted, measured)."""
    f = p["features"]
    parts = (f.get("pp_repacked_s"), f.get("pp_other_s"), f.get("pp_memory_s"))
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in parts):
        return (*parts, p["measured"])
    return (p["predicted"], p["measured"])


def fit_points(points: list[dict[str, Any]], n_threads: int | None = None,
               n_gpu_layers: int | None = None) -> CalibrationInfo | None:
    """Fit the speed model to comparable tg points (pure; see module docstring).

    Without ``n_threads``, the points at the highest thread count recorded are used: they are the
    closest to "the whole machine", which is what estimates describe. GPU runs and CPU runs are
    never mixed (``n_gpu_layers`` 0 vs not 0).
    """
    from ..estimate.speed import TOKEN_OVERHEAD_S_CPU, TOKEN_OVERHEAD_S_GPU, calibrate, calibrate_regimes

    gpu = bool(n_gpu_layers)
    ok = [p for p in points if p.get("predicted") and p.get("measured") and isinstance(p.get("features"), dict)
          and bool(p["features"].get("n_gpu_layers", 0)) == gpu and _plausible(p) and _current(p)]
    pts = [p for p in ok if p.get("metric") == "tg"]
    if not pts:
        return None
    threads = n_threads or max(int(p["features"].get("n_threads") or 0) for p in pts)
    pts = [p for p in pts if int(p["features"].get("n_threads") or 0) == threads]
    pts = pts[-MAX_POINTS:]
    if len(pts) < MIN_POINTS:
        return None
    pp = [p for p in ok if p.get("metric") == "pp" and int(p["features"].get("n_threads") or 0) == threads]
    parts = [p for p in pts if p["features"].get("memory_time_s") is not None
             and p["features"].get("compute_time_s") is not None]
    try:
        if parts and len(parts) == len(pts):  # every point knows the roofline's parts: regime-aware fit
            cal = calibrate_regimes([(p["features"]["memory_time_s"], p["features"]["compute_time_s"], p["measured"],
                                      p["features"].get("regime")) for p in parts],
                                    [_pp_point(p) for p in pp[-MAX_POINTS:]],
                                    overhead_s=TOKEN_OVERHEAD_S_GPU if gpu else TOKEN_OVERHEAD_S_CPU)
        else:
            cal = calibrate([(p["predicted"], p["measured"]) for p in pts])
    except SizeupError:
        return None
    runs = {p.get("run_id") for p in pts}
    return CalibrationInfo(cal, len(runs), threads or None, n_gpu_layers)


def load_calibration(hw: Any, n_threads: int | None = None, n_gpu_layers: int | None = None,
                     db_path: Any = None) -> CalibrationInfo | None:
    """The speed calibration for this machine from its benchmark history, or None when there is
    no history or no usable point. Never raises for a missing or unreadable DB.

    The result reads like the estimator's :class:`~sizeup.estimate.speed.Calibration`
    (``efficiency``, ``overhead_s``, ``n_points``, ``rel_rms_error``), so it plugs straight into
    ``estimate_speed(..., calibration=...)``; ``.calibration`` is the Calibration itself and
    ``.describe()`` the line for reports ("calibrated from N run(s) at T thread(s): ...").
    ``n_threads``/``n_gpu_layers`` select comparable runs (default: the most threads, CPU-only).
    """
    return load_calibration_info(hw, n_threads, n_gpu_layers, db_path)


def load_calibration_info(hw: Any, n_threads: int | None = None, n_gpu_layers: int | None = None,
                          db_path: Any = None) -> CalibrationInfo | None:
    import sqlite3

    from ..history import HistoryDB, default_path, hardware_fingerprint

    path = db_path or default_path()
    try:
        from pathlib import Path

        if not Path(path).is_file():
            return None
        fp, _ = hardware_fingerprint(hw)
        with HistoryDB.reader(path) as db:  # read-only: never migrates, works in a read-only directory
            points = db.calibration_points(fp)
    except (SizeupError, sqlite3.Error):
        return None
    return fit_points(points, n_threads, n_gpu_layers)
