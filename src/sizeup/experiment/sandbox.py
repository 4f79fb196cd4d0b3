"""Run untrusted, model-generated Python in a contained child process - never in sizeup's own.

A generated "solution" may loop forever, allocate without bound, fork without bound, fill the
disk, or read and write files it has no business touching. Each program runs:

* in a fresh interpreter, ``python -I`` (isolated: no ``PYTHON*`` variables, no user site, the
  script's directory is not trusted for imports), started by a small fixed launcher that sets the
  limits and then ``execve``\\ s it (no ``preexec_fn``: sizeup's parent may have threads);
* in an empty, freshly created temporary working directory (``HOME`` and ``TMPDIR`` point there
  too), removed afterwards;
* with a stripped environment (only ``PATH``, ``LANG``, ``HOME``, ``TMPDIR``,
  ``PYTHONHASHSEED``, ``PYTHONDONTWRITEBYTECODE``): no tokens, no proxies, no user paths;
* under rlimits: CPU seconds (``RLIMIT_CPU``), address space (``RLIMIT_AS``), size of any file
  written (``RLIMIT_FSIZE``), open files (``RLIMIT_NOFILE``), no core dumps, and no new processes
  (``RLIMIT_NPROC`` = 1: a fork bomb's first ``fork()`` fails with EAGAIN);
* when sizeup runs as root: as the unprivileged ``nobody`` user (groups dropped), because the
  kernel does not enforce ``RLIMIT_NPROC`` for root and because root could read or write any
  file - as ``nobody`` it can write only its own temporary directory, and cannot read root's
  ``~/.ssh``;
* on Linux with Landlock (5.13+): file-system access limited to reading the system directories
  and the interpreter's prefix, and full access to its temporary directory only - so even as an
  ordinary user it cannot read ``~/.ssh`` or write outside its directory (``/tmp`` included);
* in its own session / process group, killed as a group at a wall-clock timeout;
* with no inherited file descriptors (``close_fds``), ``stdin`` from ``/dev/null``, ``stdout`` and
  ``stderr`` into files (bounded by ``RLIMIT_FSIZE``) of which only the tails are read back.

What is *not* contained: network access (no namespaces are created), and, without root and
without Landlock, files the user can read. The sandbox keeps a generated program from harming the machine or the run;
it does not make its verdict tamper-proof against code written to fake a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

MAX_CODE_BYTES = 1 << 20
TAIL_BYTES = 4096
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CPU_S = 5
DEFAULT_MEMORY = 1 << 30
DEFAULT_FSIZE = 1 << 20
NOBODY = 65534

_LAUNCHER = r"""
import json, os, resource, sys
a = json.loads(sys.argv[1])
def lim(which, v):
    try:
        resource.setrlimit(which, (v, v))
    except (ValueError, OSError):
        pass
lim(resource.RLIMIT_CORE, 0)
lim(resource.RLIMIT_CPU, a["cpu"])
lim(resource.RLIMIT_FSIZE, a["fsize"])
lim(resource.RLIMIT_NOFILE, 64)
lim(resource.RLIMIT_AS, a["mem"])
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(a["uid"])
    os.setuid(a["uid"])
    if os.geteuid() == 0:
        sys.exit(97)
if hasattr(resource, "RLIMIT_NPROC"):
    lim(resource.RLIMIT_NPROC, a["nproc"])
