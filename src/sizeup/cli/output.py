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
    json.dump(obj, sys.stdout, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write("\n")


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
        from rich.console import Console

        _console = Console(highlight=False)
    return _console


def err_console():
    """rich Console on stderr, for progress bars and warnings (keeps stdout clean for pipes)."""
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, highlight=False)
    return _err_console


def warn(msg: str) -> None:
    print(f"sizeup: warning: {msg}", file=sys.stderr)
