"""Open only regular files, with bounded reads: the one way sizeup opens a path it was handed.

Paths come from strangers: a directory walk (``~/.ollama/models/manifests``, a scanned folder, a
codebase given to ``sizeup context``) or the command line (``--system-prompt``). A named pipe,
a character device or a socket among them would block ``open()`` (a FIFO with no writer) or
stream forever (``/dev/zero``). So every such open goes through :func:`open_regular`:

* ``O_NONBLOCK`` makes ``open()`` of a FIFO return at once instead of waiting for a writer;
* ``fstat`` on the *opened* descriptor (no race with a swapped path) must say ``S_ISREG``;
* reads through :func:`read_regular` are capped at a limit the caller states.

The error raised for a non-regular file is both a :class:`SizeupError` (one line in the CLI) and
an :class:`OSError`, so callers that already treat "cannot read" as a skip keep doing so.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from .errors import SizeupError

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(SizeupError, OSError):
    """A path that is a FIFO, device, socket or directory where a file was expected."""

    def __init__(self, path: object, kind: str) -> None:
        SizeupError.__init__(self, f"{path}: not a regular file ({kind})")
        self.path = path
        self.strerror = f"not a regular file ({kind})"


class FileTooLarge(SizeupError, OSError):
    """A file over the size limit a caller set for it."""

    def __init__(self, path: object, size: int, limit: int) -> None:
        SizeupError.__init__(self, f"{path}: {size} bytes is over the {limit}-byte limit")
        self.path = path
        self.strerror = f"{size} bytes is over the {limit}-byte limit"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a file"


def is_regular_file(path: str | os.PathLike) -> bool:
    """True when ``path`` (symlinks followed) is a regular file; never opens it, never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike) -> io.BufferedReader:
    """Open ``path`` for binary reading if, and only if, it is a regular file.

    Raises :class:`NotRegularFile` for FIFOs, devices, sockets and directories (without blocking),
    and the usual :class:`OSError` (``PermissionError``, ``FileNotFoundError``) otherwise.
    """
    fd = os.open(os.fspath(path), _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, _kind(st.st_mode))
        if _FLAGS & getattr(os, "O_NONBLOCK", 0):  # back to ordinary blocking reads
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """All bytes of the regular file ``path``; :class:`FileTooLarge` when it holds more than ``limit``."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise FileTooLarge(path, size, limit)
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we read
        raise FileTooLarge(path, len(data), limit)
    return data


def read_head(path: str | os.PathLike, n: int) -> tuple[bytes, int]:
    """The first ``n`` bytes of the regular file ``path`` and its size."""
    with open_regular(path) as f:
        return f.read(n), os.fstat(f.fileno()).st_size


def read_text(path: str | os.PathLike, limit: int, errors: str = "replace") -> str:
    """UTF-8 text of a regular file, bounded by ``limit`` bytes."""
    return read_regular(path, limit).decode("utf-8", errors)


def cannot_read(path: object, e: OSError) -> SizeupError:
    """One clear line for an OSError on ``path`` (PermissionError, missing file, FIFO...)."""
    if isinstance(e, SizeupError):
        return e
    return SizeupError(f"{path}: cannot read: {e.strerror or type(e).__name__}")


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when the real path of ``path`` (symlinks resolved) lies inside the real ``folder``."""
    try:
        real = Path(os.path.realpath(path))
        base = Path(os.path.realpath(folder))
    except (OSError, ValueError):
        return False
    return real == base or base in real.parents


def model_root(folder: str | os.PathLike) -> Path:
    """The folder a model's files may live in: ``folder`` itself, or, for a Hugging Face cache
    snapshot (``models--org--name/snapshots/<rev>``), the whole repo folder, whose ``blobs/``
    holds the real files the snapshot links to."""
    f = Path(folder)
    if f.parent.name == "snapshots" and f.parent.parent.name.startswith("models--"):
        return f.parent.parent
    return f


def require_inside(path: str | os.PathLike, folder: str | os.PathLike, what: str) -> None:
    """Refuse ``path`` when its real location (symlinks resolved) is outside :func:`model_root` of
    ``folder``: a shard or external-data file linked to ``/etc/passwd`` must never be read, and no
    error about it may quote its bytes."""
    from .errors import BadModelFile

    if not inside(path, model_root(folder)):
        raise BadModelFile(path, f"{what} resolves outside the model folder {folder} (symlink?); refused")
