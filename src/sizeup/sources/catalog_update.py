"""``sizeup catalog update``: refresh the catalog from the Hub into a user-level catalog.

For every built-in id the published config.json is fetched and the stored config fields are
replaced by the published values (the fields the entry keeps, recursively); the Hub's trending
text-generation repos that the catalog lacks become new entries built from their config.json and
model info (licence, last change, the parameter count the Hub computes from the safetensors
headers; when the Hub gives none, sizeup's own count from the architecture, marked as such).
Every entry is validated exactly like the built-in file (:func:`sizeup.catalog.parse_catalog`)
before the file is written, and entries sizeup cannot read are skipped with their reason.

The result goes to :func:`sizeup.catalog.user_catalog_path`, which :func:`sizeup.catalog.load_catalog`
lays over the built-in catalog. Gated repos (Llama, Gemma...) answer 401 without a token and keep
their built-in entry.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..errors import SizeupError
from . import hub
from .http_range import Budget, RemoteError

MAX_WORKERS = 4
MAX_CONFIG_VALUE_JSON = 4096  # a new entry keeps config fields up to this size (drops id2label & co.)
_SKIP_KEYS = {"auto_map", "id2label", "label2id", "_name_or_path", "transformers_version", "task_specific_params"}
_QUANT_KEYS = ("quantization_config", "compression_config")


def _quant_subset(q: dict[str, Any]) -> dict[str, Any]:
    """What the release precision needs of a quantization config (estimate/native.py): the method,
    4-bit loading, and each compressed-tensors group's weight bits and type; nothing else."""
    out: dict[str, Any] = {}
    if isinstance(q.get("quant_method"), str):
        out["quant_method"] = q["quant_method"][:40]
    if isinstance(q.get("load_in_4bit"), bool):
        out["load_in_4bit"] = q["load_in_4bit"]
    groups = q.get("config_groups")
    if isinstance(groups, dict):
        kept = {}
        for name, g in list(groups.items())[:16]:
            w = g.get("weights") if isinstance(g, dict) else None
            if isinstance(w, dict):
                kept[str(name)[:40]] = {"weights": {k: w[k] for k in ("num_bits", "type") if isinstance(w.get(k), (int, str))}}
        out["config_groups"] = kept
    return out


def entry_to_raw(e: Any) -> dict[str, Any]:
    """A :class:`~sizeup.catalog.CatalogEntry` back to its JSON form."""
    p = e.params
    params: dict[str, Any] = {"total": p.total, "stated_in": p.stated_in, "precision": p.precision}
    if p.label:
        params["label"] = p.label
    if p.active is not None:
        params["active"] = p.active
        if p.active_excludes_embedding:
            params["active_excludes_embedding"] = True
        if p.active_excludes_output:
            params["active_excludes_output"] = True
    raw: dict[str, Any] = {"id": e.id, "name": e.name, "family": e.family, "aliases": list(e.aliases), "ollama": e.ollama,
                           "released": e.released, "license": e.license, "tags": list(e.tags),
                           "context_length": e.context_length, "params": params, "source": e.source,
                           "checked_against": e.checked_against}
    if e.source_note:
        raw["source_note"] = e.source_note
    if e.notes:
        raw["notes"] = e.notes
    raw["config"] = copy.deepcopy(e.config)
    return raw


def _refresh(stored: dict[str, Any], published: dict[str, Any]) -> list[str]:
    """Replace stored fields by published values in place; the changed keys."""
    changed = []
    for k, v in stored.items():
        if k not in published:
            continue
        pv = published[k]
        if isinstance(v, dict) and isinstance(pv, dict):
            changed += [f"{k}.{c}" for c in _refresh(v, pv)]
        elif pv != v:
            stored[k] = copy.deepcopy(pv)
            changed.append(k)
    return changed


