"""A model's own tokenizer (llama.cpp, vocabulary only), served by a child process.

``sizeup context`` counts tokens file by file. Loading even a vocabulary runs llama.cpp's loader on
a file that may come from a stranger, so the tokenizer lives in a child process started once per
model: the parent sends texts (length-prefixed UTF-8) and reads counts back (one line each). If
llama.cpp dies natively, the caller gets one line naming the probable cause, not a dead process.

Run as ``python -m sizeup.llamacpp.tokenizer PATH`` (the child side).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import SizeupError

LOAD_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 120.0
MAX_TEXT_BYTES = 64 << 20


class LlamaTokenizer:
    """``tok(text) -> int``: the number of tokens of ``text`` in the model's own tokenizer
    (no BOS, no special-token parsing), counted by llama.cpp in a child process."""

    def __init__(self, gguf_path: str | Path, python: str | None = None) -> None:
        self.path = str(gguf_path)
        self._python = python
        self._err = tempfile.TemporaryFile()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen([python or sys.executable, "-m", "sizeup.llamacpp.tokenizer", self.path],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env,
                                      start_new_session=True)
        self._read_line(LOAD_TIMEOUT_S, "loading the vocabulary")  # {"ready": n_vocab} or an error

    def _fail(self, what: str) -> SizeupError:
        rc = self._proc.poll()
        self._err.seek(0, os.SEEK_END)
        self._err.seek(max(0, self._err.tell() - 8192))
        tail = self._err.read().decode("utf-8", "replace")
        self.close()
        if rc is not None and rc < 0:
            from ..engine.doctor import explain_child_crash

            return SizeupError(f"{Path(self.path).name}: tokenizer failed while {what}: "
                               f"{explain_child_crash(rc, tail, self._python)}")
        return SizeupError(f"{Path(self.path).name}: tokenizer failed while {what} (exit code {rc})")

    def _read_line(self, timeout: float, what: str) -> dict:
        import selectors

        assert self._proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        try:
            deadline = time.monotonic() + timeout
            buf = b""
            while not buf.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    raise SizeupError(f"{Path(self.path).name}: tokenizer timed out while {what}")
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    raise self._fail(what)
                buf += chunk
                if len(buf) > 65536:
                    raise self._fail(what)
        finally:
            sel.close()
        try:
            msg = json.loads(buf)
        except ValueError:
            raise self._fail(what) from None
        if not isinstance(msg, dict):
            raise self._fail(what)
        if "error" in msg:
            self.close()
            raise SizeupError(f"{Path(self.path).name}: {str(msg['error'])[:300]}")
        return msg

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        data = text.encode("utf-8")
        if len(data) > MAX_TEXT_BYTES:
            raise SizeupError(f"text too large to tokenize ({len(data):,} bytes)")
        if self._proc.poll() is not None or self._proc.stdin is None:
            raise self._fail("counting tokens")
        try:
            self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail("counting tokens") from None
        return int(self._read_line(CALL_TIMEOUT_S, "counting tokens")["n"])

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                if self._proc.stdin:
                    self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                self._proc.kill()
                self._proc.wait()
        self._err.close()

    def __enter__(self) -> "LlamaTokenizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: never leave a child behind
        try:
            if self._proc.poll() is None:
                self._proc.kill()
        except Exception:
            pass


def _child(path: str) -> int:
    out = sys.stdout.buffer

    def send(obj: dict) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    try:
        import llama_cpp

        from .quiet import quiet_stderr
    except ImportError as e:
        from ..engine.diagnose import explain_import_error

        send({"error": explain_import_error(f"{type(e).__name__}: {e}").line()})
        return 0
    try:
        with quiet_stderr():  # llama.cpp writes load chatter to fd 2 even with verbose=False
            llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    except Exception as e:
        send({"error": f"llama.cpp could not load its vocabulary ({type(e).__name__}: {str(e)[:200]})"})
        return 0
    send({"ready": llm.n_vocab()})
    inp = sys.stdin.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return 0
        (n,) = struct.unpack("<Q", head)
        if n > MAX_TEXT_BYTES:
            send({"error": "text too large"})
            return 0
        data = inp.read(n)
        send({"n": len(llm.tokenize(data, add_bos=False, special=False))})


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
