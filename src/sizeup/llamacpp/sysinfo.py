"""The CPU features the installed llama.cpp was compiled with, asked of llama.cpp in a child.

Repacking (:mod:`sizeup.estimate.repack`) and the CPU kernels' speed depend on the *build*, not
on the CPU: ``ggml_cpu_has_avx2()`` is a compile-time answer. ``llama_print_system_info()``
lists them ("CPU : SSE3 = 1 | AVX2 = 1 | ... | REPACK = 1"). Importing llama_cpp happens only in
the child of :func:`sizeup.engine.doctor.run_probe`; the answer is cached on disk keyed on the
installed package's version and its shared library's size and mtime, so a rebuild is noticed.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from ..estimate.repack import BuildFeatures, features_from_system_info

PROBE_TIMEOUT_S = 60.0
MAX_CACHE_BYTES = 1 << 16


def _package_key() -> str | None:
    """Version + library identity of the installed llama-cpp-python, without importing it."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return None
    parts = [dist.version]
    for f in (dist.files or [])[:5000]:
        name = str(f)
        if name.endswith((".so", ".dylib", ".dll")) and ("llama" in name or "ggml" in name):
            try:
                st = Path(dist.locate_file(f)).stat()
                parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
            except OSError:
                continue
    return "|".join(sorted(parts))


def _cache_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("SIZEUP_CACHE") or user_cache_dir("sizeup")) / "engine" / "system-info.json"


@lru_cache(maxsize=1)
def installed_system_info() -> str | None:
    """llama.cpp's system-info line for the installed engine, or None when it is not importable."""
    key = _package_key()
    if key is None:
        return None
    path = _cache_file()
    try:
        if path.is_file() and path.stat().st_size < MAX_CACHE_BYTES:
            d = json.loads(path.read_text())
            if isinstance(d, dict) and d.get("key") == key and isinstance(d.get("system_info"), str):
                return d["system_info"]
    except (OSError, ValueError):
        pass
    from ..engine.doctor import run_probe

    r = run_probe(timeout=PROBE_TIMEOUT_S)
    info = r.stages.get("import", {}).get("system_info")
    if not isinstance(info, str):
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "system_info": info[:4000]}))
        os.replace(tmp, path)
    except OSError:
        pass
    return info


def installed_build_features() -> BuildFeatures | None:
    """The installed llama.cpp's compiled CPU features, or None when no engine is installed."""
    info = installed_system_info()
    return features_from_system_info(info) if info else None
