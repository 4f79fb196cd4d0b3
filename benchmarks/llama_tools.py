"""Build llama.cpp's own tools (llama-bench, llama-perplexity, llama-fit-params) once, for benchmarks to compare with.

sizeup measures through llama-cpp-python; to check its numbers against llama.cpp's reference
tools they must come from the *same* llama.cpp source. So the tools are built from the
llama-cpp-python sdist of exactly the installed version (``pip download --no-binary :all:``),
whose ``vendor/llama.cpp`` is what the installed wheel was compiled from, with the same
CPU-only settings (no curl: nothing is downloaded at run time).

The CPU flags are sizeup's own (``sizeup.engine.buildflags``: every ISA extension this CPU has,
never the AMX kernels that crash on AMX Xeons), the same the engine is installed with, unless
``cmake_args`` says otherwise (``benchmarks/engine_flags.py`` builds a plain ``GGML_NATIVE=OFF``
variant to compare). ``ensure_tools()`` builds the targets in one cmake build, caches the binaries
under ``~/.cache/sizeup/llama-tools/<version>/<flags hash>/bin`` and returns their paths; later
calls return at once. A lock file (``fcntl.flock``) makes concurrent callers wait for one build instead of
running two. Run this file directly to build and print the paths.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TOOLS = ("llama-bench", "llama-perplexity", "llama-fit-params")
BUILD_TIMEOUT_S = 3 * 3600
MAX_SDIST_MEMBERS = 100_000


def installed_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        raise SystemExit("llama-cpp-python is not installed; nothing to match the tools to") from None


def cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("SIZEUP_LLAMA_TOOLS") or Path(user_cache_dir("sizeup")) / "llama-tools")


def _log(msg: str) -> None:
    print(f"[llama_tools] {msg}", file=sys.stderr, flush=True)


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract an sdist without letting a member escape ``dest`` (absolute paths, ``..``, links)."""
    members = tar.getmembers()
    if len(members) > MAX_SDIST_MEMBERS:
        raise RuntimeError("sdist has an implausible number of files")
    root = dest.resolve()
    for m in members:
        target = (dest / m.name).resolve()
        if not str(target).startswith(str(root) + os.sep) and target != root:
            raise RuntimeError(f"sdist member escapes the extraction dir: {m.name}")
        if m.issym() or m.islnk():
            link = (target.parent / m.linkname).resolve()
            if not str(link).startswith(str(root) + os.sep):
                raise RuntimeError(f"sdist link escapes the extraction dir: {m.name}")
    tar.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(dest)


def _fetch_source(version: str, work: Path) -> Path:
    """The vendored llama.cpp of llama-cpp-python ``version`` (sdist from PyPI via pip)."""
    sdist_dir = cache_root() / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    found = sorted(sdist_dir.glob(f"llama_cpp_python-{version}.tar.gz"))
    if not found:
        _log(f"downloading the llama-cpp-python {version} sdist")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "-q", "-d", str(sdist_dir), f"llama-cpp-python=={version}"], check=True)
        found = sorted(sdist_dir.glob(f"llama_cpp_python-{version}.tar.gz"))
        if not found:
            raise RuntimeError("pip download produced no sdist")
    with tarfile.open(found[0]) as tar:
        _safe_extract(tar, work)
    src = work / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not (src / "CMakeLists.txt").is_file():
        raise RuntimeError(f"no vendored llama.cpp in the {version} sdist")
    return src


def default_cmake_args() -> str:
    """The flags ``sizeup engine install`` builds the engine with on this CPU."""
    from sizeup.engine.install import plan_build

    return plan_build().cmake_args


def _build(version: str, dest: Path, jobs: int, cmake_args: str) -> None:
    with tempfile.TemporaryDirectory(prefix="llama-tools-", dir=cache_root()) as tmp:
        work = Path(tmp)
        src = _fetch_source(version, work)
        build = work / "build"
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        _log(f"configuring llama.cpp from {src}")
        subprocess.run(["cmake", "-S", str(src), "-B", str(build), *gen, "-DCMAKE_BUILD_TYPE=Release",
                        "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                        "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF",
                        *shlex.split(cmake_args)],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
        _log(f"building {', '.join(TOOLS)} with -j{jobs} (several minutes)")
        subprocess.run(["cmake", "--build", str(build), "--config", "Release", "-j", str(jobs), "--target", *TOOLS],
                       check=True, stdout=subprocess.DEVNULL, timeout=BUILD_TIMEOUT_S)
        staging = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for t in TOOLS:
            exe = build / "bin" / t
            if not exe.is_file():
                raise RuntimeError(f"build finished without {exe}")
            shutil.copy2(exe, staging / t)
        os.replace(staging, dest)  # all tools appear at once, or none


def ensure_tools(jobs: int = 2, cmake_args: str | None = None) -> dict[str, Path]:
    """Paths of llama-bench, llama-perplexity and llama-fit-params built from the installed
    llama-cpp-python's llama.cpp with ``cmake_args`` (default: sizeup's flags for this CPU);
    builds them the first time (minutes), returns the cached ones afterwards."""
    version = installed_version()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    if cmake_args is None:
        cmake_args = default_cmake_args()
    flags_key = hashlib.sha256(cmake_args.encode()).hexdigest()[:12]
    dest = root / version / flags_key / "bin"
    paths = {t: dest / t for t in TOOLS}
    if all(p.is_file() for p in paths.values()):
        return paths
    with open(root / f".{version}-{flags_key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second caller waits here, then finds the build done
        if not all(p.is_file() for p in paths.values()):
            dest.parent.mkdir(parents=True, exist_ok=True)
            _build(version, dest, jobs, cmake_args)
            (dest.parent / "cmake_args.txt").write_text(cmake_args + "\n")
    return paths


if __name__ == "__main__":
    for name, path in ensure_tools().items():
        print(f"{name}: {path}")
