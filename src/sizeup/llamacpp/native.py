"""What every sizeup process that drives llama.cpp through ctypes shares.

The benchmark worker, the memory simulator, the quantizer and the quality scorer each run
llama.cpp in a child process and need the same enum values (include/llama.h, ggml.h of the
vendored llama.cpp) and the same way of catching llama.cpp's log: installed through
``llama_log_set`` so native chatter never reaches the user's terminal, bounded in size, and
searched for the line that explains a failure.
"""

from __future__ import annotations

import ctypes
import json
import sys
from typing import Any, Callable

# enum ggml_type values accepted for the KV cache (-ctk / -ctv)
KV_TYPE_IDS: dict[str, int] = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
                               "iq4_nl": 20, "bf16": 30}
# enum llama_flash_attn_type
FLASH_ATTN_IDS: dict[Any, int] = {"auto": -1, False: 0, True: 1}
# enum llama_load_mode
LOAD_MODE_NONE, LOAD_MODE_MMAP = 0, 1

# enum ggml_log_level
LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_CONT = 1, 2, 3, 4, 5


class LogCapture:
    """Collects llama.cpp's log lines at or above ``min_level`` (continuations follow their line).

    Keep the object alive while llama.cpp runs: it owns the ctypes callback, and a collected
    callback would crash the process on the next log line.
    """

    def __init__(self, L, min_level: int = LOG_INFO, max_chars: int = 4 << 20) -> None:
        self.parts: list[str] = []
        self._size = 0
        self._last = LOG_INFO
        self._min = min_level
        self._max = max_chars

        @L.llama_log_callback
        def _cb(level, text, user_data):  # noqa: ARG001 - ctypes signature
            if level != LOG_CONT:
                self._last = level
            if self._last < self._min or not text or self._size >= self._max:
                return
            s = text.decode("utf-8", "replace")
            self._size += len(s)
            self.parts.append(s)

        self._cb = _cb
        L.llama_log_set(_cb, ctypes.c_void_p(0))

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def last_error(self) -> str:
        """The last line that reads like a failure (assertions, errors), at most 300 characters.

        When only errors are captured, any last line is the explanation, keyword or not.
        """
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        for line in reversed(lines):
            low = line.lower()
            if "ggml_assert" in low or "error" in low or "failed" in low or "invalid" in low:
                return line[:300]
        return lines[-1][:300] if lines and self._min >= LOG_ERROR else ""


def context_params(L, cfg: dict[str, Any]):
    """``llama_context_params`` with the sizes and cache types every sizeup child sets from a
    config dict (n_ctx, n_batch, n_ubatch, type_k, type_v, flash_attn); callers add the rest."""
    cp = L.llama_context_default_params()
    cp.n_ctx = int(cfg["n_ctx"])
    cp.n_batch = int(cfg["n_batch"])
    cp.n_ubatch = int(cfg["n_ubatch"])
    cp.type_k = KV_TYPE_IDS[cfg["type_k"]]
    cp.type_v = KV_TYPE_IDS[cfg["type_v"]]
    cp.flash_attn_type = FLASH_ATTN_IDS[cfg["flash_attn"]]
    return cp


def child_main(worker: Callable[[dict[str, Any]], dict[str, Any]], argv: list[str]) -> int:
    """Entry point of a child process: JSON spec in ``argv[1]``, one JSON result line on stdout.

    Failures become ``{"error": "one line"}`` for the parent to report; nothing is raised, so
    the only way a child fails without a result is a native crash, which the parent detects.
    """
    from ..errors import SizeupError

    try:
        res = worker(json.loads(argv[1]))
    except ImportError as e:
        from ..engine.diagnose import explain_import_error

        res = {"error": explain_import_error(f"{type(e).__name__}: {e}").line()}
    except SizeupError as e:
        res = {"error": str(e)}
    except Exception as e:  # reported by the parent as one line naming the exception type
        res = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
    return 0
