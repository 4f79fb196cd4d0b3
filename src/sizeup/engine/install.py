"""Install llama-cpp-python built with flags that work on this CPU (``sizeup engine install``).

llama-cpp-python ships as a source distribution only, so every install compiles llama.cpp. Left
to itself pip builds it ``-march=native``, which crashes on AMX Xeons, and caches the wheel keyed
by the *source*: a wheel built with other flags, or on another CPU, comes back silently on the
next install. So this module

1. chooses the CMake flags for this CPU (:mod:`sizeup.engine.buildflags`; the user's own
   ``CMAKE_ARGS`` win),
2. builds the wheel with ``pip wheel --no-cache-dir`` (pip's cache never sees it) into sizeup's
   own cache, under a key made of the version, the flags, the CPU's features and the platform,
3. installs exactly that file with ``--force-reinstall --no-deps`` (then its dependencies).

``PIP_NO_CACHE_DIR`` set (to anything but 0/false/off) also turns sizeup's cache off: a fresh build.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SizeupError
from .buildflags import build_key, merge_cmake_args, recommended_options

# The llama-cpp-python release sizeup is tested against (tests, benchmarks, native constants).
TESTED_VERSION = "0.3.36"
BUILD_TIMEOUT_S = 3600.0


@dataclass
class BuildPlan:
    version: str
    cmake_args: str
    key: str
    wheel_dir: Path
    features: list[str]
    machine: str

    def to_dict(self) -> dict:
        return {"version": self.version, "cmake_args": self.cmake_args, "key": self.key,
                "wheel_dir": str(self.wheel_dir), "features": self.features, "machine": self.machine}


def cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("SIZEUP_ENGINE_CACHE") or Path(user_cache_dir("sizeup")) / "engine")


def pip_cache_disabled(env: dict | None = None) -> bool:
    v = (env if env is not None else os.environ).get("PIP_NO_CACHE_DIR", "")
    return v.strip().lower() not in ("", "0", "false", "no", "off")


def plan_build(version: str = TESTED_VERSION, user_cmake_args: str | None = None,
               features: list[str] | None = None, machine: str | None = None) -> BuildPlan:
    if features is None or machine is None:
        from ..hardware.cpu import probe_cpu

        info, _n, _e = probe_cpu()
        features = list(info.features) if features is None else features
        machine = (info.arch or platform.machine()) if machine is None else machine
    args = merge_cmake_args(recommended_options(features, machine),
                            os.environ.get("CMAKE_ARGS") if user_cmake_args is None else user_cmake_args)
    py_tag = f"{sys.implementation.name}{sys.version_info.major}{sys.version_info.minor}"
    key = build_key(package_version=version, cmake_args=args, machine=machine, features=features,
                    python_tag=py_tag, platform_tag=sysconfig.get_platform())
    return BuildPlan(version, args, key, cache_root() / "wheels" / key, sorted(features), machine)


def cached_wheel(plan: BuildPlan) -> Path | None:
    found = sorted(plan.wheel_dir.glob("llama_cpp_python-*.whl")) if plan.wheel_dir.is_dir() else []
    return found[0] if found else None


def _run(cmd: list[str], env: dict, log, timeout: float) -> None:
    try:
        subprocess.run(cmd, env=env, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SizeupError(f"`{' '.join(cmd[:5])} ...` did not finish in {timeout:.0f} s") from None
    except subprocess.CalledProcessError as e:
        tail = ""
        if hasattr(log, "seek"):
            log.flush()
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4000))
            lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            errs = [ln for ln in lines if "error" in ln.lower()]
            tail = (errs or lines or [""])[-1].strip()[:300]
        raise SizeupError(f"`{' '.join(cmd[2:5])} ...` failed with exit code {e.returncode}" + (f": {tail}" if tail else "")) from None


def build_wheel(plan: BuildPlan, python: str | None = None, progress=None) -> Path:
    """Compile the wheel for ``plan`` (minutes) into its cache dir; return the wheel's path."""
    py = python or sys.executable
    env = dict(os.environ)
    env["CMAKE_ARGS"] = plan.cmake_args
    env["FORCE_CMAKE"] = "1"
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    with tempfile.TemporaryDirectory(prefix="sizeup-engine-") as tmp, tempfile.TemporaryFile() as log:
        if progress:
            progress(f"building llama-cpp-python {plan.version} with {plan.cmake_args or 'default flags'} (several minutes)")
        t0 = time.monotonic()
        _run([py, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps", "--no-binary", "llama-cpp-python",
              "--disable-pip-version-check", "-w", tmp, f"llama-cpp-python=={plan.version}"], env, log, BUILD_TIMEOUT_S)
        wheels = sorted(Path(tmp).glob("llama_cpp_python-*.whl"))
        if not wheels:
            raise SizeupError("pip wheel finished without producing a llama-cpp-python wheel")
        if pip_cache_disabled():  # no cache asked for: hand the wheel over in a temp dir the caller removes
            out_dir = Path(tempfile.mkdtemp(prefix="sizeup-wheel-"))
            final = out_dir / wheels[0].name
            shutil.move(str(wheels[0]), final)
            return final
        staging = plan.wheel_dir.with_name(plan.wheel_dir.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.move(str(wheels[0]), staging / wheels[0].name)
        (staging / "build.json").write_text(json.dumps({
            **plan.to_dict(), "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - t0, 1), "python": py}, indent=2))
        shutil.rmtree(plan.wheel_dir, ignore_errors=True)
        os.replace(staging, plan.wheel_dir)
    wheel = cached_wheel(plan)
    assert wheel is not None
    return wheel


def install_wheel(wheel: Path, extras: list[str], python: str | None = None, progress=None) -> None:
    py = python or sys.executable
    env = dict(os.environ)
    with tempfile.TemporaryFile() as log:
        if progress:
            progress(f"installing {wheel.name}")
        _run([py, "-m", "pip", "install", "--no-cache-dir", "--force-reinstall", "--no-deps",
              "--disable-pip-version-check", str(wheel)], env, log, 900)
        spec = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
        # dependencies (numpy, typing-extensions, diskcache, jinja2; server: fastapi, uvicorn ...)
        _run([py, "-m", "pip", "install", "--disable-pip-version-check", spec], env, log, 900)


def install_engine(version: str = TESTED_VERSION, extras: list[str] | None = None, rebuild: bool = False,
                   python: str | None = None, user_cmake_args: str | None = None, progress=None) -> dict:
    """Build (or reuse) and install llama-cpp-python for this CPU. Returns what was done."""
    plan = plan_build(version, user_cmake_args)
    use_cache = not rebuild and not pip_cache_disabled()
    wheel = cached_wheel(plan) if use_cache else None
    reused = wheel is not None
    if wheel is None:
        wheel = build_wheel(plan, python, progress)
    install_wheel(wheel, list(extras or []), python, progress)
    if pip_cache_disabled() and wheel.parent.name.startswith("sizeup-wheel-"):
        shutil.rmtree(wheel.parent, ignore_errors=True)
    return {**plan.to_dict(), "wheel": str(wheel), "reused_cached_wheel": reused, "extras": list(extras or [])}
