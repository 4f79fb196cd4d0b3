"""sizeup: which local LLM runs on this machine, how fast, in how much memory, at what quality.

Library API (the CLI is a thin layer over these)::

    import sizeup
    m = sizeup.describe("model.gguf")        # normalized ModelDescription from any source
    hw = sizeup.probe_hardware()             # CPU, RAM, GPUs, bandwidth

Names are resolved lazily so ``import sizeup`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "describe": ("sizeup.describe", "describe"),
    "ModelDescription": ("sizeup.model", "ModelDescription"),
    "Architecture": ("sizeup.model", "Architecture"),
    "TensorInfo": ("sizeup.model", "TensorInfo"),
    "SizeupError": ("sizeup.errors", "SizeupError"),
    "BadModelFile": ("sizeup.errors", "BadModelFile"),
    "probe_hardware": ("sizeup.hardware", "probe_hardware"),
    "scan": ("sizeup.scan", "scan"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'sizeup' has no attribute {name!r}")


__all__ = sorted(_LAZY) + ["__version__"]