def _config_subset(cfg: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in cfg.items():
        if k in _SKIP_KEYS or not isinstance(k, str) or len(k) > 100:
            continue
        if k in _QUANT_KEYS and isinstance(v, dict):
            out[k] = _quant_subset(v)  # the release precision, however large the full config is
        elif k == "text_config" and isinstance(v, dict):
            out[k] = _config_subset(v)
        elif len(json.dumps(v)) <= MAX_CONFIG_VALUE_JSON:
            out[k] = v
    return out


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def refresh_entry(raw: dict[str, Any], budget: Budget) -> tuple[dict[str, Any], list[str]]:
    published = hub.read_small_json(raw["id"], "config.json", None, budget)
    if not isinstance(published, dict):
        raise SizeupError(f"{raw['id']}: config.json is not a JSON object")
    new = copy.deepcopy(raw)
    changed = _refresh(new["config"], published)
    new["checked_against"] = f"refreshed from {hub.endpoint()}/{raw['id']} config.json by `sizeup catalog update` on {_today()}"
    return new, changed


def new_entry(repo: str, budget: Budget) -> dict[str, Any]:
    from ..catalog import describe_entry, _parse_entry
    from ..formats.hf_config import architecture_from_hf_config
    from ..licenses import LICENSES, normalize_license_id

    info = hub.model_info(repo, None, budget)
    cfg = hub.read_small_json(repo, "config.json", info.sha, budget)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_type"), str):
        raise SizeupError(f"{repo}: config.json has no model_type")
    config = _config_subset(cfg)
    arch = architecture_from_hf_config(copy.deepcopy(config))
    if arch.extra.get("unknown_model_type"):
        raise SizeupError(f"{repo}: model_type '{cfg['model_type'][:40]}' is not in sizeup's family table")
    lic = normalize_license_id(info.license)
    name = repo.split("/", 1)[1]
    low = name.lower()
    tags = ["chat"] if ("conversational" in info.tags or re.search(r"instruct|chat|-it\b|thinking", low)) else ["base"]
    if arch.n_expert:
        tags.append("moe")
    if "coder" in low or "code" in low:
        tags.append("coding")
    raw: dict[str, Any] = {
        "id": repo, "name": name, "family": cfg["model_type"][:60], "aliases": [], "ollama": None,
        "released": (info.last_modified or _today())[:7], "license": lic if lic in LICENSES else "other",
        "tags": tags, "context_length": arch.n_ctx_train if arch.n_ctx_train > 0 else 4096,
        "params": {"total": 1.0, "stated_in": "", "precision": "exact"},
        "source": f"https://huggingface.co/{repo}/blob/main/config.json",
        "checked_against": f"fetched from {hub.endpoint()}/{repo} config.json by `sizeup catalog update` on {_today()}",
        "notes": "added from the Hub's trending text-generation models; release month is the repo's last change",
        "config": config,
    }
    if info.params_total:
        raw["params"] = {"total": float(info.params_total), "precision": "exact",
                         "stated_in": "Hugging Face Hub model info: parameter count of the published safetensors"}
    else:
        counted = describe_entry(_parse_entry(raw, 0)).params.total
        raw["params"] = {"total": float(counted), "precision": "label",
                         "stated_in": "not stated: counted by sizeup from the architecture in config.json"}
    describe_entry(_parse_entry(raw, 0))  # must load and describe like a built-in entry
    return raw


def update_catalog(*, trending: int = 100, progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Fetch, validate and write the user catalog; a summary dict."""
    from ..catalog import CATALOG_PATH, load_catalog, parse_catalog, user_catalog_path

    if hub.offline():
        raise SizeupError("catalog update needs the Hugging Face Hub; it is off (--offline or HF_HUB_OFFLINE=1)")
    builtin = load_catalog(CATALOG_PATH)
    known = {e.id.lower() for e in builtin}
    repos: list[dict[str, Any]] = []
    if trending:
        try:
            repos = hub.list_models(Budget(), sort="trendingScore", limit=min(trending * 2, 1000))
        except RemoteError as e:
            raise SizeupError(f"catalog update: cannot list the Hub's trending models: {e}") from None
    new_ids = [r["id"] for r in repos if r["id"].lower() not in known][:trending]
    jobs: list[tuple[str, Any]] = [("refresh", entry_to_raw(e)) for e in builtin] + [("new", r) for r in new_ids]
    results: list[tuple[str, str, Any]] = []
    done = 0

    def work(job: tuple[str, Any]) -> tuple[str, str, Any]:
        kind, x = job
        b = Budget(max_bytes=8 << 20)
        try:
            if kind == "refresh":
                entry, changed = refresh_entry(x, b)
                return ("refreshed", x["id"], (entry, changed))
            return ("added", x, new_entry(x, b))
        except SizeupError as e:
            return ("skipped", x["id"] if kind == "refresh" else x, str(e))
        except Exception as e:  # a config sizeup cannot read: skip it, say why
            return ("skipped", x["id"] if kind == "refresh" else x, f"{type(e).__name__}: {' '.join(str(e).split())[:160]}")

    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        for r in pool.map(work, jobs):
            results.append(r)
            done += 1
            if progress:
                progress(done, len(jobs), r[1])
    skipped = [(i, why) for k, i, why in results if k == "skipped"]
    if len(skipped) == len(jobs) and jobs:
        raise SizeupError(f"catalog update: every request failed, e.g. {skipped[0][1]}")
    models = [r[2][0] for r in results if r[0] == "refreshed"] + [r[2] for r in results if r[0] == "added"]
    doc = {"schema": 1, "about": "user-level catalog written by `sizeup catalog update`; overrides the built-in one by id",
           "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "updated_unix": time.time(),
           "endpoint": hub.endpoint(), "models": models}
    text = json.dumps(doc, indent=1)
    parse_catalog(text)  # the whole file validates before it replaces the old one
    path = user_catalog_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return {"path": str(path), "updated": doc["updated"], "endpoint": doc["endpoint"],
            "refreshed": sum(1 for r in results if r[0] == "refreshed"),
            "changed": {r[1]: r[2][1] for r in results if r[0] == "refreshed" and r[2][1]},
            "added": [r[1] for r in results if r[0] == "added"],
            "skipped": [{"id": i, "reason": why} for i, why in skipped]}
