"""Silence llama.cpp's native logging around a call.

llama.cpp (and ggml) print load chatter straight to file descriptor 2 from C, which Python's
``sys.stderr`` redirection cannot catch and ``verbose=False`` does not fully stop. sizeup's
contract is that stderr carries only sizeup's own one-line messages, so native output is sent to
/dev/null for the duration of the block (and kept, when asked, for error reports).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_stderr(keep: list[str] | None = None):
    """Redirect fd 2 to a temp file for the block; append its text to ``keep`` if given."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved, 2)
            os.close(saved)
            if keep is not None:
                tmp.seek(0)
                keep.append(tmp.read(1 << 20).decode("utf-8", "replace"))
