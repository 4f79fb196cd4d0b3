"""Find every model on this machine: HF cache, Ollama, LM Studio, llama.cpp cache, given folders.

Users rarely remember where their 40 GB of GGUFs went; ``sizeup scan`` lists them in one table
with what ``sizeup inspect`` would say in brief. Design choices:

* A model that fails to parse is listed with its one-line error, never dropped, and never stops
  the scan: a corrupt download is exactly what a user scanning their disk wants to see.
* Only header bytes are read (the fast GGUF reader, safetensors JSON headers); nothing is
  hashed, so a scan of a terabyte of models takes about as long as a directory listing.
* Walks are bounded (depth and entries per root) and follow directory symlinks only once per
  real directory, so a symlink loop or a scan of ``/`` terminates.
* The same file reached twice (an LM Studio symlink to an Ollama blob, a folder given on the
  command line that is also a default location) is listed once, by real path; default
  locations are scanned first so the entry keeps its most telling location kind.

Where each tool keeps models (checked against each tool's source/docs):

* Hugging Face: ``HF_HUB_CACHE`` / ``HF_HOME``/hub / ``~/.cache/huggingface/hub``
  (huggingface_hub ``constants.py``), enumerated with ``huggingface_hub.scan_cache_dir``.
* Ollama: ``$OLLAMA_MODELS`` or ``~/.ollama/models`` (Ollama ``envconfig``), manifests -> blobs.
* LM Studio: ``~/.lmstudio/models`` (0.3+), ``~/.cache/lm-studio/models`` (older releases), the
  home named in ``~/.lmstudio-home-pointer`` (a relocated LM Studio home), and sizeup's own
  ``LMSTUDIO_MODELS`` override for a models folder moved in LM Studio's settings.
* llama.cpp ``-hf``/``-mu`` downloads: ``$LLAMA_CACHE``, else ``$XDG_CACHE_HOME/llama.cpp`` or
  ``~/.cache/llama.cpp`` on Linux, ``~/Library/Caches/llama.cpp`` on macOS,
  ``%LOCALAPPDATA%/llama.cpp`` on Windows (common.cpp ``fs_get_cache_directory``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from .dispatch import (
    Candidate,
    describe_candidate,
    describe_file,
    dir_candidates,
    hf_cache_dir,
    hf_snapshot,
    is_hf_cache_repo,
    list_dir,
)
from ..errors import SizeupError
from ..model import ModelDescription

HF_CACHE = "hf-cache"
OLLAMA = "ollama"
LMSTUDIO = "lmstudio"
LLAMA_CPP_CACHE = "llama.cpp-cache"
DIR = "dir"

MAX_DEPTH = 12  # below a scan root; model stores are 2-4 levels deep
MAX_ENTRIES_PER_ROOT = 200_000  # directory entries looked at under one root
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "blobs"})

Progress = Callable[[str, int], None]  # (what is being scanned, models found so far)


@dataclass(frozen=True)
class ScanEntry:
    name: str
    format: str  # gguf | safetensors | onnx | pytorch-pickle | ... ("?" when unreadable)
    params: int | None
    quant: str | None
    size: int  # bytes on disk, all files of the model
    context: int | None
    path: str
    location_kind: str  # hf-cache | ollama | lmstudio | llama.cpp-cache | dir
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# --- default locations --------------------------------------------------------------------------


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def ollama_models_dir() -> Path:
    env = os.environ.get("OLLAMA_MODELS")
    return Path(env).expanduser() if env else _home() / ".ollama" / "models"


def lmstudio_model_dirs() -> list[Path]:
    home = _home()
    dirs: list[Path] = []
    env = os.environ.get("LMSTUDIO_MODELS")
    if env:
        dirs.append(Path(env).expanduser())
    pointer = home / ".lmstudio-home-pointer"
    try:
        if pointer.is_file() and pointer.stat().st_size < 4096:
            target = pointer.read_text(encoding="utf-8", errors="replace").strip()
            if target:
                dirs.append(Path(target).expanduser() / "models")
    except OSError:
        pass
    dirs += [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]
    return dirs


def llama_cpp_cache_dir() -> Path:
    env = os.environ.get("LLAMA_CACHE")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / "llama.cpp"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "llama.cpp"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else _home() / ".cache") / "llama.cpp"


def default_locations() -> list[tuple[str, Path]]:
    """(kind, directory) for every default store, whether or not it exists here."""
    locs = [(HF_CACHE, hf_cache_dir()), (OLLAMA, ollama_models_dir())]
    locs += [(LMSTUDIO, d) for d in lmstudio_model_dirs()]
    locs.append((LLAMA_CPP_CACHE, llama_cpp_cache_dir()))
    return locs


# --- the scan -----------------------------------------------------------------------------------


def _one_line(e: BaseException) -> str:
    if isinstance(e, SizeupError):
        return " ".join(str(e).split())
    return f"{type(e).__name__}: {' '.join(str(e).split())}"[:400]


def _size(files: tuple[Path, ...] | list[Path]) -> int:
    total = 0
    for f in files:
        try:
            total += f.stat().st_size
        except OSError:
            pass
    return total


def entry_from(md: ModelDescription, kind: str, name: str | None = None) -> ScanEntry:
    return ScanEntry(
        name=name or md.name or Path(md.path or "?").name,
        format=md.source,
        params=md.params.total if md.params else None,
        quant=md.quant.label if md.quant else None,
        size=md.file_size,
        context=md.context_length or None,
        path=md.path or "",
        location_kind=kind,
    )


def _error_entry(name: str, fmt: str, path: Path, files, kind: str, e: BaseException | str) -> ScanEntry:
    msg = e if isinstance(e, str) else _one_line(e)
    size = _size(files) if files else (_size([path]) if path.is_file() else 0)
    return ScanEntry(name, fmt, None, None, size, None, str(path), kind, msg)


_KIND_FORMAT = {"gguf": "gguf", "hf-dir": "safetensors", "hf-cache-repo": "safetensors", "safetensors": "safetensors",
                "onnx": "onnx", "pickle": "pytorch-pickle"}


class _Scanner:
    def __init__(self, progress: Progress | None) -> None:
        self.entries: list[ScanEntry] = []
        self.seen: set[str] = set()
        self.progress = progress

    def _tick(self, what: str) -> None:
        if self.progress:
            self.progress(what, len(self.entries))

    def claim(self, path: Path) -> bool:
        """True the first time a real path is met (dedupe across locations and symlinks)."""
        try:
            key = os.path.realpath(path)
        except (OSError, ValueError):
            key = str(path)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def add_candidate(self, c: Candidate, kind: str, name: str | None = None) -> None:
        if not self.claim(c.path):
            return
        self._tick(str(c.path))
        try:
            md = describe_candidate(c)
        except Exception as e:  # noqa: BLE001 - one bad model never aborts a scan
            self.entries.append(_error_entry(name or c.label, _KIND_FORMAT.get(c.kind, "?"), c.path, c.files, kind, e))
            return
        self.entries.append(entry_from(md, kind, name))

    # -- stores --------------------------------------------------------------------------------

    def hf_cache(self, cache: Path) -> None:
        """Model repos of an HF hub cache, each at the revision it serves (refs/main or newest)."""
        if not cache.is_dir():
            return
        self._tick(str(cache))
        if _special_files_in_refs(cache):  # huggingface_hub reads refs with a plain open(): a FIFO hangs it
            self.walk(cache, HF_CACHE)
            return
        try:
            from huggingface_hub import scan_cache_dir

            info = scan_cache_dir(cache)
        except ImportError:  # not installed: fall back to walking the layout ourselves
            self.walk(cache, HF_CACHE)
            return
        except Exception as e:  # noqa: BLE001 - an unreadable cache is reported, not fatal
            self.entries.append(_error_entry("hf-cache", "?", cache, (), HF_CACHE, e))
            return
        for repo in sorted(info.repos, key=lambda r: r.repo_id):
            if repo.repo_type != "model":
                continue
            refs = repo.refs
            rev = refs.get("main") or max(repo.revisions, key=lambda r: r.last_modified, default=None)
            if rev is None:
                continue
            self.hf_snapshot(repo.repo_id, Path(rev.snapshot_path))
        for w in info.warnings:  # repos huggingface_hub could not read (broken symlinks...)
            self.entries.append(ScanEntry("hf-cache", "?", None, None, 0, None, str(cache), HF_CACHE, _one_line(w)))

    def hf_snapshot(self, repo_id: str, snap: Path, kind: str = HF_CACHE) -> None:
        """One cached revision: its checkpoint and/or GGUF files, all named by the repo id
        (what users type and see on the Hub; the quant column tells a GGUF repo's files apart)."""
        for _d, cands in _walk_candidates(snap, max_depth=3):
            for c in cands:
                self.add_candidate(c, kind, repo_id)

    def ollama(self, models_dir: Path) -> None:
        if not models_dir.is_dir():
            return
        self._tick(str(models_dir))
        try:
            from ..formats.ollama import list_ollama_models

            models = list_ollama_models(models_dir)
        except Exception as e:  # noqa: BLE001
            self.entries.append(_error_entry("ollama", "?", models_dir, (), OLLAMA, e))
            return
        for name, blob, size in models:
            blob = Path(blob)
            if not self.claim(blob):
                continue
            self._tick(name)
            try:
                md = describe_file(blob)
            except Exception as e:  # noqa: BLE001
                self.entries.append(ScanEntry(name, "gguf", None, None, int(size or 0), None, str(blob), OLLAMA, _one_line(e)))
                continue
            self.entries.append(entry_from(md, OLLAMA, name))

    def walk(self, root: Path, kind: str) -> None:
        for d, cands in _walk_candidates(root, max_depth=MAX_DEPTH, on_limit=self._limit(root, kind)):
            self._tick(str(d))
            for c in cands:
                if c.kind == "hf-cache-repo":
                    snap = hf_snapshot(c.path)
                    repo_id = c.path.name[len("models--"):].replace("--", "/")
                    if snap is None:
                        self.entries.append(_error_entry(repo_id, "?", c.path, (), kind, "cache repo has no snapshot"))
                    else:
                        self.hf_snapshot(repo_id, snap, kind)
                else:
                    self.add_candidate(c, kind)

    def _limit(self, root: Path, kind: str) -> Callable[[str], None]:
        def note(msg: str) -> None:
            self.entries.append(ScanEntry(root.name or str(root), "?", None, None, 0, None, str(root), kind, msg))

        return note


def _special_files_in_refs(cache: Path, limit: int = 100_000) -> bool:
    """True when a ``refs`` file of the HF cache is not a regular file (a FIFO, a device...)."""
    from ..safe_open import is_regular_file

    seen = 0
    try:
        repos = [e for e in list_dir(cache) if e.name.startswith(("models--", "datasets--", "spaces--"))]
    except OSError:
        return False
    for repo in repos:
        for dirpath, dirnames, filenames in os.walk(os.path.join(repo.path, "refs")):
            for name in filenames:
                seen += 1
                if seen > limit or not is_regular_file(os.path.join(dirpath, name)):
                    return True
    return False


def _walk_candidates(
    root: Path, *, max_depth: int, on_limit: Callable[[str], None] | None = None
) -> Iterator[tuple[Path, list[Candidate]]]:
    """(directory, candidates in it) for ``root`` and its sub-directories, bounded.

    Directory symlinks are followed (LM Studio trees are often links) but each real directory
    is entered once, which also ends symlink loops. Hidden directories are skipped below the
    root (``.git``, ``.locks``...), as are HF cache repos' insides (handled as a unit).
    """
    seen: set[tuple[int, int]] = set()
    budget = MAX_ENTRIES_PER_ROOT
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            st = d.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = list_dir(d)
        except OSError:
            continue
        budget -= len(entries)
        if budget < 0:
            if on_limit:
                on_limit(f"scan stopped after {MAX_ENTRIES_PER_ROOT} directory entries under {root}; "
                         "pass a narrower directory")
            return
        if is_hf_cache_repo(d):
            yield d, dir_candidates(d, entries)
            continue
        yield d, dir_candidates(d, entries)
        if depth >= max_depth:
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith(".") or e.name in SKIP_DIRS:
                continue
            try:
                if e.is_dir():
                    subdirs.append(Path(e.path))
            except OSError:
                pass
        stack.extend((s, depth + 1) for s in reversed(subdirs))  # pop() then visits in name order


def scan(
    dirs: list[Path] | None = None,
    *,
    include_default_locations: bool = True,
    progress: Progress | None = None,
) -> list[ScanEntry]:
    """Every model in the default stores (unless turned off) and under ``dirs``.

    Raises :class:`SizeupError` only for a given directory that does not exist; everything met
    while scanning is reported as an entry (with ``error`` set when it could not be parsed).
    """
    for d in dirs or []:
        if not Path(d).is_dir():
            raise SizeupError(f"not a directory: {d}")
    s = _Scanner(progress)
    if include_default_locations:
        for kind, d in default_locations():
            if kind == HF_CACHE:
                s.hf_cache(d)
            elif kind == OLLAMA:
                s.ollama(d)
            elif d.is_dir():
                s.walk(d, kind)
    for d in dirs or []:
        s.walk(Path(d), DIR)
    return s.entries
