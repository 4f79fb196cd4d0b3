"""One entry point from "what the user typed" to a :class:`ModelDescription`.

``sizeup inspect X``, ``sizeup fit X`` and friends accept a file, a directory, a Hugging Face repo
id present in the local cache, an Ollama model name or a catalog id. This module decides which one
``X`` is and hands it to the matching reader in :mod:`sizeup.formats` (or the catalog). It reads
*content*, not names: a GGUF renamed ``.bin`` is still a GGUF, and random bytes named ``.gguf``
are reported as such. Readers are imported lazily so each command pays only for the formats it
meets.

Resolution order (first match wins), chosen so a local file always beats a name lookup:

1. an existing path: a file is sniffed; a directory is an HF model dir, an HF cache repo, or a
   folder holding exactly one model (a GGUF possibly split in parts, an ONNX graph...);
2. ``org/name`` (optionally ``org/name:QUANT`` for GGUF repos) present in the local HF cache,
   else ``publisher/repo`` in LM Studio's models folder;
3. an Ollama model (``name:tag``, or a name the local Ollama store holds);
4. a reference that can only be remote (a URL, ``hf.co/...``, ``org/name@rev``, ``org/name:QUANT``):
   read header-only from the Hub or the URL (:mod:`sizeup.sources`);
5. a catalog id;
6. ``org/name`` on the Hugging Face Hub, ``name:tag`` in the Ollama registry (header-only);
7. otherwise :class:`NotFound`, with close matches from catalog ids and local Ollama names.

Every failure is one :class:`SizeupError` line; a reader that crashes on a hostile file is turned
into :class:`BadModelFile` rather than a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadModelFile, NotFound, SizeupError
from ..limits import MAX_JSON_HEADER_BYTES, MAX_SPLIT_PARTS
from ..model import ModelDescription
from ..safe_open import NotRegularFile, open_regular, read_head, read_text

# --- content sniffing ---------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save since PyTorch 1.6 writes a zip archive of pickles
PICKLE_EXTENSIONS = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
# Splits as written by llama.cpp's gguf-split: "<prefix>-00001-of-00003.gguf" (llama_split_path).
GGUF_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<idx>\d{5})-of-(?P<n>\d{5})\.gguf$", re.IGNORECASE)
# Sharded safetensors as written by transformers: "model-00001-of-00004.safetensors".
ST_SHARD_RE = re.compile(r"^.+-\d{5}-of-\d{5}\.safetensors$", re.IGNORECASE)
# Hugging Face repo ids: "org/name", letters, digits, '-', '_', '.' (huggingface_hub validate_repo_id).
HF_REPO_RE = re.compile(r"^(?:(?:https?://)?(?:hf\.co|huggingface\.co)/)?(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96})(?::(?P<tag>[\w.-]{1,64}))?$")
# A vision projector shipped beside a GGUF model (llama.cpp mtmd); it is not a model on its own.
MMPROJ_RE = re.compile(r"^mmproj", re.IGNORECASE)

MAX_DIR_ENTRIES = 100_000  # entries read from one directory when looking for models


def sniff(path: Path) -> str | None:
    """Format of a file from its first bytes: gguf, safetensors, onnx, pickle, or None.

    Reads at most 16 bytes. Safetensors has no magic; its 8-byte little-endian header length
    must fit the file and the header must start with '{'. ONNX has no magic either (a bare
    protobuf), so it needs the ``.onnx`` extension *and* a plausible first protobuf tag.
    """
    try:
        head, size = read_head(path, 16)
    except OSError:
        return None
    if head[:4] == GGUF_MAGIC:
        return "gguf"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= min(MAX_JSON_HEADER_BYTES, size - 8) and head[8:9] == b"{":
            return "safetensors"
    ext = path.suffix.lower()
    if ext == ".onnx" and head and _plausible_protobuf_tag(head[0]):
        return "onnx"
    if head[:4] == ZIP_MAGIC and ext in PICKLE_EXTENSIONS:
        return "pickle"
    # Pickle protocol 2..5 starts with PROTO (0x80) and the protocol number.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and ext in PICKLE_EXTENSIONS:
        return "pickle"
    # Protocol 0/1 (text) pickles have no header: torch never writes them, but a crafted file may.
    if head[:1] and head[0] in _TEXT_PICKLE_FIRST and ext in PICKLE_EXTENSIONS and _text_pickle(path):
        return "pickle"
    return None


# Opcodes a protocol 0/1 pickle can start with (MARK, GLOBAL, INST, containers, scalars).
_TEXT_PICKLE_FIRST = frozenset(b"(c}])NILFSVUXJKMGTBiq")


def _text_pickle(path: Path) -> bool:
    """Its first 64 KiB decode as pickle opcodes that import something or end cleanly."""
    from ..formats.pickle_check import scan_pickle

    try:
        head, _ = read_head(path, 64 * 1024)
    except OSError:
        return False
    found, _, problem, _ = scan_pickle(head, 1)
    return bool(found) or problem is None


# First byte of a serialized onnx.ModelProto: the tag of one of its top-level fields with its
# proper wire type (onnx/onnx.proto: 1 ir_version varint, 2-4 strings, 5 model_version varint,
# 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props). Serializers write fields in number
# order, so real files start with 0x08 (ir_version).
_ONNX_FIRST_TAGS = frozenset({0x08, 0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72})


def _plausible_protobuf_tag(b: int) -> bool:
    return b in _ONNX_FIRST_TAGS


# --- what a directory holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One model found in a directory, before it is parsed.

    ``path`` is what the reader gets (the first split part, the file, or the directory);
    ``files`` every file that belongs to it, so sizes and dedupe cover split parts.
    """

    kind: str  # gguf | hf-dir | hf-cache-repo | safetensors | onnx | pickle
    path: Path
    files: tuple[Path, ...] = ()
    problem: str = ""  # set when the set is incomplete (missing split part)

    @property
    def label(self) -> str:
        return self.path.name


