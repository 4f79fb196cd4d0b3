"""``sizeup search``: Hub repos matching a text, each quant file with size, memory and fit here.

One header per repo is read (the default quant, or the safetensors headers); the other quant
files of a GGUF repo are sized from that header's tensor list re-quantized to their type (the
same prediction ``sizeup estimate --quant`` uses), with the file size as weights when the type is
not one llama.cpp's quantizer names. Repos are read concurrently (a small thread pool), each
with its own byte budget and deadline; a repo that fails is listed with its one-line error.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable

from ..errors import SizeupError
from . import hub
from .http_range import Budget
from .refs import REPO_RE, RemoteRef

MAX_WORKERS = 4


def find_repos(text: str, limit: int) -> list[dict[str, Any]]:
    """Hub text-generation repos matching ``text`` that hold GGUF or safetensors weights."""
    if hub.offline():
        raise SizeupError("sizeup search needs the Hugging Face Hub; it is off (--offline or HF_HUB_OFFLINE=1)")
    m = REPO_RE.match(text.strip())
    if m and not m["tag"] and not m["rev"]:  # an exact repo id: just that repo
        return [{"id": m["repo"], "tags": [], "downloads": None, "likes": None}]
    found = hub.list_models(Budget(), search=text, limit=min(1000, max(limit * 3, limit)))
    keep = [r for r in found if {"gguf", "safetensors"} & set(r["tags"]) or not r["tags"]]
    return keep[:limit]


def _rows_for(repo: dict[str, Any], ctx: int, devices: list, kv_type: str) -> dict[str, Any]:
    from ..estimate.config import RunConfig
    from ..estimate.memory import estimate_memory, model_tensors
    from .resolve import describe_remote

    md = describe_remote(RemoteRef("hub", repo["id"], repo=repo["id"], explicit=True))
    out: dict[str, Any] = {"repo": repo["id"], "downloads": repo.get("downloads"), "likes": repo.get("likes"),
                           "name": md.name, "format": md.source, "params": md.params.total if md.params else None,
                           "arch": md.arch.name if md.arch else None, "n_ctx_train": md.arch.n_ctx_train if md.arch else None,
                           "remote": md.extra.get("remote"), "files": []}
    if md.arch is None:
        out["error"] = "not a language model sizeup can size"
        return out
    cfg = RunConfig(n_ctx=ctx, type_k=kv_type, type_v=kv_type)
    base = estimate_memory(md, cfg, devices)
    available = sum(d.free for d in devices if d.free)
    shown = md.extra.get("hub_file") or (md.files[0].rsplit("/", 1)[-1] if md.files else md.path)
    quants = md.extra.get("hub_quants") or [{"quant": md.quant.label if md.quant else None, "file": shown,
                                              "size": md.file_size, "n_parts": len(md.files)}]
    for q in quants:
        row = {"quant": q["quant"], "file": q["file"], "size": q["size"], "n_parts": q.get("n_parts", 1)}
        if q["file"] == shown:
            est, basis = base, "header"
        else:
            est, basis = None, "file size"
            try:
                if q["quant"]:
                    est, basis = estimate_memory(md, cfg, devices, tensors=model_tensors(md, q["quant"])), "requantized header"
            except SizeupError:
                est = None
        if est is not None:
            row.update(memory=est.total, fits=est.fits, basis=basis)
        elif q["size"]:
            needed = base.total - base.weights + q["size"]
            row.update(memory=needed, fits=(needed <= available) if available else None, basis=basis)
        out["files"].append(row)
    return out


def search_hub(text: str, *, ctx: int, hardware: Any, limit: int = 10, kv_type: str = "f16",
               progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """Rows for :func:`find_repos` ``(text)``: one dict per repo with its quant files."""
    from ..estimate.placement import devices_from_hardware

    if not text.strip():
        raise SizeupError("give a search text, e.g. `sizeup search qwen3`")
    if not 0 < limit <= 100:
        raise SizeupError("--limit must be between 1 and 100")
    repos = find_repos(text, limit)
    devices = devices_from_hardware(hardware)
    results: dict[str, dict[str, Any]] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        futs = {pool.submit(_rows_for, r, ctx, devices, kv_type): r for r in repos}
        for fut in as_completed(futs):
            r = futs[fut]
            try:
                results[r["id"]] = fut.result()
            except SizeupError as e:
                results[r["id"]] = {"repo": r["id"], "downloads": r.get("downloads"), "error": str(e), "files": []}
            done += 1
            if progress:
                progress(done, len(repos), r["id"])
    return [results[r["id"]] for r in repos]
