"""How many tokens is this codebase? Does it fit the context window, and what KV cache does it need?

Two ways to count:

* **exact** - the model's own tokenizer, when a GGUF file of the model is at hand: llama.cpp loads
  the vocabulary only (``vocab_only``: no weights are read) and tokenizes every file;
* **approximate** - bytes per token calibrated per tokenizer family and text kind (see
  :mod:`sizeup.data.token_ratios`), when only an architecture is known (catalog models).

File collection respects ``.gitignore`` when the path is inside a git work tree (``git ls-files``),
skips binary files and vendored/build directories otherwise, and bounds file count and size so a
home directory passed by mistake cannot hang the command.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .data.token_ratios import TEXT_KIND_BY_SUFFIX, bytes_per_token
from .errors import SizeupError
from .safe_open import FileTooLarge, NotRegularFile, is_regular_file, read_regular

MAX_FILES = 200_000
MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files are usually data or generated; reported as skipped
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache",
     ".tox", "dist", "build", ".idea", ".vscode", "target", ".next", ".cache"}
)


@dataclass
class FileCount:
    path: str
    kind: str  # "code" | "prose" | "data"
    n_bytes: int
    n_lines: int
    n_tokens: int


@dataclass
class ContextReport:
    root: str
    method: str  # "exact (model tokenizer)" | "approximate (...)"
    files: list[FileCount] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    @property
    def n_tokens(self) -> int:
        return sum(f.n_tokens for f in self.files)

    @property
    def n_lines(self) -> int:
        return sum(f.n_lines for f in self.files)

    @property
    def n_bytes(self) -> int:
        return sum(f.n_bytes for f in self.files)


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head


# Config keys that make git run a program. A scanned repository is untrusted: its .git/config
# may set any of them (core.fsmonitor = "touch /tmp/pwned" runs on every status/ls-files). The
# command line outranks every config file, so each is pinned to a harmless value here, and the
# system/global config files and the caller's environment are not read at all.
_GIT_SAFE_CONFIG = (
    "core.fsmonitor=false", "core.useBuiltinFSMonitor=false", "core.hooksPath=/dev/null",
    "core.untrackedCache=false", "core.pager=cat", "core.editor=true", "core.askPass=",
    "core.sshCommand=", "core.gitProxy=", "core.alternateRefsCommand=", "credential.helper=",
    "diff.external=", "protocol.allow=never", "submodule.recurse=false",
)
GIT_TIMEOUT_S = 30


def git_safe_env() -> dict[str, str]:
    """A minimal environment for running git on an untrusted repository (no user/system config)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": "/nonexistent",
        "XDG_CONFIG_HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_SYSTEM": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
    }


def git_safe_args() -> list[str]:
    args = ["git", "--no-pager"]
    for kv in _GIT_SAFE_CONFIG:
        args += ["-c", kv]
    return args


def _git_files(root: Path) -> list[Path] | None:
    """Files git would consider (tracked + untracked not ignored), or None outside a work tree.

    git runs with every config-driven executable disabled (see ``_GIT_SAFE_CONFIG``), no system or
    global config, a clean environment, no stdin and a timeout; names it lists outside ``root``
    (absolute, or with ``..``: a hostile ``core.worktree``) are dropped.
    """
    try:
        r = subprocess.run(
            [*git_safe_args(), "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, timeout=GIT_TIMEOUT_S, env=git_safe_env(), stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    names = [n for n in r.stdout.decode("utf-8", "replace").split("\0") if n]
    # Only names inside root: a hostile core.worktree must not make us read files elsewhere.
    return [root / n for n in names[: MAX_FILES + 1] if not os.path.isabs(n) and ".." not in Path(n).parts]


def collect_files(paths: list[Path], skipped: dict[str, int]) -> list[Path]:
    """Text-file candidates under ``paths`` (files are taken as given), bounded and de-duplicated."""
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        rp = os.path.realpath(p)
        if rp in seen:
            return
        seen.add(rp)
        out.append(p)
        if len(out) > MAX_FILES:
            raise SizeupError(f"more than {MAX_FILES} files under the given paths: point at a project directory")

    for root in paths:
        if not root.exists():
            raise SizeupError(f"{root}: no such file or directory")
        if not root.is_dir():
            if not is_regular_file(root):
                raise SizeupError(f"{root}: not a regular file or directory")
            add(root)
            continue
        git = _git_files(root)
        if git is not None:
            for p in git:
                if not p.is_symlink() and is_regular_file(p):
                    add(p)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if not p.is_symlink() and is_regular_file(p):
                    add(p)
                elif not p.is_symlink():
                    skipped["not a regular file"] = skipped.get("not a regular file", 0) + 1
    return out


def read_text_files(files: list[Path], skipped: dict[str, int]) -> list[tuple[Path, str, int]]:
    """(path, text, bytes) for readable text files; binary/huge/unreadable ones are counted as skipped."""
    texts = []
    for p in files:
        try:
            data = read_regular(p, MAX_FILE_BYTES)
        except FileTooLarge:
            skipped["larger than 4 MiB"] = skipped.get("larger than 4 MiB", 0) + 1
            continue
        except NotRegularFile:
            skipped["not a regular file"] = skipped.get("not a regular file", 0) + 1
            continue
        except OSError:
            skipped["unreadable"] = skipped.get("unreadable", 0) + 1
            continue
        if _is_binary(data[:8192]):
            skipped["binary"] = skipped.get("binary", 0) + 1
            continue
        texts.append((p, data.decode("utf-8", "replace"), len(data)))
    return texts


def text_kind(path: Path) -> str:
    return TEXT_KIND_BY_SUFFIX.get(path.suffix.lower(), "code" if path.suffix else "prose")


def count_tokens(
    paths: list[Path],
    *,
    tokenize=None,
    tokenizer_family: str | None = None,
    progress=None,
) -> ContextReport:
    """Count tokens of every text file under ``paths``.

    ``tokenize(text) -> int`` gives exact counts (the model's tokenizer); without it, counts are
    approximated from calibrated bytes-per-token ratios for ``tokenizer_family``.
    """
    skipped: dict[str, int] = {}
    files = collect_files(paths, skipped)
    texts = read_text_files(files, skipped)
    root = str(paths[0]) if len(paths) == 1 else ", ".join(map(str, paths))
    method = "exact (model tokenizer)" if tokenize else f"approximate ({tokenizer_family or 'generic'} bytes/token ratio)"
    report = ContextReport(root=root, method=method, skipped=skipped)
    for i, (p, text, n_bytes) in enumerate(texts):
        kind = text_kind(p)
        if tokenize:
            n_tok = tokenize(text)
        else:
            n_tok = round(n_bytes / bytes_per_token(tokenizer_family, kind)) if n_bytes else 0
        report.files.append(FileCount(str(p), kind, n_bytes, text.count("\n") + (1 if text and not text.endswith("\n") else 0), n_tok))
        if progress:
            progress(i + 1, len(texts))
    return report


# The model's own tokenizer runs in a child process (llama.cpp is native code; see its module).
from .llamacpp.tokenizer import LlamaTokenizer  # noqa: E402,F401  (re-exported: public API)
