"""The Hugging Face Hub's public API, read with bounded requests.

huggingface_hub supplies the conventions: the endpoint (``HF_ENDPOINT``), the token (``HF_TOKEN``
or the stored login, via :func:`huggingface_hub.get_token`), the request headers
(:func:`huggingface_hub.utils.build_hf_headers`) and the file URLs
(:func:`huggingface_hub.hf_hub_url`). The requests themselves go through
:func:`sizeup.sources.http_range.fetch`, because huggingface_hub's client reads whatever a server
sends without a byte cap or an overall deadline. Nothing is ever written to the HF cache:
``hf_hub_download`` is not used; parsed facts go to sizeup's own cache (:mod:`.meta_cache`).

Endpoints used (the same ones ``HfApi.model_info(files_metadata=True)``, ``HfApi.list_models`` and
``hf_hub_url`` use):

* ``GET /api/models/{repo}[/revision/{rev}]?blobs=true`` -> ``sha``, ``siblings`` with sizes;
* ``GET /api/models?search=...&pipeline_tag=text-generation&sort=...&limit=N``;
* ``GET|Range /{repo}/resolve/{rev}/{file}`` (LFS files redirect to a CDN).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ..errors import SizeupError
from .http_range import Budget, RemoteError, Response, fetch

MAX_API_BYTES = 16 * 1024 * 1024  # one API answer (a repo with thousands of files is ~1 MB)
MAX_SIBLINGS = 50_000
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # config.json, index.json


def endpoint() -> str:
    """``HF_ENDPOINT`` read now (huggingface_hub.constants reads it once, at import)."""
    env = os.environ.get("HF_ENDPOINT")
    if env:
        return env.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def endpoint_host() -> str:
    return (urlsplit(endpoint()).hostname or "").lower()


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) read now, or sizeup's ``--offline``."""
    from . import meta_cache

    if meta_cache.OFFLINE:
        return True
    v = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().upper()
    return v in ("1", "ON", "YES", "TRUE")


def auth_headers() -> dict[str, str]:
    """The Authorization header for the Hub (empty when not logged in)."""
    try:
        from huggingface_hub import get_token
        from huggingface_hub.utils import build_hf_headers

        token = get_token()
        if not token:
            return {}
        h = build_hf_headers(token=token, library_name="sizeup")
    except Exception:  # a broken token file must not stop an anonymous read of a public repo
        return {}
    return {k: v for k, v in h.items() if k.lower() == "authorization"}


def hub_fetch(url: str, budget: Budget, **kw: Any) -> Response:
    return fetch(url, budget, auth=auth_headers(), auth_host=endpoint_host(), **kw)


def get_json(url: str, budget: Budget, limit: int = MAX_API_BYTES) -> Any:
    r = hub_fetch(url, budget, max_body=limit)
    try:
        return json.loads(r.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RemoteError(f"{url.split('?')[0][:120]}: answer is not valid JSON") from None


def file_url(repo: str, filename: str, revision: str | None = None) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo, filename, revision=revision or "main", endpoint=endpoint())


@dataclass
class RepoFile:
    path: str
    size: int | None


@dataclass
class RepoInfo:
    repo: str
    sha: str | None
    files: list[RepoFile]
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = None
    license: str | None = None
    gated: bool = False
    last_modified: str | None = None
    params_total: int | None = None  # "safetensors": {"total": N} of the Hub's model info

    def file(self, path: str) -> RepoFile | None:
        return next((f for f in self.files if f.path == path), None)


def _str(v: Any, n: int = 200) -> str | None:
    return v[:n] if isinstance(v, str) else None


def parse_repo_info(repo: str, data: Any) -> RepoInfo:
    if not isinstance(data, dict):
        raise RemoteError(f"{repo}: the Hub's model info is not a JSON object")
    sib = data.get("siblings")
    if not isinstance(sib, list):
        sib = []
    files: list[RepoFile] = []
    for s in sib[:MAX_SIBLINGS]:
        if not isinstance(s, dict) or not isinstance(s.get("rfilename"), str) or len(s["rfilename"]) > 1024:
            continue
        size = s.get("size")
        lfs = s.get("lfs")
        if not isinstance(size, int) and isinstance(lfs, dict):
            size = lfs.get("size")
        files.append(RepoFile(s["rfilename"], size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None))
    tags = [t[:100] for t in data.get("tags", []) if isinstance(t, str)][:500] if isinstance(data.get("tags"), list) else []
    card = data.get("cardData") if isinstance(data.get("cardData"), dict) else {}
    lic = _str(card.get("license"))
    if lic == "other" and _str(card.get("license_name")):
        lic = _str(card.get("license_name"))
    if lic is None:
        lic = next((t[len("license:"):] for t in tags if t.startswith("license:")), None)
    sha = _str(data.get("sha"), 64)
    st = data.get("safetensors") if isinstance(data.get("safetensors"), dict) else {}
    total = st.get("total")
    total = total if isinstance(total, int) and not isinstance(total, bool) and 0 < total < 10**14 else None
    return RepoInfo(params_total=total, repo=_str(data.get("id")) or repo, sha=sha, files=files, tags=tags,
                    pipeline_tag=_str(data.get("pipeline_tag")), license=lic,
                    gated=bool(data.get("gated")), last_modified=_str(data.get("lastModified"), 40))


def model_info(repo: str, revision: str | None, budget: Budget) -> RepoInfo:
    """What ``HfApi.model_info(repo, revision, files_metadata=True)`` returns, bounded."""
    path = f"/api/models/{repo}" + (f"/revision/{quote(revision, safe='')}" if revision else "")
    return parse_repo_info(repo, get_json(endpoint() + path + "?blobs=true", budget))


def list_models(budget: Budget, *, search: str | None = None, sort: str = "downloads", limit: int = 20,
                pipeline_tag: str | None = "text-generation", filter: str | None = None) -> list[dict[str, Any]]:
    """``HfApi.list_models`` (one page): dicts with id, tags, downloads, likes, pipeline_tag."""
    if not 0 < limit <= 1000:
        raise SizeupError("limit must be between 1 and 1000")
    q: dict[str, Any] = {"sort": sort, "direction": -1, "limit": limit}
    if search:
        q["search"] = search
    if pipeline_tag:
        q["pipeline_tag"] = pipeline_tag
    if filter:
        q["filter"] = filter
    data = get_json(f"{endpoint()}/api/models?{urlencode(q)}", budget)
    if not isinstance(data, list):
        raise RemoteError("the Hub's model search did not answer with a list")
    out = []
    for d in data[:limit]:
        if isinstance(d, dict) and isinstance(d.get("id") or d.get("modelId"), str):
            rid = str(d.get("id") or d.get("modelId"))[:200]
            out.append({"id": rid, "tags": [t for t in d.get("tags", []) if isinstance(t, str)][:200] if isinstance(d.get("tags"), list) else [],
                        "downloads": d.get("downloads") if isinstance(d.get("downloads"), int) else None,
                        "likes": d.get("likes") if isinstance(d.get("likes"), int) else None,
                        "pipeline_tag": _str(d.get("pipeline_tag")), "last_modified": _str(d.get("lastModified"), 40)})
    return out


def read_small_json(repo: str, filename: str, revision: str | None, budget: Budget, limit: int = MAX_CONFIG_BYTES) -> Any:
    return get_json(file_url(repo, filename, revision), budget, limit)
