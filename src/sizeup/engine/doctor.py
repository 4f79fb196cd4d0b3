"""``sizeup doctor``: is the inference engine installed, built right for this CPU, and does it run?

Everything that touches llama.cpp happens in a child process (:mod:`sizeup.engine.probe`), so a
broken build costs a red line, never this process. The checks, in order:

1. import: llama-cpp-python importable, its version and library (missing library, ABI mismatch
   and not-installed each get their own diagnosis);
2. build vs CPU: the ISA features llama.cpp was compiled with (its system info) against what the
   CPU reports: a compiled feature the CPU lacks is a SIGILL waiting to happen; AMX compiled in is
   the known crash; a feature the CPU has but the build lacks only costs speed;
3. smoke test: load a tiny synthetic model, decode one multi-token batch, then single tokens.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .diagnose import Diagnosis, compiled_features, explain_crash, explain_import_error, has_amx, missing_on_cpu

SMOKE_TIMEOUT_S = 180.0
IMPORT_TIMEOUT_S = 60.0
MAX_CHILD_OUTPUT = 1 << 20
SMOKE_MODEL_VERSION = 1


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    level: str = "error"  # error | warning | info when not ok


@dataclass
class DoctorReport:
    ok: bool
    checks: list[Check] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProbeResult:
    stages: dict[str, dict[str, Any]]
    returncode: int | None
    stderr_tail: str
    timed_out: bool = False

    @property
    def last_stage(self) -> str:
        return next(reversed(self.stages), "") if self.stages else ""


def _src_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def run_probe(smoke_model: str | None = None, python: str | None = None, timeout: float = SMOKE_TIMEOUT_S,
              threads: int = 2) -> ProbeResult:
    """Run :mod:`sizeup.engine.probe` in a child of ``python`` (default: this interpreter)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = _src_root()
    spec = json.dumps({"smoke": smoke_model, "threads": threads})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([python or sys.executable, "-m", "sizeup.engine.probe", spec], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env, start_new_session=True)
        timed_out = False
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            rc = proc.wait()
        out.seek(0)
        text = out.read(MAX_CHILD_OUTPUT).decode("utf-8", "replace")
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 16384))
        tail = err.read().decode("utf-8", "replace")
    stages: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and isinstance(ev.get("stage"), str):
            stages[ev["stage"]] = ev
    return ProbeResult(stages=stages, returncode=rc, stderr_tail=tail, timed_out=timed_out)


def smoke_model_path() -> Path:
    """A tiny synthetic llama model (Q8_0 matrices, so AMX and repacked kernels would be used), cached."""
    from platformdirs import user_cache_dir

    root = Path(os.environ.get("SIZEUP_ENGINE_CACHE") or Path(user_cache_dir("sizeup")) / "engine")
    path = root / f"smoke-v{SMOKE_MODEL_VERSION}.gguf"
    if path.is_file():
        return path
    try:
        from ..testing.synthetic_gguf import write_synthetic
    except ImportError as e:  # gguf-py is a dependency; a broken install says so
        from ..errors import SizeupError

        raise SizeupError(f"cannot write the smoke-test model: {e}") from None
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".smoke-{os.getpid()}.gguf"
    write_synthetic(tmp, "llama", dtype="Q8_0", n_embd=256, n_ff=768, n_layer=2, name="sizeup-smoke")
    os.replace(tmp, path)
    return path


def _cpu() -> dict[str, Any]:
    from ..hardware.cpu import probe_cpu

    info, _notes, _extras = probe_cpu()
    return {"model": info.model, "arch": info.arch, "features": list(info.features)}