os.umask(0o077)
def landlock():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    sc = libc.syscall
    sc.restype = ctypes.c_long
    abi = sc(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= 1 << 13
    if abi >= 3:
        handled |= 1 << 14
    if abi >= 5:
        handled |= 1 << 15
    attr = ctypes.c_uint64(handled)
    rfd = sc(444, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if rfd < 0:
        return
    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]
    read = (1 << 0) | (1 << 2) | (1 << 3)
    for path, rights in [(p, read) for p in a["read"]] + [(a["work"], handled)]:
        try:
            fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        sc(445, ctypes.c_int(rfd), ctypes.c_int(1), ctypes.byref(Beneath(rights & handled, fd)), ctypes.c_uint32(0))
        os.close(fd)
    if libc.prctl(38, 1, 0, 0, 0) != 0:
        sys.exit(98)
    if sc(446, ctypes.c_int(rfd), ctypes.c_uint32(0)) != 0:
        sys.exit(98)
    os.close(rfd)
if a["landlock"] and sys.platform.startswith("linux"):
    landlock()
os.execve(a["python"], [a["python"], "-I", a["script"]], a["env"])
"""


@dataclass
class SandboxResult:
    ok: bool  # exit status 0 (and the marker printed, when one was asked for)
    returncode: int | None
    reason: str  # "ok", "timeout", "killed by SIGXCPU", "exit 1: AssertionError", ...
    seconds: float
    stdout_tail: str
    stderr_tail: str
    timed_out: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _world_runnable(path: str) -> bool:
    """Whether a user with no rights of its own can execute ``path``: the file world-executable and
    every directory above it world-searchable."""
    try:
        real = os.path.realpath(path)
        if not os.stat(real).st_mode & 0o001:
            return False
        d = os.path.dirname(real)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return False
            parent = os.path.dirname(d)
            if parent == d:
                return True
            d = parent
    except OSError:
        return False


def sandbox_python() -> str | None:
    """The interpreter for generated code: sizeup's own when the sandbox user can run it, else a
    system ``python3`` (solutions need only the standard library). None when there is none."""
    if os.geteuid() != 0:
        return os.path.realpath(sys.executable)
    seen = []
    for c in (sys.executable, getattr(sys, "_base_executable", None), "/usr/bin/python3", "/usr/local/bin/python3",
              "/bin/python3", shutil.which("python3")):
        if c and c not in seen:
            seen.append(c)
            if _world_runnable(c):
                return os.path.realpath(c)
    return None


def _read_dirs(python: str) -> list[str]:
    """Directories the program may read (Landlock): the system's, and the interpreter's prefix."""
    dirs = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/dev", "/proc/self"]
    real = os.path.realpath(python)
    dirs.append(os.path.dirname(os.path.dirname(real)))  # <prefix>/bin/python -> <prefix>
    if os.path.realpath(sys.executable) == real:
        dirs += [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    return list(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            return f.read(TAIL_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("Traceback", "File ", "^", "~")):
            continue
        return ln[:200]
    return ""


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_python(code: str, *, timeout: float = DEFAULT_TIMEOUT_S, cpu_seconds: int = DEFAULT_CPU_S,
               memory_bytes: int = DEFAULT_MEMORY, file_bytes: int = DEFAULT_FSIZE, marker: str | None = None,
               python: str | None = None, landlock: bool = True) -> SandboxResult:
    """Run ``code`` as a script in the sandbox; ``ok`` when it exits 0 (and printed ``marker``)."""
    data = code.encode("utf-8", "replace")
    if len(data) > MAX_CODE_BYTES:
        return SandboxResult(False, None, "program too large", 0.0, "", "")
    python = python or sandbox_python()
    if python is None:
        return SandboxResult(False, None, "no Python interpreter the sandbox user may run", 0.0, "", "")
    work = tempfile.mkdtemp(prefix="sizeup-sandbox-")
    logs = tempfile.mkdtemp(prefix="sizeup-sandbox-out-")  # outside the program's reach (mode 700)
    try:
        script = os.path.join(work, "main.py")
        with open(script, "wb") as f:
            f.write(data)
        uid = NOBODY
        if os.geteuid() == 0:
            os.chown(work, uid, uid)
            os.chown(script, uid, uid)
        os.chmod(work, 0o700)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": work, "TMPDIR": work, "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1"}
        args = {"cpu": int(cpu_seconds), "fsize": int(file_bytes), "mem": int(memory_bytes), "uid": uid,
                "nproc": 1, "python": python, "script": script, "env": env, "work": work,
                "landlock": landlock, "read": _read_dirs(python)}
        out_p, err_p = os.path.join(logs, "stdout"), os.path.join(logs, "stderr")
        t0 = time.monotonic()
        with open(out_p, "wb") as out, open(err_p, "wb") as err:
            proc = subprocess.Popen([python, "-I", "-S", "-c", _LAUNCHER, json.dumps(args)], cwd=work, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True,
                                    start_new_session=True)
            timed_out = False
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                rc = None
            except BaseException:
                _kill_group(proc)
                raise
            _kill_group(proc)  # whatever it left behind in its group
        seconds = time.monotonic() - t0
        so, se = _tail(out_p), _tail(err_p)
        if timed_out:
            return SandboxResult(False, None, f"timeout after {timeout:.0f} s", seconds, so, se, True)
        if rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            why = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "file size limit", "SIGKILL": "killed"}.get(name, name)
            return SandboxResult(False, rc, f"killed by {name} ({why})", seconds, so, se)
        if rc == 98:
            return SandboxResult(False, rc, "could not apply the file-system restrictions", seconds, so, se)
        if rc == 97:
            return SandboxResult(False, rc, "could not drop root privileges", seconds, so, se)
        if rc != 0:
            line = _last_error_line(se)
            return SandboxResult(False, rc, f"exit {rc}" + (f": {line}" if line else ""), seconds, so, se)
        if marker is not None and marker not in so:
            return SandboxResult(False, rc, "exited before the tests finished", seconds, so, se)
        return SandboxResult(True, rc, "ok", seconds, so, se)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
