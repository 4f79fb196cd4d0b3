"""What the user typed -> a remote reference (Hub repo, file URL or Ollama registry name).

Accepted forms:

* ``org/repo``, ``org/repo:QUANT`` (llama.cpp's ``-hf`` convention), ``org/repo@revision``,
  ``org/repo@revision:QUANT``;
* ``hf.co/org/repo[:QUANT]``, ``huggingface.co/org/repo``, ``https://huggingface.co/org/repo``,
  also ``.../tree/<rev>``, ``.../blob/<rev>/<file>`` and ``.../resolve/<rev>/<file>`` links
  (the same host as ``HF_ENDPOINT`` counts as the Hub too);
* any other ``http(s)://...`` URL (a ``.gguf`` file, read through Range requests);
* Ollama registry names: ``qwen3:8b``, ``library/qwen3:8b``, ``registry.ollama.ai/library/qwen3:8b``.

:func:`parse_ref` only parses; it does no I/O. ``explicit`` tells whether the text can only mean
a remote model (a URL, ``hf.co/``, a revision or a quant tag), as opposed to a bare ``org/repo``
that a catalog id could also be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_REPO = r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}"
_REV = r"[\w.\-/]{1,128}"
_TAG = r"[\w.+-]{1,64}"
REPO_RE = re.compile(rf"^(?P<repo>{_REPO})(?:@(?P<rev>[\w.-]{{1,128}}))?(?::(?P<tag>{_TAG}))?$")
HUB_HOSTS = ("huggingface.co", "hf.co", "www.huggingface.co")
OLLAMA_NAME_RE = re.compile(r"^(?:[a-z0-9][a-z0-9._-]{0,79}/){0,2}[a-z0-9][a-z0-9._-]{0,79}(?::[\w][\w.-]{0,79})?$")


@dataclass(frozen=True)
class RemoteRef:
    kind: str  # "hub" | "url" | "ollama"
    text: str  # as typed
    repo: str | None = None  # hub: org/name
    revision: str | None = None  # hub: branch, tag or commit (None = main)
    quant: str | None = None  # hub: ":QUANT" tag
    filename: str | None = None  # hub: one file named by a blob/resolve link
    url: str | None = None  # url: the file URL
    explicit: bool = True  # False for a bare "org/repo" (a catalog id could mean the same)

    @property
    def label(self) -> str:
        if self.kind == "hub":
            s = self.repo or ""
            if self.revision:
                s += f"@{self.revision}"
            if self.filename:
                s += f"/{self.filename}"
            if self.quant:
                s += f":{self.quant}"
            return s
        return self.url or self.text


def _hub_hosts(endpoint_host: str | None) -> set[str]:
    hosts = set(HUB_HOSTS)
    if endpoint_host:
        hosts.add(endpoint_host.lower())
    return hosts


def _hub_path(path: str, text: str) -> RemoteRef | None:
    """``org/repo[...]`` path of a Hub web URL."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if parts[:1] == ["models"]:
        parts = parts[1:]
    if len(parts) < 2:
        return None
    head = "/".join(parts[:2])
    m = REPO_RE.match(head)
    if not m:
        return None
    repo, rev, tag = m["repo"], m["rev"], m["tag"]
    rest = parts[2:]
    if not rest and parts[1].lower().endswith(".gguf"):
        return None  # host/dir/x.gguf: a file URL, not a repo named "x.gguf"
    filename = None
    if rest:
        if rest[0] in ("tree", "blob", "resolve") and len(rest) >= 2:
            rev = rest[1]
            if rest[0] != "tree" and len(rest) >= 3:
                filename = "/".join(rest[2:])
        else:
            return None
    if rev and not re.fullmatch(_REV, rev):
        return None
    if filename and (".." in filename.split("/") or len(filename) > 512):
        return None
    return RemoteRef("hub", text, repo=repo, revision=rev, quant=tag, filename=filename, explicit=True)


def parse_ref(text: str, endpoint_host: str | None = None) -> RemoteRef | None:
    """A :class:`RemoteRef` for ``text``, or None when it is not a remote form."""
    t = text.strip()
    if not t or len(t) > 2048 or any(c.isspace() for c in t):
        return None
    low = t.lower()
    if low.startswith(("http://", "https://")):
        s = urlsplit(t)
        host = (s.hostname or "").lower()
        if not host:
            return None
        if host in _hub_hosts(endpoint_host):
            ref = _hub_path(s.path, t)
            if ref is not None:
                return ref
        return RemoteRef("url", t, url=t)
    for prefix in ("hf.co/", "huggingface.co/", "www.huggingface.co/"):
        if low.startswith(prefix):
            return _hub_path(t[len(prefix):], t)
    m = REPO_RE.match(t)
    if m:
        explicit = bool(m["rev"] or m["tag"])
        return RemoteRef("hub", t, repo=m["repo"], revision=m["rev"], quant=m["tag"], explicit=explicit)
    if OLLAMA_NAME_RE.match(t):
        return RemoteRef("ollama", t, explicit=":" in t or t.count("/") == 2)
    return None