def run_doctor(smoke: bool = True, python: str | None = None, timeout: float = SMOKE_TIMEOUT_S) -> DoctorReport:
    cpu = _cpu()
    machine = cpu["arch"] or platform.machine()
    feats = set(cpu["features"])
    rep = DoctorReport(ok=True, cpu=cpu)
    model = str(smoke_model_path()) if smoke else None
    t0 = time.monotonic()
    res = run_probe(model, python=python, timeout=timeout)
    imp = res.stages.get("import")
    if "import_error" in res.stages:
        d = explain_import_error(res.stages["import_error"].get("error", ""))
        rep.checks.append(Check("engine installed", False, d.cause, d.fix))
        rep.ok, rep.diagnosis = False, d.to_dict()
        return rep
    if imp is None:  # died before it could even report the import: a crash while loading the library
        d = explain_crash(res.returncode, res.stderr_tail, None, feats, machine)
        if res.timed_out:
            d = Diagnosis("timeout", f"importing llama-cpp-python did not finish in {timeout:.0f} s")
        rep.checks.append(Check("engine installed", False, d.cause, d.fix))
        rep.ok, rep.diagnosis = False, d.to_dict()
        return rep
    info = imp.get("system_info") or ""
    rep.engine = {"package": "llama-cpp-python", "version": imp.get("version"), "library": imp.get("library"),
                  "module": imp.get("module"), "system_info": info,
                  "compiled_features": sorted(f for f, on in compiled_features(info).items() if on)}
    from .install import TESTED_VERSION

    version = str(imp.get("version") or "?")
    if version == TESTED_VERSION:
        rep.checks.append(Check("engine installed", True, f"llama-cpp-python {version}"))
    else:  # works, probably; the native constants sizeup passes were read from the tested release
        rep.checks.append(Check("engine installed", False, f"llama-cpp-python {version}; sizeup is tested with "
                                f"{TESTED_VERSION}", "sizeup engine install", level="warning"))
    # build vs CPU
    missing = missing_on_cpu(info, feats, machine)
    if missing:
        rep.checks.append(Check("build matches CPU", False, f"the build uses {', '.join(missing)}, which this CPU "
                                "lacks (built on another CPU)", "sizeup engine install --rebuild"))
    elif has_amx(info):
        rep.checks.append(Check("build matches CPU", False, "the build has AMX kernels (-march=native on an AMX "
                                "Xeon), which crash on multi-token batches", "sizeup engine install --rebuild"))
    else:
        from .buildflags import X86_OPTIONS, is_x86

        compiled = compiled_features(info)
        unused = [f for _, f in X86_OPTIONS if is_x86(machine) and f in feats and not compiled.get(f, False)
                  and f in {"avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni"}]
        if unused:
            rep.checks.append(Check("build matches CPU", False, f"works, but the build leaves out {', '.join(unused)} "
                                    "that this CPU has (slower than it could be)", "sizeup engine install --rebuild",
                                    level="warning"))
        else:
            rep.checks.append(Check("build matches CPU", True, "compiled features are all present on this CPU"))
    if smoke:
        done = res.stages.get("done")
        if done is not None:
            b, s = res.stages.get("batch", {}), res.stages.get("single", {})
            ok = bool(done.get("finite_logits", True))
            rep.checks.append(Check("smoke test", ok,
                                    f"load, {b.get('tokens', '?')}-token batch and {s.get('tokens', '?')} single tokens "
                                    f"in {time.monotonic() - t0:.1f} s" + ("" if ok else "; logits are not finite"),
                                    "" if ok else "sizeup engine install --rebuild"))
        else:
            stage = {"import": "loading the model", "load": "decoding a multi-token batch",
                     "batch": "decoding single tokens"}.get(res.last_stage, res.last_stage or "starting")
            if res.timed_out:
                d = Diagnosis("timeout", f"the smoke test did not finish in {timeout:.0f} s ({stage})")
            else:
                d = explain_crash(res.returncode, res.stderr_tail, info, feats, machine)
            rep.checks.append(Check("smoke test", False, f"failed while {stage}: {d.cause}", d.fix))
            rep.diagnosis = d.to_dict()
    rep.ok = all(c.ok or c.level != "error" for c in rep.checks)
    if rep.diagnosis is None and not rep.ok:
        bad = next(c for c in rep.checks if not c.ok and c.level == "error")
        rep.diagnosis = Diagnosis("build", bad.detail, bad.fix).to_dict()
    return rep


# --- used by the other llama.cpp children when they crash ---------------------------------------

_INFO_CACHE: dict[str, str | None] = {}


def engine_system_info(python: str | None = None) -> str | None:
    """llama.cpp's system info of ``python``'s llama-cpp-python, from a child (cached per process)."""
    key = python or sys.executable
    if key not in _INFO_CACHE:
        res = run_probe(None, python=python, timeout=IMPORT_TIMEOUT_S)
        _INFO_CACHE[key] = (res.stages.get("import") or {}).get("system_info")
    return _INFO_CACHE[key]


def explain_child_crash(returncode: int | None, log_tail: str = "", python: str | None = None) -> str:
    """One line naming the probable cause of a llama.cpp child's native death, pointing to doctor."""
    try:
        info = engine_system_info(python)
        cpu = _cpu()
        d = explain_crash(returncode, log_tail, info, set(cpu["features"]), cpu["arch"])
    except Exception:  # diagnosis must never turn one failure into two
        d = explain_crash(returncode, log_tail)
    line = d.line()
    if "sizeup doctor" not in line:
        line += " (see `sizeup doctor`)"
    return line
