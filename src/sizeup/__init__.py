"""sizeup: which local LLM runs on this machine, how fast, in how much memory, at what quality.

Library API (the CLI is a thin layer over these)::

    import sizeup
    m = sizeup.describe("model.gguf")        # normalized ModelDescription from any source
    hw = sizeup.probe_hardware()             # CPU, RAM, GPUs, bandwidth
    est = sizeup.estimate_memory(m, sizeup.RunConfig(n_ctx=8192), hardware=hw)
    found = sizeup.scan()                    # models already on this machine

Exported names:

* ``describe(source)`` -> ``ModelDescription``: a GGUF (split too), HF directory or cache
  snapshot, ONNX file, Ollama name, catalog id; ``Architecture`` and ``TensorInfo`` are its parts.
* ``probe_hardware()`` -> ``Hardware``: this machine, or a what-if one.
* ``estimate_memory(model, RunConfig(...), hardware=...)`` -> memory per device as llama.cpp
  allocates it; ``RunConfig`` holds context, batch, KV types, offload.
* ``scan()`` -> the models in the Hugging Face cache, Ollama, LM Studio and llama.cpp's cache.
* ``SizeupError`` (every user-facing failure, one line) and ``BadModelFile``.

Names are resolved lazily so ``import sizeup`` stays cheap (no numpy, no rich until used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "describe": ("sizeup.sources.dispatch", "describe"),
    "ModelDescription": ("sizeup.model", "ModelDescription"),
    "Architecture": ("sizeup.model", "Architecture"),
    "TensorInfo": ("sizeup.model", "TensorInfo"),
    "SizeupError": ("sizeup.errors", "SizeupError"),
    "BadModelFile": ("sizeup.errors", "BadModelFile"),
    "probe_hardware": ("sizeup.hardware", "probe_hardware"),
    "estimate_memory": ("sizeup.estimate.memory", "estimate_memory"),
    "RunConfig": ("sizeup.estimate.config", "RunConfig"),
    "scan": ("sizeup.sources.local_scan", "scan"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'sizeup' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY) + ["__version__"]
