"""Run a sizeup function that drives llama.cpp in a child process, with progress, a deadline and
a diagnosis when it dies natively.

llama.cpp is native code: an AMX kernel, a wheel built for another CPU or a hostile model file can
kill the process with a signal. Python cannot catch that, so everything that loads llama.cpp runs
here, in a child: the parent gets the function's JSON result, or one line naming the probable
cause (:func:`sizeup.engine.doctor.explain_child_crash`). A crash costs one call, never the run.

Protocol: the parent writes ``{"target": "sizeup.mod:func", "kwargs": {...}}`` to the child's
stdin; the child calls ``func(**kwargs, progress=emit)`` (when the function takes ``progress``) and
writes JSON lines: ``{"event": "progress", "args": [...]}`` any number of times, then one
``{"event": "result", "value": ...}`` or ``{"event": "error", "error": "one line"}``. Targets must be
functions inside the ``sizeup`` package: the child imports nothing else by name.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import SizeupError

MAX_LINE_BYTES = 64 << 20  # one result line (a matrix result, a quality result) is far below this
MAX_STDERR_TAIL = 16384
DEFAULT_TIMEOUT_S = 6 * 3600.0


class ChildFailed(SizeupError):
    """The child died natively, timed out or reported an error; ``str()`` is one line."""

    def __init__(self, message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


def _src_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _tail_reason(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        low = ln.lower()
        if "ggml_assert" in low or "error" in low or "failed" in low:
            return ln[:300]
    return lines[-1][:300] if lines else ""


@dataclass
class ChildRun:
    """How a JSON-lines child ended (see :func:`run_json_child`)."""

    returncode: int | None
    timed_out: bool
    oversized: bool
    stderr_tail: str


def run_json_child(argv: list[str], stdin_bytes: bytes, *, timeout: float,
                   on_event: Callable[[dict[str, Any]], bool], max_line: int = MAX_LINE_BYTES) -> ChildRun:
    """Run ``argv`` (a sizeup child speaking JSON lines on stdout) under a deadline.

    Feeds ``stdin_bytes``, calls ``on_event`` for every JSON object line (stray native output is
    skipped); ``on_event`` returns True to stop reading and kill the child. The child runs in its
    own session and is killed, with its whole group, on timeout, an oversized line, a stop request
    or any exception (KeyboardInterrupt included) in the parent. Shared by every llama.cpp child:
    :func:`call_in_child`, the benchmark worker runner.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = _src_root() + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                start_new_session=True)
        timed_out = oversized = stop = False
        try:
            try:
                assert proc.stdin is not None
                proc.stdin.write(stdin_bytes)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            deadline = time.monotonic() + timeout
            sel = selectors.DefaultSelector()
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ)
            buf = b""
            while not stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > max_line:
                    oversized = True
                    break
                while b"\n" in buf and not stop:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue  # stray native output on stdout
                    if isinstance(ev, dict):
                        stop = bool(on_event(ev))
            sel.close()
            if timed_out or oversized or stop:
                _kill(proc)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _kill(proc)
                rc = proc.returncode
        except BaseException:
            _kill(proc)
            raise
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - MAX_STDERR_TAIL))
        tail = err.read().decode("utf-8", "replace")
    return ChildRun(rc, timed_out, oversized, tail)


def call_in_child(target: str, kwargs: dict[str, Any] | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                  progress: Callable[..., None] | None = None, python: str | None = None) -> Any:
    """``target(**kwargs)`` in a fresh child process; returns its (JSON) result.

    Raises :class:`ChildFailed` (a :class:`SizeupError`: one line, exit 2 at the CLI) on error,
    native crash or timeout, and KeyboardInterrupt after killing the child when interrupted.
    """
    if not target.startswith("sizeup.") or ":" not in target:
        raise ValueError(f"not a sizeup function: {target}")
    spec = json.dumps({"target": target, "kwargs": kwargs or {}})
    got: dict[str, Any] = {}

    def on_event(ev: dict[str, Any]) -> bool:
        kind = ev.get("event")
        if kind == "progress" and progress and isinstance(ev.get("args"), list):
            try:
                progress(*ev["args"])
            except Exception:
                pass  # a progress display must not end the measurement
        elif kind == "result":
            got["result"] = ev.get("value")
        elif kind == "error":
            got["error"] = str(ev.get("error") or "unknown error")[:1000]
        return False

    run = run_json_child([python or sys.executable, "-m", "sizeup.llamacpp.child"], spec.encode(), timeout=timeout,
                         on_event=on_event)
    if run.timed_out:
        raise ChildFailed(f"timed out after {timeout:.0f} s")
    if "result" in got:
        return got["result"]
    if run.oversized:
        raise ChildFailed("child wrote an oversized line", run.returncode)
    if "error" in got:
        raise ChildFailed(got["error"], run.returncode)
    rc = run.returncode
    if rc is not None and rc < 0:
        from ..engine.doctor import explain_child_crash

        raise ChildFailed(explain_child_crash(rc, run.stderr_tail, python), rc)
    reason = _tail_reason(run.stderr_tail)
    raise ChildFailed(f"child exited with code {rc}" + (f": {reason}" if reason else ""), rc)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=_default) + "\n")
    sys.stdout.flush()


def _default(o: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(o):
        return asdict(o)
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple, frozenset)):
        return list(o)
    return str(o)


def main() -> int:
    try:
        spec = json.loads(sys.stdin.read(16 << 20))
        target = str(spec["target"])
        mod_name, _, func_name = target.partition(":")
        if not mod_name.startswith("sizeup."):
            raise ValueError(f"not a sizeup function: {target}")
        func = getattr(importlib.import_module(mod_name), func_name)
        kwargs = dict(spec.get("kwargs") or {})
        if "progress" in inspect.signature(func).parameters:
            kwargs["progress"] = lambda *a: _emit({"event": "progress", "args": list(a)})
        value = func(**kwargs)
        _emit({"event": "result", "value": value})
    except SizeupError as e:
        _emit({"event": "error", "error": str(e)})
    except ImportError as e:
        from ..engine.diagnose import explain_import_error

        _emit({"event": "error", "error": explain_import_error(f"{type(e).__name__}: {e}").line()})
    except Exception as e:  # one line naming the exception; the parent raises it as ChildFailed
        _emit({"event": "error", "error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
