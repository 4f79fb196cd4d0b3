"""Ollama registry names that are not pulled locally: manifest -> model blob -> GGUF header.

Ollama's registry speaks the OCI distribution API: ``GET /v2/<namespace>/<model>/manifests/<tag>``
returns a manifest whose layer of media type ``application/vnd.ollama.image.model`` is the GGUF
file (digest and size); ``GET /v2/<namespace>/<model>/blobs/<digest>`` serves it (redirecting to
a CDN) and honours Range, so only the header is read. The registry is ``https://<host>`` of the
name (``registry.ollama.ai`` by default); ``SIZEUP_OLLAMA_REGISTRY`` replaces the default
registry's base URL (a mirror, or a test server).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ..errors import NotFound
from ..formats.ollama import DEFAULT_HOST, MAX_MANIFEST_BYTES, MEDIA_MODEL, OllamaName, parse_name
from .http_range import Budget, RemoteError, fetch

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def registry_base(n: OllamaName) -> str:
    if n.host == DEFAULT_HOST and os.environ.get("SIZEUP_OLLAMA_REGISTRY"):
        return os.environ["SIZEUP_OLLAMA_REGISTRY"].rstrip("/")
    return f"https://{n.host}"


def model_layer(name: str, budget: Budget) -> tuple[OllamaName, str, str, int | None]:
    """(name, blob URL, digest, size) of the GGUF layer of ``name``'s manifest."""
    n = parse_name(name)
    base = registry_base(n)
    url = f"{base}/v2/{n.namespace}/{n.model}/manifests/{n.tag}"
    try:
        r = fetch(url, budget, max_body=MAX_MANIFEST_BYTES, headers={"Accept": MANIFEST_ACCEPT})
    except RemoteError as e:
        if e.status == 404:
            raise NotFound(f"Ollama model '{n.display}' is not in the registry ({base})") from None
        raise
    try:
        doc: Any = json.loads(r.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RemoteError(f"{url}: manifest is not valid JSON") from None
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list):
        raise RemoteError(f"{url}: manifest has no 'layers' list")
    for layer in layers[:1000]:
        if isinstance(layer, dict) and layer.get("mediaType") == MEDIA_MODEL:
            digest = layer.get("digest")
            if not isinstance(digest, str) or not _DIGEST.match(digest):
                raise RemoteError(f"{url}: model layer digest is not sha256:<64 hex digits>")
            size = layer.get("size")
            size = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
            return n, f"{base}/v2/{n.namespace}/{n.model}/blobs/{digest}", digest, size
    raise RemoteError(f"{url}: manifest has no {MEDIA_MODEL} layer")
