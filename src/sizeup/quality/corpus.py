"""The text a quality run is measured on: built-in corpora every Python install has, or a user file.

Why these built-ins: a quality number is only comparable when the text is the same, and sizeup
may download nothing at run time. Every Python installation carries two sizeable, stable,
license-clean texts:

* ``code`` - the standard library's own source: the top-level ``*.py`` modules of
  ``sysconfig.get_paths()["stdlib"]`` in sorted order, concatenated up to a fixed size cap, so
  the selection is deterministic for a given Python version;
* ``prose`` - the language reference topics shipped for ``help()`` (``pydoc_data.topics.topics``),
  joined in sorted key order: English technical prose.

Both change only with the Python version, which is part of the corpus identity (:attr:`Corpus.sha256`
covers the text itself, so caches can never mix two versions).
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ..errors import SizeupError

CODE_CAP_BYTES = 1_000_000  # fixed size of the "code" corpus (about 250k tokens for BPE vocabularies)
MAX_FILE_BYTES = 16 * 1024 * 1024  # a user corpus beyond this is truncated (and said so); < logits.MAX_CORPUS_TOKENS
BUILTIN = ("code", "prose")


@dataclass(frozen=True)
class Corpus:
    name: str  # "code", "prose", or the file path
    text: str
    note: str = ""  # e.g. "truncated to 32 MiB"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def code_corpus(cap: int = CODE_CAP_BYTES) -> Corpus:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    try:
        files = sorted(p for p in stdlib.glob("*.py") if p.is_file())
    except OSError as e:
        raise SizeupError(f"cannot read the Python standard library at {stdlib}: {e}") from e
    parts: list[str] = []
    size = 0
    for p in files:
        try:
            t = p.read_bytes()[: cap - size].decode("utf-8", "replace")
        except OSError:
            continue
        parts.append(f"# file: {p.name}\n{t}\n")
        size += len(t.encode("utf-8"))
        if size >= cap:
            break
    if not parts:
        raise SizeupError(f"no Python source files found under {stdlib} for the 'code' corpus")
    return Corpus("code", "".join(parts))


def prose_corpus() -> Corpus:
    try:
        from pydoc_data.topics import topics
    except ImportError as e:  # stripped-down Python builds
        raise SizeupError("this Python has no pydoc_data (needed for the 'prose' corpus); pass a text file") from e
    return Corpus("prose", "\n\n".join(topics[k] for k in sorted(topics)))


def file_corpus(path: str | os.PathLike[str], cap: int = MAX_FILE_BYTES) -> Corpus:
    p = Path(path)
    from ..safe_open import open_regular

    try:
        with open_regular(p) as f:  # a FIFO or device given as the corpus must not block
            data = f.read(cap + 1)
    except OSError as e:
        raise SizeupError(f"{p}: cannot read corpus file: {e.strerror or e}") from e
    note = ""
    if len(data) > cap:
        data = data[:cap]
        note = f"truncated to the first {cap // (1024 * 1024)} MiB"
    return Corpus(str(p), data.decode("utf-8", "replace"), note)


def load_corpus(spec: str) -> Corpus:
    """``code``, ``prose``, or a path to a UTF-8 text file (invalid bytes replaced)."""
    if spec == "code":
        return code_corpus()
    if spec == "prose":
        return prose_corpus()
    return file_corpus(spec)
