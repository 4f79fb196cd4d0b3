"""Shared output helpers: JSON for scripts, rich tables for people, errors to stderr.

rich is imported lazily (it costs ~60 ms) so commands that print JSON never pay for it.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def print_json(obj: Any) -> None:
    """JSON on stdout; always valid JSON: NaN and +/-Infinity (a GGUF's float metadata can hold
    them; JSON has no such numbers) are written as null."""
    try:
        text = json.dumps(obj, indent=2, default=_json_default, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: the (rare) slow path
        text = json.dumps(_finite(obj), indent=2, default=_json_default, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text)
    sys.stdout.write("\n")


def _finite(o: Any) -> Any:
    """``o`` with non-finite floats replaced by None, containers and dataclasses walked."""
    import math
    from dataclasses import asdict, is_dataclass

    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [_finite(v) for v in o]
    if is_dataclass(o) and not isinstance(o, type):
        return _finite(asdict(o))
    if hasattr(o, "item") and not isinstance(o, (str, bytes)):
        try:
            return _finite(o.item())
        except (TypeError, ValueError):
            return o
    return o


def _json_default(o: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(o):
        return asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    return str(o)


_console = None
_err_console = None


def console():
    """rich Console on stdout (created on first use)."""
    global _console
    if _console is None:
        from ..render.safe import SafeConsole

        _console = SafeConsole(highlight=False)
    return _console


def err_console():
    """rich Console on stderr, for progress bars and warnings (keeps stdout clean for pipes)."""
    global _err_console
    if _err_console is None:
        from ..render.safe import SafeConsole

        _err_console = SafeConsole(stderr=True, highlight=False)
    return _err_console


def warn(msg: str) -> None:
    from ..render.safe import one_line

    print(f"sizeup: warning: {one_line(msg)}", file=sys.stderr)
