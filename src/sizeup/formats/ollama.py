"""Ollama's local model store -> GGUF blob paths (plus the template, params and licence).

Ollama keeps models as an OCI-like store under ``$OLLAMA_MODELS`` (default ``~/.ollama/models``;
the Linux service uses ``/usr/share/ollama/.ollama/models``)::

    manifests/<host>/<namespace>/<model>/<tag>     JSON manifest with "layers"
    blobs/sha256-<64 hex>                          content-addressed files

``qwen2.5-coder:7b`` means ``registry.ollama.ai/library/qwen2.5-coder:7b``; ``hf.co/user/repo:Q4_K_M``
is a model pulled from Hugging Face; a missing tag means ``latest``. The layer whose mediaType is
``application/vnd.ollama.image.model`` is the GGUF file sizeup inspects. Manifests and small
layers are untrusted input: names are checked against a strict character set before they touch
the filesystem, digests must be ``sha256:`` + 64 hex digits, and every read is bounded.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bounded_json import bounded_json_loads
from ..errors import BadModelFile, NotFound, SizeupError
from ..safe_open import open_regular, read_regular

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_PREFIX = "application/vnd.ollama.image."
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SMALL_LAYER_BYTES = 1024 * 1024  # template, params, system prompt, licence text
MAX_SMALL_LAYERS_TOTAL = 4 * 1024 * 1024  # all small layers of one model together
MAX_MANIFESTS = 100_000
MAX_LAYERS = 1000
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class OllamaName:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        """How ``ollama list`` shows it: short for the default registry, full otherwise."""
        if self.host == DEFAULT_HOST and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.host == DEFAULT_HOST:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"


@dataclass
class OllamaModel:
    name: str
    manifest: Path
    model_blob: Path
    size: int
    params: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    license: str | None = None
    projector_blobs: list[Path] = field(default_factory=list)  # vision encoders (mmproj)
    adapter_blobs: list[Path] = field(default_factory=list)  # LoRA adapters
    warnings: list[str] = field(default_factory=list)


def parse_name(name: str) -> OllamaName:
    """Split ``[host/][namespace/]model[:tag]``; SizeupError for anything else."""
    s = str(name).strip()
    if not s or len(s) > 512:
        raise SizeupError(f"not an Ollama model name: {s[:60]!r}")
    tag = DEFAULT_TAG
    base = s
    if ":" in s.rsplit("/", 1)[-1]:
        base, tag = s.rsplit(":", 1)
    parts = base.split("/")
    if len(parts) == 1:
        host, ns, model = DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        host, (ns, model) = DEFAULT_HOST, parts
    elif len(parts) == 3:
        host, ns, model = parts
    else:
        raise SizeupError(f"not an Ollama model name: {s[:60]!r} (use model[:tag], namespace/model[:tag] or host/namespace/model[:tag])")
    for part in (host, ns, model):
        if not _PART.fullmatch(part) or ".." in part:
            raise SizeupError(f"not an Ollama model name: {s[:60]!r} (bad part {part[:40]!r})")
    if not _TAG.fullmatch(tag):
        raise SizeupError(f"not an Ollama model name: {s[:60]!r} (bad tag {tag[:40]!r})")
    return OllamaName(host, ns, model, tag)


def models_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$OLLAMA_MODELS``, else ``~/.ollama/models`` (or the Linux service's store)."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("OLLAMA_MODELS")
    if env:
        return Path(env)
    home = Path.home() / ".ollama" / "models"
    service = Path("/usr/share/ollama/.ollama/models")
    if not home.is_dir() and service.is_dir():
        return service
    return home


def _find_ci(folder: Path, part: str) -> Path | None:
    """``folder/part``, falling back to a case-insensitive match (Ollama names ignore case)."""
    exact = folder / part
    if exact.exists():
        return exact
    try:
        for entry in folder.iterdir():
            if entry.name.lower() == part.lower():
                return entry
    except OSError:
        return None
    return None


def _manifest_path(root: Path, n: OllamaName) -> Path | None:
    p = root / "manifests"
    for part in (n.host, n.namespace, n.model, n.tag):
        found = _find_ci(p, part)
        if found is None:
            return None
        p = found
    return p if p.is_file() else None


def _read_bounded(path: Path, limit: int) -> bytes:
    try:
        return read_regular(path, limit)  # never blocks on a FIFO, never reads past limit
    except OSError as e:
        raise BadModelFile(path, f"cannot read: {e.strerror or e}") from None


def _layers(manifest: Path) -> list[dict[str, Any]]:
    try:
        data = bounded_json_loads(_read_bounded(manifest, MAX_MANIFEST_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadModelFile(manifest, "Ollama manifest is not valid JSON") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS or not all(isinstance(x, dict) for x in layers):
        raise BadModelFile(manifest, "Ollama manifest has no valid 'layers' list")
    return layers


def _blob(root: Path, manifest: Path, layer: dict[str, Any]) -> Path:
    digest = layer.get("digest")
    m = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if not m:
        raise BadModelFile(manifest, f"layer digest {str(digest)[:80]!r} is not sha256:<64 hex digits>")
    blob = root / "blobs" / f"sha256-{m.group(1)}"
    if not blob.is_file():
        raise BadModelFile(manifest, f"blob {blob.name} is missing from {root / 'blobs'} (interrupted pull?)")
    return blob


def _installed(root: Path) -> list[tuple[OllamaName, Path]]:
    out: list[tuple[OllamaName, Path]] = []
    base = root / "manifests"
    if not base.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        rel = Path(dirpath).relative_to(base).parts
        if len(rel) >= 3:
            dirnames[:] = []
        if len(rel) != 3:
            continue
        for tag in sorted(filenames):
            try:
                n = parse_name(f"{rel[0]}/{rel[1]}/{rel[2]}:{tag}")
            except SizeupError:
                continue
            out.append((n, Path(dirpath) / tag))
            if len(out) >= MAX_MANIFESTS:
                return out
    return out


def resolve_ollama(name: str, models_dir: Path | None = None) -> Path:
    """Path of the GGUF blob behind an Ollama model name; NotFound suggests installed names."""
    return ollama_info(name, models_dir).model_blob


def ollama_info(name: str, models_dir: Path | None = None) -> OllamaModel:
    """Everything the manifest says: GGUF blob, size, params, template, system prompt, licence."""
    root = _models_root(models_dir)
    n = parse_name(name)
    manifest = _manifest_path(root, n)
    if manifest is None:
        installed = [x.display for x, _ in _installed(root)]
        close = difflib.get_close_matches(n.display, installed, n=5, cutoff=0.5)
        close += [d for d in installed if d.split(":")[0] == n.display.split(":")[0] and d not in close][:5]
        hint = f"; installed close matches: {', '.join(close)}" if close else (
            f"; {len(installed)} models installed" if installed else f"; no models installed in {root}")
        raise NotFound(f"Ollama model '{n.display}' not found{hint}")
    layers = _layers(manifest)
    model_layers = [x for x in layers if x.get("mediaType") == MEDIA_MODEL]
    if not model_layers:
        raise BadModelFile(manifest, f"no layer of type {MEDIA_MODEL}")
    info = OllamaModel(name=n.display, manifest=manifest, model_blob=Path(), size=0)
    info.model_blob = _blob(root, manifest, model_layers[0])
    info.size = info.model_blob.stat().st_size
    declared = model_layers[0].get("size")
    if isinstance(declared, int) and declared != info.size:
        raise BadModelFile(info.model_blob, f"blob is {info.size} bytes but the manifest says {declared} (incomplete pull?)")
    try:
        with open_regular(info.model_blob) as f:
            if f.read(4) != b"GGUF":
                raise BadModelFile(info.model_blob, "Ollama model blob is not a GGUF file")
    except OSError as e:
        raise BadModelFile(info.model_blob, f"cannot read: {e.strerror or e}") from None
    licences: list[str] = []
    small_total = 0  # bytes of small layers read so far, across all of them
    for layer in layers:
        media = layer.get("mediaType")
        if not isinstance(media, str) or not media.startswith(MEDIA_PREFIX) or media == MEDIA_MODEL:
            continue
        kind = media[len(MEDIA_PREFIX):]
        try:
            blob = _blob(root, manifest, layer)
            if kind == "projector":
                info.projector_blobs.append(blob)
            elif kind == "adapter":
                info.adapter_blobs.append(blob)
            elif kind in ("params", "template", "system", "license"):
                size = blob.stat().st_size
                if small_total + min(size, MAX_SMALL_LAYER_BYTES) > MAX_SMALL_LAYERS_TOTAL:
                    info.warnings.append(f"{kind} layer skipped: small layers past {MAX_SMALL_LAYERS_TOTAL} bytes in total")
                    continue
                data = _read_bounded(blob, MAX_SMALL_LAYER_BYTES)
                small_total += len(data)
                text = data.decode("utf-8", "replace")
                if kind == "params":
                    params = bounded_json_loads(text, max_values=100_000)
                    if not isinstance(params, dict):
                        raise ValueError
                    info.params = params
                elif kind == "license":
                    licences.append(text)  # joined once below: no quadratic concatenation
                else:
                    setattr(info, kind, text)
        except BadModelFile as e:
            info.warnings.append(f"{kind} layer skipped: {e.problem}")
        except (ValueError, RecursionError):
            info.warnings.append(f"{kind} layer skipped: not valid JSON")
    if licences:
        info.license = "\n\n".join(licences)
    return info


def list_ollama_models(models_dir: Path | None = None) -> list[tuple[str, Path, int]]:
    """(name, GGUF blob path, size in bytes) for every installed model with a readable blob.

    Broken manifests are skipped (the scanner reports what works); use :func:`ollama_info` on a
    name to see why one fails.
    """
    root = _models_root(models_dir, must_exist=False)
    out: list[tuple[str, Path, int]] = []
    for n, manifest in _installed(root):
        try:
            layers = _layers(manifest)
            layer = next((x for x in layers if x.get("mediaType") == MEDIA_MODEL), None)
            if layer is None:
                continue
            blob = _blob(root, manifest, layer)
            out.append((n.display, blob, blob.stat().st_size))
        except (SizeupError, OSError):
            continue
    return out


def _models_root(explicit: Path | None, must_exist: bool = True) -> Path:
    root = models_dir(explicit)
    if must_exist and not (root / "manifests").is_dir():
        raise NotFound(f"no Ollama model store at {root} (set OLLAMA_MODELS or pass the models folder)")
    return root
