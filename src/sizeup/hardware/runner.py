"""Running vendor tools (nvidia-smi, rocm-smi, sysctl, ...) and reading sysfs, safely.

The probe never trusts the outside world: a tool may be missing, hang on a wedged driver,
print megabytes of garbage or exit non-zero. Every call here has a timeout (2 s by default),
reads at most ``MAX_OUTPUT`` bytes, and turns every failure into a :class:`CommandResult` with
``ok == False`` and a short reason, so callers write "no GPU from this source, plus a note"
instead of exception handling.

Tests swap :func:`run_command` for a :class:`RecordedRunner` that answers from files in
``tests/data/hw/``, and point file reads at a recorded sysfs tree via the ``root`` prefix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

DEFAULT_TIMEOUT_S = 2.0
MAX_OUTPUT = 4 * 1024 * 1024  # `sysctl hw machdep` is ~20 kB, system_profiler JSON ~10 kB
MAX_SYSFS_READ = 64 * 1024  # sysfs attributes are one line; cpuinfo of 512 CPUs is ~700 kB (own limit)


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    reason: str = ""  # why not ok: "not installed", "timed out after 2 s", "exit 9: <stderr line>"


Runner = Callable[[Sequence[str]], CommandResult]


def run_command(argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
    """Run ``argv`` without a shell; never raises. Output is decoded leniently and truncated."""
    if not argv or shutil.which(argv[0]) is None:
        return CommandResult(False, reason="not installed")
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        return CommandResult(False, reason=f"timed out after {timeout:g} s")
    except OSError as e:
        return CommandResult(False, reason=f"could not run: {e.strerror or e}")
    out = proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    err = proc.stderr[:MAX_OUTPUT].decode("utf-8", "replace")
    if proc.returncode != 0:
        first = next((ln.strip() for ln in (err + "\n" + out).splitlines() if ln.strip()), "")
        return CommandResult(False, out, err, proc.returncode, f"exit {proc.returncode}" + (f": {first[:200]}" if first else ""))
    return CommandResult(True, out, err, 0)


class RecordedRunner:
    """A runner that answers from recorded outputs: ``{"nvidia-smi": "file.txt" or CommandResult}``.

    Keys are the whole command line ("sysctl -n iogpu.wired_limit_mb") or, as a fallback, the
    program name (argv[0]). Unknown programs answer "not installed", exactly as on a machine
    without them. Used by tests and handy for reproducing a user's bug report.
    """

    def __init__(self, answers: Mapping[str, "CommandResult | str | Path"], base: Path | None = None) -> None:
        self.answers = dict(answers)
        self.base = base
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(tuple(argv))
        a = self.answers.get(" ".join(argv), self.answers.get(argv[0]))
        if a is None:
            return CommandResult(False, reason="not installed")
        if isinstance(a, CommandResult):
            return a
        path = Path(a) if self.base is None else self.base / a
        return CommandResult(True, path.read_text(encoding="utf-8", errors="replace"), "", 0)


def read_text(path: Path, limit: int = MAX_SYSFS_READ) -> str | None:
    """Contents of a small (sysfs/procfs) file, or None if absent/unreadable. Never raises."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def read_int(path: Path) -> int | None:
    """An integer sysfs attribute ("12345\\n", "0x1002\\n"), or None."""
    text = read_text(path, 256)
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def under(root: Path | str, absolute: str) -> Path:
    """``/sys/class/drm`` under a root prefix (``/`` for the real machine, a test tree otherwise)."""
    return Path(root) / absolute.lstrip("/")
