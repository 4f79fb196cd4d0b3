"""A remote reference -> :class:`~sizeup.model.ModelDescription`, from headers only.

* Hub repo of GGUF files: the quant files are grouped (split parts summed), one is chosen by
  ``:QUANT`` or by default the way llama.cpp's ``-hf`` / the Hub's Ollama bridge do (Q4_K_M when
  present, else a sensible quant, :data:`DEFAULT_ORDER`), and its header is read by Range.
* Hub repo of safetensors: config.json, the shard index and each shard's JSON header.
* Any http(s) URL of a GGUF (split parts found by their names).
* Ollama registry name: manifest -> model blob -> GGUF header.

Every answer is cached (:mod:`.meta_cache`): parsed headers by commit / digest, whole answers by
the reference for a day, so the second query makes no request and ``--offline`` works.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from ..errors import BadModelFile, NotFound, SizeupError
from ..model import ModelDescription
from . import hub, meta_cache
from .http_range import Budget, RemoteError, short
from .refs import RemoteRef

# What llama.cpp -hf and the Hub's Ollama bridge pick without a tag: Q4_K_M when present,
# "otherwise a reasonable quant" (huggingface.co/docs/hub/en/ollama); this is our reasonable order.
DEFAULT_ORDER = ("Q4_K_M", "Q4_K_S", "Q4_0", "IQ4_XS", "IQ4_NL", "Q4_1", "Q4_K_L", "Q4_K_XL", "Q5_K_M", "Q5_K_S", "Q5_0", "Q6_K",
                 "Q8_0", "Q3_K_M", "Q3_K_L", "Q3_K_S", "IQ3_M", "IQ3_XXS", "Q2_K", "IQ2_M", "IQ2_XXS", "IQ1_M",
                 "MXFP4", "BF16", "F16", "F32")
_QUANT_RE = re.compile(r"(?<![A-Za-z0-9])((?:UD-)?(?:I?Q\d(?:_[A-Za-z0-9]+)*|BF16|F16|F32|FP16|FP32|MXFP4(?:_MOE)?|TQ\d_\d))(?![A-Za-z0-9])",
                       re.IGNORECASE)
_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<idx>\d{5})-of-(?P<n>\d{5})\.gguf$", re.IGNORECASE)
_MMPROJ_RE = re.compile(r"(^|/)mmproj", re.IGNORECASE)
MAX_PARTS = 256


def quant_of(path: str) -> str | None:
    """Quant label in a GGUF file name (``Qwen3-8B-Q4_K_M.gguf`` -> ``Q4_K_M``), or None."""
    name = _SPLIT_RE.sub(lambda m: m["prefix"] + ".gguf", path)
    found = _QUANT_RE.findall(name)
    return found[-1].upper() if found else None


def gguf_groups(files: list[hub.RepoFile]) -> list[dict[str, Any]]:
    """GGUF models in a repo listing: ``{"quant", "file", "parts", "size"}``, split parts grouped."""
    singles: list[dict[str, Any]] = []
    splits: dict[tuple[str, int], dict[int, hub.RepoFile]] = {}
    for f in files:
        if not f.path.lower().endswith(".gguf") or _MMPROJ_RE.search(f.path):
            continue
        m = _SPLIT_RE.match(f.path)
        if m and 1 <= int(m["n"]) <= MAX_PARTS:
            splits.setdefault((m["prefix"], int(m["n"])), {})[int(m["idx"])] = f
        else:
            singles.append({"quant": quant_of(f.path), "file": f.path, "parts": [f.path],
                            "size": f.size, "missing": 0})
    for (_prefix, n), parts in splits.items():
        ordered = [parts[i] for i in sorted(parts)]
        sizes = [p.size for p in ordered]
        singles.append({"quant": quant_of(ordered[0].path), "file": ordered[0].path, "parts": [p.path for p in ordered],
                        "size": sum(sizes) if all(s is not None for s in sizes) else None,
                        "missing": n - len(ordered)})
    singles.sort(key=lambda g: g["file"])
    return singles


def pick_default(groups: list[dict[str, Any]]) -> dict[str, Any]:
    complete = [g for g in groups if not g["missing"]] or groups
    for q in DEFAULT_ORDER:
        exact = [g for g in complete if (g["quant"] or "") == q]
        if exact:
            return exact[0]
        ud = [g for g in complete if (g["quant"] or "") == "UD-" + q]
        if ud:
            return ud[0]
    return complete[0]


def select_quant(groups: list[dict[str, Any]], tag: str, where: str) -> dict[str, Any]:
    t = tag.upper()
    for cand in ([g for g in groups if (g["quant"] or "") == t], [g for g in groups if (g["quant"] or "") == "UD-" + t],
                 [g for g in groups if t.lower() in g["file"].lower()]):
        if cand:
            return sorted(cand, key=lambda g: (g["missing"] > 0, len(g["file"])))[0]
    have = ", ".join(dict.fromkeys(g["quant"] or Path(g["file"]).name for g in groups))[:300]
    raise NotFound(f"{where}: no GGUF file for quant '{tag}'" + (f" (the repo has: {have})" if have else " (the repo has no GGUF files)"))


# --- building descriptions from cached facts ---------------------------------------------------
def _build(bundle: dict[str, Any]) -> ModelDescription:
    from ..formats.gguf_model import describe_gguf_files

    kind = bundle["type"]
    if kind == "gguf":
        from .remote_gguf import check_parts, from_json

        files = [from_json(p) for p in bundle["parts"]]
        check_parts(files, bundle["label"])
        md = describe_gguf_files(files, bundle["label"])
        md.path = files[0].path
        md.files = [f.path for f in files]
    elif kind == "safetensors":
        from ..formats.safetensors import _describe
        from ..model import Tokenizer
        from .remote_safetensors import from_json

        tensors = []
        metadata: dict[str, str] = {}
        seen: set[str] = set()
        size = 0
        for sh in bundle["shards"]:
            h = from_json(sh["header"])
            size += h.file_size
            metadata.update(h.metadata)
            for t in h.tensors:
                if t.name in seen:
                    raise BadModelFile(sh["url"], f"tensor '{t.name[:80]}' appears in two shards")
                seen.add(t.name)
            tensors.extend(h.tensors)
        tok = bundle.get("tokenizer")
        remote = {"license": bundle.get("license"),
                  "tokenizer": Tokenizer(**tok) if isinstance(tok, dict) else None}
        md = _describe(tensors, bundle.get("config"), Path(bundle["label"]), [Path(s["url"]) for s in bundle["shards"]],
                       size, metadata, bundle.get("repo"), list(bundle.get("warnings", [])), remote=remote)
        md.path = bundle["url"]
        md.files = [s["url"] for s in bundle["shards"]]
    else:
        raise SizeupError(f"cached remote facts of unknown type {kind!r}")
    md.warnings.extend(w for w in bundle.get("notes", []) if w not in md.warnings)
    md.extra.update(bundle.get("extra", {}))
    return md


def _cached(key: str) -> ModelDescription | None:
    bundle = meta_cache.get(key, None if hub.offline() else meta_cache.ttl())
    if not isinstance(bundle, dict):
        return None
    try:
        md = _build(bundle)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None  # a damaged entry is a miss
    md.extra["remote"] = dict(md.extra.get("remote", {}), cached=True, requests=0, bytes=0)
    return md


# --- the sources -------------------------------------------------------------------------------
def _read_gguf_parts(urls: list[str], sizes: list[int | None], budget: Budget, label: str, file_keys: list[str | None],
                     auth: bool) -> list[dict[str, Any]]:
    from .remote_gguf import FIRST_READ, FIRST_READ_LATER_PARTS, read_remote_gguf, to_json

    out = []
    for i, (url, size, fkey) in enumerate(zip(urls, sizes, file_keys)):
        hit = meta_cache.get(fkey) if fkey else None
        if isinstance(hit, dict):
            out.append(hit)
            continue
        gf = read_remote_gguf(url, budget, size=size, first=FIRST_READ if i == 0 else FIRST_READ_LATER_PARTS,
                              auth=hub.auth_headers() if auth else None, auth_host=hub.endpoint_host() if auth else None)
        d = to_json(gf)
        if fkey:
            meta_cache.put(fkey, d)
        out.append(d)
        if i == 0:
            count = gf.kv.get("split.count")
            if len(urls) == 1 and isinstance(count, int) and count > 1:
                raise BadModelFile(label, f"split.count is {count} but only one part was found")
    return out


def _hub_gguf(ref: RemoteRef, info: hub.RepoInfo, rev: str, groups: list[dict[str, Any]], budget: Budget) -> dict[str, Any]:
    where = ref.repo or ""
    if ref.filename:
        g = next((g for g in groups if ref.filename in g["parts"]), None)
        if g is None:
            raise NotFound(f"{where}: no GGUF file '{ref.filename}' at revision {rev[:12]}")
        picked_by = "file"
    elif ref.quant:
        g = select_quant(groups, ref.quant, where)
        picked_by = "tag"
    else:
        g = pick_default(groups)
        picked_by = "default"
    if g["missing"]:
        raise BadModelFile(f"{where}/{g['file']}", f"split GGUF is missing {g['missing']} of its parts in the repo listing")
    sizes = [(info.file(p).size if info.file(p) else None) for p in g["parts"]]
    urls = [hub.file_url(info.repo, p, rev) for p in g["parts"]]
    pinned = bool(info.sha)
    keys = [f"gguf:{hub.endpoint()}:{info.repo}@{rev}/{p}" if pinned else None for p in g["parts"]]
    parts = _read_gguf_parts(urls, sizes, budget, f"{where}/{g['file']}", keys, auth=True)
    notes = []
    if picked_by == "default" and len(groups) > 1:
        from ..units import fmt_bytes

        listed = ", ".join(f"{x['quant'] or Path(x['file']).name} {fmt_bytes(x['size'], 1) if x['size'] else '?'}" for x in groups[:8])
        more = f" and {len(groups) - 8} more" if len(groups) > 8 else ""
        notes.append(f"{where} holds {len(groups)} GGUF quantizations ({listed}{more}); read {g['quant'] or g['file']} "
                     f"(pick another with {where}:QUANT; `sizeup search {where}` shows memory and fit for each)")
    return {"type": "gguf", "label": f"{where}/{g['file']}", "parts": parts, "notes": notes,
            "extra": {"hub_repo": info.repo, "hub_revision": rev, "hub_file": g["file"], "hub_quant": g["quant"],
                      "hub_quants": [{k: x[k] for k in ("quant", "file", "size")} | {"n_parts": len(x["parts"])} for x in groups]}}


def _hub_safetensors(ref: RemoteRef, info: hub.RepoInfo, rev: str, budget: Budget) -> dict[str, Any]:
    repo = info.repo
    names = {f.path for f in info.files}
    warnings: list[str] = []
    cfg = None
    if "config.json" in names:
        cfg = hub.read_small_json(repo, "config.json", rev, budget)
        if not isinstance(cfg, dict):
            raise BadModelFile(f"{repo}/config.json", "top level must be a JSON object")
    if ref.filename and ref.filename.endswith(".safetensors"):
        shards = [ref.filename]
    elif "model.safetensors.index.json" in names:
        idx = hub.read_small_json(repo, "model.safetensors.index.json", rev, budget, limit=hub.MAX_API_BYTES)
        wm = idx.get("weight_map") if isinstance(idx, dict) else None
        if not isinstance(wm, dict) or not wm:
            raise BadModelFile(f"{repo}/model.safetensors.index.json", "weight_map missing or empty")
        shards = sorted({v for v in wm.values() if isinstance(v, str)})
        if len(shards) > MAX_PARTS * 4:
            raise BadModelFile(f"{repo}/model.safetensors.index.json", f"{len(shards)} shards")
        bad = [s for s in shards if s not in names]
        if bad:
            raise BadModelFile(f"{repo}/model.safetensors.index.json", f"lists shard {bad[0][:80]} which is not in the repo")
    elif "model.safetensors" in names:
        shards = ["model.safetensors"]
    else:
        shards = sorted(n for n in names if n.endswith(".safetensors") and "/" not in n)
    if not shards:
        raise SizeupError(f"{repo}: no GGUF or safetensors weights in the repo (files: {len(names)})")
    from .remote_safetensors import read_remote_header, to_json

    out = []
    for s in shards:
        key = f"st:{hub.endpoint()}:{repo}@{rev}/{s}" if info.sha else None
        hit = meta_cache.get(key) if key else None
        url = hub.file_url(repo, s, rev)
        if not isinstance(hit, dict):
            f = info.file(s)
            hit = to_json(read_remote_header(url, budget, size=f.size if f else None, auth=hub.auth_headers(),
                                             auth_host=hub.endpoint_host()))
            if key:
                meta_cache.put(key, hit)
        out.append({"url": url, "header": hit})
    tok = None
    if "tokenizer_config.json" in names or "tokenizer.json" in names:
        tok = {"model": None, "n_vocab": 0, "has_chat_template": any(n in names for n in ("chat_template.jinja", "chat_template.json"))}
    return {"type": "safetensors", "label": repo, "repo": repo, "url": f"{hub.endpoint()}/{repo}", "config": cfg,
            "shards": out, "license": info.license, "tokenizer": tok, "warnings": warnings,
            "extra": {"hub_repo": repo, "hub_revision": rev}}


def describe_hub(ref: RemoteRef, budget: Budget) -> dict[str, Any]:
    assert ref.repo
    info = hub.model_info(ref.repo, ref.revision, budget)
    rev = info.sha or ref.revision or "main"
    groups = gguf_groups(info.files)
    fname = ref.filename or ""
    if fname.lower().endswith(".gguf") or (groups and not fname.endswith((".safetensors", ".json"))):
        if not groups:
            raise NotFound(f"{ref.repo}: no GGUF files in the repo")
        b = _hub_gguf(ref, info, rev, groups, budget)
    else:
        if ref.quant:
            raise NotFound(f"{ref.repo}: ':{ref.quant}' picks a GGUF quant, but the repo has no GGUF files")
        b = _hub_safetensors(ref, info, rev, budget)
    if info.license:
        b.setdefault("extra", {})["hub_license"] = info.license
    return b


def describe_url(ref: RemoteRef, budget: Budget) -> dict[str, Any]:
    url = ref.url or ref.text
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    urls = [url]
    m = _SPLIT_RE.match(name)
    if m and int(m["idx"]) >= 1 and 1 < int(m["n"]) <= MAX_PARTS:
        base = url.split("?", 1)[0]
        w, n = len(m["idx"]), int(m["n"])
        head = base[: len(base) - len(name)]
        urls = [f"{head}{m['prefix']}-{i:0{w}d}-of-{m['n']}.gguf" for i in range(1, n + 1)]
    parts = _read_gguf_parts(urls, [None] * len(urls), budget, url, [None] * len(urls), auth=False)
    return {"type": "gguf", "label": url, "parts": parts, "extra": {"url": url}}


def describe_ollama(ref: RemoteRef, budget: Budget) -> dict[str, Any]:
    from .ollama_registry import model_layer

    n, blob_url, digest, size = model_layer(ref.text, budget)
    parts = _read_gguf_parts([blob_url], [size], budget, n.display, [f"ollama-blob:{digest}"], auth=False)
    return {"type": "gguf", "label": n.display, "parts": parts,
            "extra": {"ollama_name": n.display, "ollama_registry": blob_url.split("/v2/")[0], "ollama_digest": digest}}


def ref_key(ref: RemoteRef) -> str:
    if ref.kind == "hub":
        return f"ref:hub:{hub.endpoint()}:{ref.label}"
    if ref.kind == "ollama":
        from ..formats.ollama import parse_name
        from .ollama_registry import registry_base

        n = parse_name(ref.text)
        return f"ref:ollama:{registry_base(n)}:{n.display}"
    return f"ref:url:{ref.url}"


def describe_remote(ref: RemoteRef, budget: Budget | None = None) -> ModelDescription:
    """Describe a remote model from its headers (or the metadata cache); one-line errors."""
    key = ref_key(ref)
    md = _cached(key)
    if md is not None:
        return md
    if hub.offline():
        raise SizeupError(f"{ref.label}: offline (--offline or HF_HUB_OFFLINE=1) and no cached facts for it; "
                          "run the same command once online")
    budget = budget or Budget()
    fn: Callable[[RemoteRef, Budget], dict[str, Any]] = {"hub": describe_hub, "url": describe_url, "ollama": describe_ollama}[ref.kind]
    try:
        bundle = fn(ref, budget)
    except SizeupError:
        raise
    except RecursionError:
        raise BadModelFile(ref.label, "nested too deeply to parse") from None
    except MemoryError:
        raise BadModelFile(ref.label, "needs more memory than it is sane to allocate (corrupt sizes?)") from None
    except Exception as e:  # a parser bug on hostile bytes must stay one line
        raise BadModelFile(short(ref.label), f"malformed ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    stats = budget.stats()
    file_bytes = sum(int(p.get("file_size", 0)) for p in bundle.get("parts", [])) or \
        sum(int(s["header"].get("file_size", 0)) for s in bundle.get("shards", []))
    bundle.setdefault("extra", {})["remote"] = {"bytes": stats["bytes"], "requests": stats["requests"],
                                                "seconds": stats["seconds"], "file_bytes": file_bytes, "cached": False}
    md = _build(bundle)
    meta_cache.put(key, bundle)
    return md


__all__ = ["describe_remote", "RemoteError", "quant_of", "gguf_groups", "pick_default", "select_quant"]
