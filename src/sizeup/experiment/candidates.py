"""What ``sizeup try`` candidates are: the text a user typed -> a GGUF file on this machine.

* a GGUF path, a model directory, an Ollama name, an LM Studio model or a repo id in the Hugging
  Face cache - whatever :func:`sizeup.sources.dispatch.describe` resolves to a GGUF;
* ``MODEL@QUANT`` - MODEL (any of the above) quantized to QUANT with :mod:`sizeup.quantize`
  (llama.cpp's quantizer in a child process), from a higher-precision GGUF (F32, F16, BF16 or
  Q8_0). Outputs are cached under the user cache dir (``$SIZEUP_TRY_CACHE`` overrides), keyed by
  the source's resolved path, size and mtime and the quant, so the second ``try`` reuses them;
* remote references (``org/repo:QUANT``, ``hf.co/...``, ``https://...gguf``, Ollama registry names
  that are not pulled): the header is read first (:mod:`sizeup.sources.resolve`), then the GGUF
  file(s) are downloaded into sizeup's model cache (:mod:`sizeup.sources.download`) only after the
  user confirms (:class:`RemotePolicy`: ``--yes``, or a question on a terminal), with a free-disk
  check first. A copy already downloaded and verified is reused without a request; local copies
  (HF cache, Ollama, LM Studio) win over the remote reading, as in ``describe``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SizeupError

MAX_CANDIDATES = 16
HIGH_PRECISION = ("F32", "F16", "BF16", "Q8_0")


@dataclass
class RemotePolicy:
    """How remote candidates may be downloaded.

    ``yes``: download without asking (``--yes``). ``ask``: puts a yes/no question to the user and
    returns the answer (None: nobody to ask, e.g. no terminal; then only ``yes`` downloads).
    ``note``: shows what would be downloaded. ``progress``: ``(spec, bytes done, bytes total)``.
    """

    yes: bool = False
    ask: Callable[[str], bool] | None = None
    note: Callable[[str], None] | None = None
    progress: Callable[[str, int, int], None] | None = None


@dataclass
class Candidate:
    spec: str  # what the user typed
    path: str  # the GGUF file that runs
    model: Any  # ModelDescription of that file
    source: str  # gguf | ollama | hf-cache | lmstudio
    derived_from: dict[str, Any] | None = None  # MODEL@QUANT: {"path", "quant", "cached"}
    label: str = ""
    notes: list[str] = field(default_factory=list)

    def model_dict(self) -> dict[str, Any]:
        m = self.model
        return {"path": self.path, "name": m.name, "quant": m.quant.label if m.quant else None,
                "file_size": m.file_size, "n_params": m.params.total if m.params else None, "source": self.source,
                "derived_from": self.derived_from, "downloaded": (m.extra or {}).get("downloaded")}


def cache_dir() -> Path:
    env = os.environ.get("SIZEUP_TRY_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "try-quants"


def split_quant(spec: str) -> tuple[str, str | None]:
    """``"model.gguf@Q4_K_M"`` -> ``("model.gguf", "Q4_K_M")``; no known quant after '@' -> (spec, None)."""
    from ..data.ggml_types import LLAMA_FILE_TYPE_IDS

    base, at, q = spec.rpartition("@")
    if at and base and q.strip().upper() in LLAMA_FILE_TYPE_IDS:
        return base, q.strip().upper()
    return spec, None


def _remote_hint(spec: str) -> str | None:
    """A one-line refusal when ``spec`` can only be a remote model."""
    try:
        from ..sources.refs import parse_ref
    except ImportError:
        parse_ref = None  # type: ignore[assignment]
    if spec.startswith(("http://", "https://", "hf.co/", "huggingface.co/")):
        remote = True
    elif parse_ref is not None:
        try:
            ref = parse_ref(spec)
            remote = bool(getattr(ref, "explicit", False)) or "/" in spec or ":" in spec
        except Exception:
            remote = False
    else:
        remote = "/" in spec
    if not remote:
        return None
    return (f"'{spec}' resolves to no model file on this machine; fetch it first "
            "(huggingface-cli download / ollama pull) and pass the local file or name")


def _describe(spec: str, remote: RemotePolicy | None = None):
    from ..sources.dispatch import describe
    from ..errors import NotFound

    try:
        md = describe(spec, allow_catalog=False)
    except NotFound as e:
        raise SizeupError(str(e)) from None
    if isinstance((md.extra or {}).get("remote"), dict):
        return _downloaded(spec, md, remote or RemotePolicy())
    if not md.path or not os.path.isfile(md.path):
        raise SizeupError(_remote_hint(spec) or f"{spec}: no local model file")
    return md


def download_note(spec: str, p: Any) -> str:
    """One paragraph: what downloading ``spec`` means (files, size, destination, free disk)."""
    from ..units import fmt_bytes

    names = [f.dest.name for f in p.files if not f.cached]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return (f"{spec} is not on this machine: {len(names)} file(s) to download ({shown}), {fmt_bytes(p.missing_bytes, 2)}, "
            f"into {p.dest_dir} ({fmt_bytes(p.free_bytes(), 1)} free there)")


def _downloaded(spec: str, md, policy: RemotePolicy):
    """The remote ``md`` fetched into the model cache (after confirmation); its local description."""
    from ..formats.gguf_model import describe_gguf
    from ..sources import download as dl
    from ..sources.hub import endpoint_host
    from ..sources.refs import parse_ref
    from ..units import fmt_bytes

    if md.source != "gguf":
        raise SizeupError(f"{spec}: sizeup try runs GGUF files in llama.cpp; this remote model is {md.source}"
                          + (" (pick a GGUF repo, or convert it with llama.cpp's convert_hf_to_gguf.py)"
                             if md.source == "safetensors" else ""))
    if len(md.files or []) > 1:
        raise SizeupError(f"{spec}: split GGUF files ({len(md.files)} parts) are not supported by sizeup try yet")
    ref = parse_ref(spec, endpoint_host())
    if ref is None:
        raise SizeupError(f"{spec}: not a remote reference sizeup can download")
    p = dl.plan(ref, md)
    was_cached = p.cached
    if not p.cached:
        dl.check_free_space(p)
        note = download_note(spec, p)
        if not policy.yes:
            if policy.ask is None:
                raise SizeupError(f"{note}; pass --yes to download it (no terminal to ask on)")
            if policy.note:
                policy.note(note)
            if not policy.ask(f"Download {fmt_bytes(p.missing_bytes, 2)}? [y/N] "):
                raise SizeupError(f"{spec}: download declined; nothing was fetched")
        elif policy.note:
            policy.note(note)
        prog = policy.progress
        dl.download(p, (lambda d, t: prog(spec, d, t)) if prog else None)
    local = describe_gguf(p.path)
    local.extra["downloaded"] = {"from": spec, "path": str(p.path), "bytes": p.total,
                                 "sha256": p.files[0].sha256, "cached": was_cached}
    return local


def _source(md) -> str:
    ex = md.extra or {}
    if ex.get("downloaded"):
        return "remote"
    if ex.get("ollama_name"):
        return "ollama"
    if ex.get("hf_repo"):
        return "hf-cache"
    if ex.get("lmstudio_model"):
        return "lmstudio"
    return "gguf"


def _gguf(spec: str, remote: RemotePolicy | None = None):
    md = _describe(spec, remote)
    if md.source != "gguf" or not md.path:
        raise SizeupError(f"{spec}: sizeup try runs GGUF files in llama.cpp; this is {md.source}"
                          + (" (convert it with llama.cpp's convert_hf_to_gguf.py)" if md.source == "safetensors" else ""))
    if (md.extra or {}).get("split_count", 1) > 1:
        raise SizeupError(f"{spec}: split GGUF files are not supported by sizeup try yet; merge them first")
    return md


def quant_cache_path(src: str, quant: str) -> Path:
    p = Path(src).resolve()
    st = p.stat()
    key = hashlib.sha256(json.dumps({"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                     "quant": quant}, sort_keys=True).encode()).hexdigest()[:24]
    from ..quantize import _stem

    return cache_dir() / key / f"{_stem(p)}.{quant}.gguf"


def quantized(spec: str, quant: str, *, threads: int | None = None,
              progress: Callable[[str, int, int], None] | None = None,
              remote: RemotePolicy | None = None) -> Candidate:
    """``spec`` quantized to ``quant`` (from the cache when already made)."""
    from .. import quantize as q
    from ..formats.gguf_model import describe_gguf

    src = _gguf(spec, remote)
    label = src.quant.label if src.quant else None
    if label not in HIGH_PRECISION:
        raise SizeupError(f"{spec}@{quant}: the source is {label or 'of unknown precision'}; quantize from a "
                          f"higher-precision GGUF ({', '.join(HIGH_PRECISION)}) - requantizing loses quality twice")
    if label == quant:
        raise SizeupError(f"{spec}@{quant}: the source already is {quant}; name it without @{quant}")
    out = quant_cache_path(src.path, quant)
    cached = out.is_file()
    if not cached:
        _, plans = q.plan(src.path, [quant], out.parent)
        plan = plans[0]
        plan = q.Plan(plan.ftype, out, plan.predicted_bytes, plan.prediction, plan.needs_imatrix)
        res = q.quantize_one(src.path, plan, threads=threads, progress=progress)
        if not res.ok:
            raise SizeupError(f"{spec}@{quant}: quantization failed: {res.error}")
    md = describe_gguf(out)
    return Candidate(f"{spec}@{quant}", str(out), md, _source(src),
                     derived_from={"path": src.path, "quant": label, "cached": cached})


def resolve(spec: str, **kw: Any) -> Candidate:
    spec = spec.strip()
    if not spec or len(spec) > 4096 or "\x00" in spec:
        raise SizeupError("a candidate model name is empty, too long or contains NUL")
    base, quant = split_quant(spec)
    if quant:
        return quantized(base, quant, **kw)
    md = _gguf(spec, kw.get("remote"))
    return Candidate(spec, str(md.path), md, _source(md))


def label_all(cands: list[Candidate]) -> None:
    """Short unique labels: "name quant", with a number when two are the same."""
    seen: dict[str, int] = {}
    for c in cands:
        q = c.model.quant.label if c.model.quant else "?"
        if c.source in ("ollama", "hf-cache", "lmstudio", "remote") and not c.derived_from:
            name = c.spec
        else:
            name = Path(c.path).name
            name = name[:-5] if name.lower().endswith(".gguf") else name
        base = name if q.lower() in name.lower() else f"{name} {q}"
        base = base[:60]
        n = seen.get(base, 0) + 1
        seen[base] = n
        c.label = base if n == 1 else f"{base} #{n}"