def list_dir(d: Path) -> list[os.DirEntry]:
    """Up to MAX_DIR_ENTRIES entries of ``d``, sorted by name (deterministic output)."""
    out = []
    with os.scandir(d) as it:
        for i, e in enumerate(it):
            if i >= MAX_DIR_ENTRIES:
                break
            out.append(e)
    out.sort(key=lambda e: e.name)
    return out


def _is_file(e: os.DirEntry) -> bool:
    try:
        return e.is_file()  # follows symlinks (HF snapshots, LM Studio links)
    except OSError:
        return False


def is_hf_cache_repo(d: Path) -> bool:
    """``models--org--name`` with a ``snapshots`` folder (huggingface_hub's cache layout)."""
    return d.name.startswith("models--") and (d / "snapshots").is_dir()


def looks_like_hf_config(path: Path) -> bool:
    """A config.json that describes a transformers model (not any JSON called config.json)."""
    try:
        head, _ = read_head(path, 64 * 1024)
    except OSError:
        return False
    return b'"model_type"' in head or b'"architectures"' in head


def dir_candidates(d: Path, entries: list[os.DirEntry] | None = None) -> list[Candidate]:
    """Models stored directly in ``d`` (not in sub-directories), grouped into whole models.

    * HF cache repo dir -> one ``hf-cache-repo`` candidate;
    * safetensors with a config.json or an index, or sharded -> one ``hf-dir`` (the directory);
      a lone ``x.safetensors`` without config -> a ``safetensors`` file candidate;
    * GGUF files -> one candidate per model, split parts grouped (a part missing is noted);
      vision projectors (``mmproj*``) are left out: they are companions, not models;
    * ``.onnx`` graphs; PyTorch pickles (by magic, since ``.bin`` means anything);
    * a transformers config.json with none of the above -> ``hf-dir`` (its reader explains
      what is missing), so a config beside ``pytorch_model.bin`` yields the pickle report.
    """
    if is_hf_cache_repo(d):
        return [Candidate("hf-cache-repo", d)]
    if entries is None:
        entries = list_dir(d)
    files = [e for e in entries if _is_file(e)]
    names = {e.name for e in files}
    out: list[Candidate] = []

    st = [e for e in files if e.name.lower().endswith(".safetensors")]
    has_index = any(n.lower().endswith(".safetensors.index.json") for n in names)
    has_config = "config.json" in names and looks_like_hf_config(d / "config.json")
    if st or has_index:
        if has_config or has_index or all(ST_SHARD_RE.match(e.name) for e in st):
            out.append(Candidate("hf-dir", d, tuple(Path(e.path) for e in st)))
        else:
            out.extend(Candidate("safetensors", Path(e.path), (Path(e.path),)) for e in st)

    out.extend(_gguf_candidates(d, [e for e in files if e.name.lower().endswith(".gguf")]))
    out.extend(Candidate("onnx", Path(e.path), (Path(e.path),)) for e in files if e.name.lower().endswith(".onnx"))
    for e in files:  # string checks first: building a Path per file dominated big walks
        if os.path.splitext(e.name)[1].lower() in PICKLE_EXTENSIONS and sniff(Path(e.path)) == "pickle":
            out.append(Candidate("pickle", Path(e.path), (Path(e.path),)))
    if has_config and not out:  # a config without weights: the reader says what is missing
        out.append(Candidate("hf-dir", d))
    return out


def _gguf_candidates(d: Path, ggufs: list[os.DirEntry]) -> list[Candidate]:
    singles: list[Candidate] = []
    splits: dict[tuple[str, int], dict[int, Path]] = {}
    # Projectors are skipped beside a model, but a folder of projectors alone still shows them.
    skip_mmproj = any(not MMPROJ_RE.match(e.name) for e in ggufs)
    for e in ggufs:
        if skip_mmproj and MMPROJ_RE.match(e.name):
            continue
        m = GGUF_SPLIT_RE.match(e.name)
        if m and 1 <= int(m["n"]) <= MAX_SPLIT_PARTS:
            splits.setdefault((m["prefix"], int(m["n"])), {})[int(m["idx"])] = Path(e.path)
        else:
            singles.append(Candidate("gguf", Path(e.path), (Path(e.path),)))
    for (prefix, n), parts in splits.items():
        ordered = tuple(parts[i] for i in sorted(parts))
        missing = [i for i in range(1, n + 1) if i not in parts]
        problem = ""
        if missing:
            shown = ", ".join(str(i) for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
            problem = f"split GGUF '{prefix}' is missing part(s) {shown} of {n}"
        first = parts.get(1, ordered[0])
        singles.append(Candidate("gguf", first, ordered, problem))
    singles.sort(key=lambda c: c.path.name)
    return singles


def hf_snapshot(repo_dir: Path) -> Path | None:
    """The snapshot a cache repo serves by default: ``refs/main``, else the newest snapshot."""
    snaps = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    try:
        if ref.is_file() and ref.stat().st_size <= 256:
            rev = read_text(ref, 256).strip()
            if re.fullmatch(r"[0-9a-fA-F]{6,64}", rev) and (snaps / rev).is_dir():
                return snaps / rev
        dirs = [p for p in snaps.iterdir() if p.is_dir()]
    except OSError:
        return None
    return max(dirs, key=lambda p: p.stat().st_mtime, default=None)


# --- reading one candidate ----------------------------------------------------------------------


def _reader_error(path: object, e: BaseException) -> SizeupError:
    """Turn whatever a reader raised on a hostile file into one clear line."""
    if isinstance(e, SizeupError):
        return e
    if isinstance(e, MemoryError):
        return BadModelFile(path, "needs more memory than it is sane to allocate (corrupt sizes?)")
    if isinstance(e, OSError):
        return SizeupError(f"{path}: cannot read: {e.strerror or e}")
    text = " ".join(str(e).split())[:300]
    return BadModelFile(path, f"malformed ({type(e).__name__}{': ' + text if text else ''})")


def _call(fn, path: object, *args) -> ModelDescription:
    try:
        return fn(path, *args)
    except SizeupError:
        raise
    except RecursionError as e:
        raise BadModelFile(path, "nested too deeply to parse") from e
    except Exception as e:  # a reader bug on a hostile file must not become a traceback
        raise _reader_error(path, e) from e


def describe_gguf_path(path: Path) -> ModelDescription:
    from ..formats.gguf_model import describe_gguf

    return _call(describe_gguf, path)


def describe_file(path: Path) -> ModelDescription:
    """A single file, by content."""
    try:
        with open_regular(path) as f:  # a FIFO or device would block or stream forever
            st = os.fstat(f.fileno())
    except NotRegularFile:
        raise
    except OSError as e:
        raise SizeupError(f"{path}: cannot read: {e.strerror or e}") from e
    if st.st_size == 0:
        raise BadModelFile(path, "empty file")
    kind = sniff(path)
    if kind == "gguf":
        return describe_gguf_path(path)
    if kind == "safetensors":
        from ..formats.safetensors import describe_safetensors_file

        return _call(describe_safetensors_file, path)
    if kind == "onnx":
        from ..formats.onnx_model import describe_onnx

        return _call(describe_onnx, path)
    if kind == "pickle":
        from ..formats.pickle_check import describe_pickle

        return _call(describe_pickle, path)
    ext = path.suffix.lower()
    if ext == ".gguf":
        raise BadModelFile(path, "not a GGUF file (it does not start with the 'GGUF' magic)")
    if ext == ".safetensors":
        raise BadModelFile(path, "not a safetensors file (no valid header length followed by a JSON header)")
    if ext == ".onnx":
        raise BadModelFile(path, "not an ONNX model (not a protobuf ModelProto)")
    if ext in PICKLE_EXTENSIONS:
        raise BadModelFile(path, "neither a PyTorch zip archive nor a pickle")
    raise SizeupError(f"{path}: not a model file sizeup knows (GGUF, safetensors, ONNX, PyTorch pickle)")


def describe_candidate(c: Candidate) -> ModelDescription:
    """Parse one candidate found by :func:`dir_candidates`."""
    if c.problem:
        raise BadModelFile(c.path, c.problem)
    if c.kind == "hf-dir":
        from ..formats.safetensors import describe_hf_dir

        return _call(describe_hf_dir, c.path)
    if c.kind == "hf-cache-repo":
        return describe_hf_cache_repo(c.path)
    return describe_file(c.path)


def describe_hf_cache_repo(repo_dir: Path, tag: str | None = None) -> ModelDescription:
    """A ``models--org--name`` cache dir: a transformers checkpoint, or a repo of GGUF files.

    GGUF repos usually hold one file per quantization; ``tag`` ("Q4_K_M", as in llama.cpp's
    ``-hf org/name:Q4_K_M``) picks one when there are several.
    """
    snap = hf_snapshot(repo_dir)
    if snap is None:
        raise SizeupError(f"{repo_dir}: Hugging Face cache repo has no snapshot (incomplete download?)")
    cands = _candidates_below(snap, max_depth=2)
    hf = [c for c in cands if c.kind == "hf-dir" and c.path == snap]
    if hf and not tag:
        from ..formats.safetensors import describe_hf_dir

        return _call(describe_hf_dir, repo_dir)
    ggufs = _with_tag([c for c in cands if c.kind == "gguf"], snap, tag, f"{repo_dir.name} (cached snapshot)")
    if len(ggufs) == 1:
        return describe_candidate(ggufs[0])
    if hf:
        return describe_candidate(hf[0])
    if len(ggufs) > 1:
        return _several(snap, ggufs, hint="add ':QUANT' to the repo id to pick one")
    if cands:
        return describe_candidate(cands[0])
    raise SizeupError(f"{repo_dir}: no model found in the cached snapshot {snap.name}")


def _with_tag(ggufs: list[Candidate], root: Path, tag: str | None, where: str) -> list[Candidate]:
    """GGUF candidates whose path below ``root`` mentions ``tag`` (case-insensitive).

    The path, not only the file name, because big quants are often split into a folder
    named after the quant (``Q4_K_M/model-00001-of-00003.gguf``).
    """
    if not tag:
        return ggufs
    t = tag.lower()
    picked = [c for c in ggufs if t in os.path.relpath(c.path, root).lower()]
    if not picked:
        raise NotFound(f"{where}: no GGUF file matching '{tag}'")
    return picked


def describe_lmstudio(key: str, tag: str | None = None) -> ModelDescription | None:
    """``publisher/repo`` in LM Studio's models folder (what LM Studio shows), or None."""
    from .local_scan import lmstudio_model_dirs

    for base in lmstudio_model_dirs():
        d = base / key
        if not d.is_dir():
            continue
        cands = _candidates_below(d, max_depth=2)
        if not cands:
            continue
        ggufs = _with_tag([c for c in cands if c.kind == "gguf"], d, tag, f"LM Studio model {key}")
        if len(ggufs) == 1:
            return describe_candidate(ggufs[0])
        if len(ggufs) > 1:
            return _several(d, ggufs, hint="add ':QUANT' to the name to pick one")
        return describe_candidate(cands[0])
    return None


def _candidates_below(root: Path, max_depth: int) -> list[Candidate]:
    """Candidates in ``root`` and up to ``max_depth`` levels of non-hidden sub-directories."""
    out: list[Candidate] = []
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            entries = list_dir(d)
        except OSError:
            continue
        out.extend(dir_candidates(d, entries))
        if depth < max_depth:
            for e in entries:
                try:
                    if e.is_dir() and not e.name.startswith("."):
                        stack.append((Path(e.path), depth + 1))
                except OSError:
                    pass
    return out


def _several(d: Path, cands: list[Candidate], hint: str) -> ModelDescription:
    shown = ", ".join(str(c.path.relative_to(d)) if c.path.is_relative_to(d) else c.label for c in cands[:6])
    more = f" and {len(cands) - 6} more" if len(cands) > 6 else ""
    raise SizeupError(f"{d} holds {len(cands)} models ({shown}{more}): name one file, or {hint}")


def describe_dir(d: Path) -> ModelDescription:
    if is_hf_cache_repo(d):
        return describe_hf_cache_repo(d)
    try:
        entries = list_dir(d)
    except OSError as e:
        raise SizeupError(f"{d}: cannot read directory: {e.strerror or e}") from e
    cands = dir_candidates(d, entries)
    if not cands:
        raise SizeupError(f"no model found in {d}")
    hf = [c for c in cands if c.kind == "hf-dir"]
    if hf:  # the checkpoint itself beats companion files (pytorch_model.bin beside safetensors)
        return describe_candidate(hf[0])
    if len(cands) == 1:
        return describe_candidate(cands[0])
    return _several(d, cands, hint=f"run `sizeup scan {d}` to list them all")


# --- names: HF cache, Ollama, catalog -----------------------------------------------------------


def hf_cache_dir() -> Path:
    """huggingface_hub's hub cache, from the environment *now* (its constants are read at import).

    Same precedence as huggingface_hub.constants: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
    HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
    """
    env = os.environ
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(os.path.expandvars(env[key])).expanduser()
    if env.get("HF_HOME"):
        return Path(os.path.expandvars(env["HF_HOME"])).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def hf_repo_dir(repo_id: str, cache: Path | None = None) -> Path:
    return (cache or hf_cache_dir()) / ("models--" + repo_id.replace("/", "--"))


def _ollama_display(name: str) -> str | None:
    """The name as ``ollama list`` shows it ("llama3.2" -> "llama3.2:latest"), or None."""
    try:
        from ..formats.ollama import parse_name

        return parse_name(name).display.lower()
    except (ImportError, SizeupError):
        return None


def _ollama_models() -> list[tuple[str, Path, int]]:
    """Models in the local Ollama store; an absent or unreadable store is simply empty here."""
    try:
        from ..formats.ollama import list_ollama_models

        return list(list_ollama_models())
    except (ImportError, SizeupError, OSError):
        return []


def _catalog_lookup(target: str) -> ModelDescription | None:
    from .. import catalog

    try:
        entry = catalog.get_entry(target)
    except NotFound:
        return None
    return catalog.describe_entry(entry)


def catalog_ids() -> list[str]:
    """Catalog ids for "did you mean" (best effort: a broken catalog must not hide the real error)."""
    from .. import catalog

    try:
        return list(catalog.all_ids())
    except SizeupError:
        return []


def _looks_like_path(target: str) -> bool:
    t = target.strip()
    if t.startswith(("/", "./", "../", "~", ".\\")) or (len(t) > 2 and t[1] == ":" and t[2] in "\\/"):
        return True
    return bool(re.search(r"\.(gguf|safetensors|onnx|bin|pt|pth|ckpt|json)$", t, re.IGNORECASE))


def _remote_ref(text: str):
    """The remote reading of ``text`` (Hub repo, URL, registry name), or None."""
    from .hub import endpoint_host
    from .refs import parse_ref

    return parse_ref(text, endpoint_host())


def _describe_remote(ref) -> ModelDescription:
    from .resolve import describe_remote

    return describe_remote(ref)


def describe(target: str | Path, *, allow_catalog: bool = True, allow_remote: bool = True) -> ModelDescription:
    """Describe a model given as a path, cached HF repo id, Ollama name, catalog id or remote reference.

    Remote references (``org/repo[:QUANT]``, ``org/repo@rev``, Hub and ``http(s)://...gguf`` URLs,
    Ollama registry names) are read header-only over HTTP (:mod:`sizeup.sources`) after every
    local source: a catalog id or a local copy never causes a request, unless the reference can
    only mean a remote file (a URL, ``hf.co/...``, ``@rev`` or ``:QUANT``).
    """
    if isinstance(target, Path):
        text = str(target)
    else:
        text = str(target).strip()
    if not text:
        raise SizeupError("no model given")
    if len(text) > 4096 or "\x00" in text:
        raise SizeupError("model name or path is not valid (too long or contains NUL)")
    path = Path(os.path.expanduser(text))
    try:
        exists = path.exists()
    except OSError:
        exists = False
    if exists:
        if path.is_dir():
            return describe_dir(path)
        return describe_file(path)
    if isinstance(target, Path):
        raise NotFound(f"no such file or directory: {text}")

    m = HF_REPO_RE.match(text)
    if m:
        repo_dir = hf_repo_dir(m["repo"])
        if is_hf_cache_repo(repo_dir):
            md = describe_hf_cache_repo(repo_dir, m["tag"])
            md.extra.setdefault("hf_repo", m["repo"])
            return md
        md = describe_lmstudio(m["repo"], m["tag"])
        if md is not None:
            md.extra.setdefault("lmstudio_model", m["repo"])
            return md

    ollama = _ollama_models()
    if ollama:
        wanted = _ollama_display(text)
        if wanted and any(n.lower() == wanted for n, _p, _s in ollama):
            from ..formats.ollama import resolve_ollama

            blob = resolve_ollama(text)
            md = describe_file(Path(blob))
            md.extra["ollama_name"] = text
            return md

    ref = _remote_ref(text) if allow_remote else None
    if ref is not None and ref.explicit and ref.kind in ("hub", "url"):
        return _describe_remote(ref)

    if allow_catalog:
        md = _catalog_lookup(text)
        if md is not None:
            return md

    remote_note = ""
    if ref is not None and (ref.kind == "hub" or (ref.kind == "ollama" and ref.explicit)):
        from .hub import offline
        from .http_range import RemoteError

        try:
            return _describe_remote(ref)
        except RemoteError as e:
            where_remote = "on the Hugging Face Hub" if ref.kind == "hub" else "in the Ollama registry"
            if e.status == 404 or (e.status == 401 and "not found" in str(e)):
                remote_note = f", not {where_remote}"
            elif e.status is None and any(w in str(e) for w in ("network", "resolve host", "refused")):
                remote_note = f", and not looked up {where_remote} (unreachable: no network?)"
            else:  # gated, rate limited, a hostile server...: say so
                raise
        except NotFound:
            remote_note = ", not in the Ollama registry" if ref.kind == "ollama" else ", not on the Hugging Face Hub"
        except SizeupError:
            if not offline():
                raise
            remote_note = ", no cached remote facts (offline)"

    if _looks_like_path(text):
        raise NotFound(f"no such file or directory: {text}")
    names = catalog_ids() if allow_catalog else []
    names += [n for n, _p, _s in ollama]
    names += [n.split(":")[0] for n, _p, _s in ollama if n.endswith(":latest")]
    close = difflib.get_close_matches(text, names, n=4, cutoff=0.6)
    if not close:  # case-insensitive second chance ("Llama-3.1-8B" vs "llama-3.1-8b")
        lowered = {n.lower(): n for n in names}
        close = [lowered[c] for c in difflib.get_close_matches(text.lower(), list(lowered), n=4, cutoff=0.6)]
    where = "not a file or directory"
    where += f", not in the Hugging Face cache ({hf_cache_dir()}) or LM Studio" if HF_REPO_RE.match(text) else ""
    where += ", not a local Ollama model"
    where += ", not a catalog id" if allow_catalog else ""
    where += remote_note
    hint = f"; did you mean: {', '.join(dict.fromkeys(close))}?" if close else ""
    raise NotFound(f"'{text}': {where}{hint}")


# --- safety -------------------------------------------------------------------------------------

PICKLE_RISK = (
    "PyTorch pickle: loading it with torch.load (weights_only=False) can run arbitrary code; "
    "prefer a safetensors or GGUF copy"
)


def safety(md: ModelDescription) -> tuple[bool, str]:
    """(unsafe, reason): pickles can execute code when loaded; sizeup itself never unpickles.

    The reason names the dangerous globals the pickle checker found in the opcode stream, so
    a report (and its JSON) says "this one calls os.system" rather than only "pickles are risky".
    """
    unsafe = md.source == "pytorch-pickle" or bool(md.extra.get("unsafe"))
    if not unsafe:
        return False, ""
    reason = str(md.extra.get("unsafe_reason") or PICKLE_RISK)
    globs = md.extra.get("globals")
    if isinstance(globs, list):
        bad = [str(g.get("name")) for g in globs if isinstance(g, dict) and g.get("verdict") == "dangerous"]
        if bad:
            reason = f"DANGEROUS: imports {', '.join(bad[:10])}; do not load this file. " + reason
    return True, reason
