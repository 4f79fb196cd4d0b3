"""The built-in catalog of open-weight LLMs (``src/sizeup/data/catalog.json``).

Why a catalog at all: ``sizeup`` answers "what can I run?" before anything is downloaded, so it
needs the architecture of models the user does not have. Each entry stores the
architecture-relevant subset of the model's *published* ``config.json`` (not numbers re-derived
by hand), so every fact can be checked against the file named in ``source`` and kept current by
``scripts/refresh_catalog.py``. The same :func:`~sizeup.formats.hf_config.architecture_from_hf_config`
that reads a downloaded model reads a catalog entry, so the catalog and a real download can never
disagree about what a config means.

Parameter counts are *not* trusted from the entry: :func:`describe_entry` recomputes them from
the architecture (:func:`sizeup.layout.predict_tensors`). The publisher's stated counts are kept
beside them (``params``) and the test suite checks that the two agree, which catches both a
mistyped config field and a layout rule that is wrong for a family.

The file ships with the package, but it is still parsed defensively: a broken entry (unknown
field, missing field, wrong type, unknown licence) fails the load with one line naming the entry,
rather than surfacing later as a confusing estimate.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NotFound, SizeupError
from .limits import MAX_JSON_FILE_BYTES
from .safe_open import FileTooLarge, read_regular
from .model import OPEN_SOURCE, OPEN_WEIGHTS, ModelDescription, ParamCounts, TensorInfo, Tokenizer, count_params

CATALOG_PATH = Path(__file__).parent / "data" / "catalog.json"
SCHEMA = 1
MAX_ENTRIES = 10_000  # the file is ours, but a bound keeps a corrupted one from running away
MAX_TEXT = 2_000  # any one string field

# Use-case tags. A fixed vocabulary so ``search(task=...)`` can reject typos instead of
# silently returning nothing.
TAGS = frozenset({
    "chat", "coding", "reasoning", "math", "vision", "multilingual", "tool-use", "agentic",
    "small/edge", "long-context", "moe", "base", "fully-open",
})
# What users type for a task -> the tag it means.
TASK_SYNONYMS = {
    "code": "coding", "coder": "coding", "programming": "coding",
    "tools": "tool-use", "tool": "tool-use", "function-calling": "tool-use", "agents": "agentic", "agent": "agentic",
    "small": "small/edge", "edge": "small/edge", "mobile": "small/edge",
    "think": "reasoning", "thinking": "reasoning", "reason": "reasoning",
    "image": "vision", "images": "vision", "multimodal": "vision",
    "translation": "multilingual", "long": "long-context", "pretrained": "base", "open": "fully-open",
}

# Hugging Face repo ids (huggingface_hub's validate_repo_id rules) and Ollama tags
# ("name[:tag]", lowercase; ollama's model name grammar allows a namespace "ns/name").
HF_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
OLLAMA_RE = re.compile(r"^(?:[a-z0-9][a-z0-9._-]{0,79}/)?[a-z0-9][a-z0-9._-]{0,79}:[a-z0-9][a-z0-9._-]{0,79}$")
RELEASED_RE = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")

_ENTRY_FIELDS = {
    # name: (type, required)
    "id": (str, True), "name": (str, True), "family": (str, True), "aliases": (list, True),
    "ollama": ((str, type(None)), True), "released": (str, True), "license": (str, True), "tags": (list, True),
    "context_length": (int, True), "params": (dict, True), "source": (str, True), "checked_against": (str, True),
    "source_note": (str, False), "notes": (str, False), "config": (dict, True),
}
_PARAM_FIELDS = {
    "total": ((int, float), True), "stated_in": (str, True), "precision": (str, True), "label": (str, False),
    "active": ((int, float), False), "active_excludes_embedding": (bool, False),
    "active_excludes_output": (bool, False),
}


@dataclass(frozen=True)
class StatedParams:
    """Parameter counts as the publisher states them, and where.

    ``precision`` is ``exact`` when the publisher gives a count (``7.61B``, ``46.7B``) and
    ``label`` when only a size label exists (``Falcon3-1B``): labels round and sometimes name the
    non-embedding size, so they are checked loosely. Some publishers (DeepSeek, OpenAI) count
    *active* parameters without the input embedding, which is a lookup, not compute;
    ``active_excludes_embedding`` records that convention so comparisons use the same one;
    ``active_excludes_output`` likewise for publishers whose active count also leaves out the
    output head (Qwen3-Next's "3B activated" is the non-embedding count).
    """

    total: float
    stated_in: str
    precision: str = "exact"
    label: str | None = None
    active: float | None = None
    active_excludes_embedding: bool = False
    active_excludes_output: bool = False


@dataclass(frozen=True)
class CatalogEntry:
    id: str  # Hugging Face repo id
    name: str
    family: str
    aliases: tuple[str, ...]
    ollama: str | None
    released: str  # YYYY-MM
    license: str  # an id from sizeup.licenses.LICENSES
    tags: tuple[str, ...]
    context_length: int  # maximum context the publisher states
    params: StatedParams
    source: str  # URL of the config.json the architecture facts come from
    checked_against: str  # where that file's content was read when the entry was written
    source_note: str | None = None
    notes: str | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def short_name(self) -> str:
        return self.aliases[0] if self.aliases else self.id.split("/", 1)[1].lower()

    @property
    def is_moe(self) -> bool:
        return self.params.active is not None

    @property
    def openness(self) -> str:
        """open-source / open-weights, from the licence table (sizeup.licenses)."""
        from .licenses import classify_license

        return classify_license(self.license).openness

    def hf_config(self) -> dict[str, Any]:
        """A private copy of the stored config subset (callers may mutate it)."""
        return copy.deepcopy(self.config)


def _err(where: str, problem: str) -> SizeupError:
    return SizeupError(f"catalog: {where}: {problem}")


def _check_fields(obj: dict[str, Any], spec: dict[str, tuple[Any, bool]], where: str) -> None:
    unknown = sorted(set(obj) - set(spec))
    if unknown:
        raise _err(where, f"unknown field(s) {', '.join(unknown)}")
    for name, (typ, required) in spec.items():
        if name not in obj:
            if required:
                raise _err(where, f"missing required field '{name}'")
            continue
        v = obj[name]
        if isinstance(v, bool) and typ in (int, (int, float)):
            raise _err(where, f"field '{name}' must be a number, not a boolean")
        if not isinstance(v, typ):
            raise _err(where, f"field '{name}' has the wrong type ({type(v).__name__})")
        if isinstance(v, str) and len(v) > MAX_TEXT:
            raise _err(where, f"field '{name}' is longer than {MAX_TEXT} characters")


def _str_list(v: list[Any], where: str, name: str) -> tuple[str, ...]:
    if len(v) > 64 or not all(isinstance(x, str) and 0 < len(x) <= 200 for x in v):
        raise _err(where, f"'{name}' must be a list of at most 64 short strings")
    return tuple(v)


def _parse_entry(raw: Any, index: int) -> CatalogEntry:
    from .licenses import LICENSES

    if not isinstance(raw, dict):
        raise _err(f"entry #{index}", "is not a JSON object")
    eid = raw.get("id")
    where = f"entry '{eid}'" if isinstance(eid, str) and len(eid) <= 200 else f"entry #{index}"
    _check_fields(raw, _ENTRY_FIELDS, where)
    if not HF_ID_RE.match(raw["id"]):
        raise _err(where, "id is not a Hugging Face repo id (org/name)")
    p = raw["params"]
    _check_fields(p, _PARAM_FIELDS, f"{where} params")
    if p["precision"] not in ("exact", "label"):
        raise _err(where, "params.precision must be 'exact' or 'label'")
    if not 0 < p["total"] < 1e14 or ("active" in p and not 0 < p["active"] <= p["total"]):
        raise _err(where, "params.total / params.active out of range (0 < active <= total)")
    if raw["license"] not in LICENSES:
        raise _err(where, f"licence '{raw['license']}' is not in sizeup's licence table (sizeup.licenses.LICENSES)")
    if raw["ollama"] is not None and not OLLAMA_RE.match(raw["ollama"]):
        raise _err(where, f"ollama tag '{raw['ollama']}' is not of the form name:tag")
    if not RELEASED_RE.match(raw["released"]):
        raise _err(where, "released must be YYYY-MM")
    tags = _str_list(raw["tags"], where, "tags")
    bad = sorted(set(tags) - TAGS)
    if bad:
        raise _err(where, f"unknown tag(s) {', '.join(bad)} (known: {', '.join(sorted(TAGS))})")
    if not 0 < raw["context_length"] <= 1 << 30:
        raise _err(where, "context_length out of range")
    if not raw["source"].startswith("https://huggingface.co/") or not raw["source"].endswith("/config.json"):
        raise _err(where, "source must be the https://huggingface.co/... config.json URL")
    cfg = raw["config"]
    if not isinstance(cfg.get("model_type"), str):
        raise _err(where, "config has no model_type")
    return CatalogEntry(
        id=raw["id"], name=raw["name"], family=raw["family"], aliases=_str_list(raw["aliases"], where, "aliases"),
        ollama=raw["ollama"], released=raw["released"], license=raw["license"], tags=tags,
        context_length=raw["context_length"],
        params=StatedParams(total=float(p["total"]), stated_in=p["stated_in"], precision=p["precision"],
                            label=p.get("label"), active=float(p["active"]) if "active" in p else None,
                            active_excludes_embedding=p.get("active_excludes_embedding", False),
                            active_excludes_output=p.get("active_excludes_output", False)),
        source=raw["source"], checked_against=raw["checked_against"], source_note=raw.get("source_note"),
        notes=raw.get("notes"), config=cfg,
    )


def parse_catalog(text: str | bytes) -> list[CatalogEntry]:
    """Validate and parse catalog JSON. Raises SizeupError naming the first bad entry."""
    if len(text) > MAX_JSON_FILE_BYTES:
        raise _err("file", f"larger than {MAX_JSON_FILE_BYTES} bytes")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise _err("file", f"not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise _err("file", "expected an object with a 'models' list")
    if doc.get("schema") != SCHEMA:
        raise _err("file", f"schema {doc.get('schema')!r} is not {SCHEMA}")
    if len(doc["models"]) > MAX_ENTRIES:
        raise _err("file", f"more than {MAX_ENTRIES} entries")
    entries = [_parse_entry(raw, i) for i, raw in enumerate(doc["models"])]
    # Every way of naming an entry must lead to exactly one entry.
    seen: dict[str, str] = {}
    for e in entries:
        for key in _keys(e):
            other = seen.setdefault(key, e.id)
            if other != e.id:
                raise _err(f"entry '{e.id}'", f"name '{key}' is already used by '{other}'")
    return entries


def _keys(e: CatalogEntry) -> set[str]:
    keys = {e.id.lower(), *(a.lower() for a in e.aliases)}
    if e.ollama:
        keys.add(e.ollama.lower())
    return keys


@functools.lru_cache(maxsize=8)
def _load(path: str) -> tuple[CatalogEntry, ...]:
    if path.startswith(_MERGED):
        return _merged(path)
    p = Path(path)
    try:
        text = read_regular(p, MAX_JSON_FILE_BYTES)
    except FileTooLarge:
        raise _err(str(p), f"larger than {MAX_JSON_FILE_BYTES} bytes") from None
    except OSError as e:
        raise SizeupError(f"catalog: cannot read {p}: {e.strerror or e}") from None
    return tuple(parse_catalog(text))


# --- the user-level catalog (``sizeup catalog update``) ----------------------------------------
USER_CATALOG_ENV = "SIZEUP_USER_CATALOG"
_MERGED = "<builtin+user>"


def user_catalog_path() -> Path:
    """``$SIZEUP_USER_CATALOG`` or ``user_data_dir("sizeup")/catalog.json``."""
    import os

    env = os.environ.get(USER_CATALOG_ENV)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("sizeup")) / "catalog.json"


def _default_path() -> str:
    """The built-in catalog's path, or a key for built-in + user catalog when the user has one.

    The key carries the user file's mtime, so a ``catalog update`` is seen by the caches.
    """
    p = user_catalog_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        return str(CATALOG_PATH)
    return f"{_MERGED}|{mtime}|{p}"


def _merged(key: str) -> tuple[CatalogEntry, ...]:
    """Built-in entries, each replaced by the user catalog's entry of the same id; new user
    entries added unless one of their names is taken. A broken user file is ignored with a warning."""
    import sys

    builtin = _load(str(CATALOG_PATH))
    user_path = key.split("|", 2)[2]
    try:
        user = _load(user_path)
    except SizeupError as e:
        print(f"sizeup: warning: user catalog ignored: {e}", file=sys.stderr)
        return builtin
    by_id = {e.id: e for e in user}
    out = [by_id.pop(e.id, e) for e in builtin]
    taken = {k for e in out for k in _keys(e)}
    for e in by_id.values():
        if not (_keys(e) & taken):
            out.append(e)
            taken |= _keys(e)
    return tuple(out)


def load_catalog(path: str | Path | None = None) -> list[CatalogEntry]:
    """All catalog entries, validated (cached per path; the list is a fresh copy).

    Without ``path``: the built-in catalog overridden by the user catalog, when there is one.
    """
    return list(_load(str(path or _default_path())))


@functools.lru_cache(maxsize=8)
def _index(path: str) -> dict[str, CatalogEntry]:
    entries = _load(path)
    idx: dict[str, CatalogEntry] = {}
    for e in entries:
        for k in _keys(e):
            idx[k] = e
    # The bare repo name ("Qwen2.5-Coder-7B-Instruct") too, when it names one entry only.
    names: dict[str, list[CatalogEntry]] = {}
    for e in entries:
        names.setdefault(e.id.split("/", 1)[1].lower(), []).append(e)
    for k, es in names.items():
        if len(es) == 1 and k not in idx:
            idx[k] = es[0]
    return idx


def _normalize(name: str) -> str:
    s = name.strip().lower()
    for prefix in ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s.rstrip("/")


def get_entry(id_or_alias: str, path: str | Path | None = None) -> CatalogEntry:
    """The entry named by its HF id, short name, bare repo name or Ollama tag (any case).

    Raises :class:`NotFound` with close matches when nothing matches.
    """
    if not isinstance(id_or_alias, str) or not id_or_alias.strip() or len(id_or_alias) > 300:
        raise NotFound("catalog: give a model id, short name or Ollama tag")
    idx = _index(str(path or _default_path()))
    key = _normalize(id_or_alias)
    if key in idx:
        return idx[key]
    if key.endswith(":latest") and key[: -len(":latest")] in idx:
        return idx[key[: -len(":latest")]]
    close = difflib.get_close_matches(key, list(idx), n=5, cutoff=0.6)
    # Show the spelling users know (HF ids keep their case).
    shown = []
    for k in close:
        e = idx[k]
        label = e.id if k == e.id.lower() else k
        if label not in shown:
            shown.append(label)
    if shown:
        hint = f"; did you mean: {', '.join(shown)}?"
    else:
        hint = f" ({len({e.id for e in idx.values()})} models; sizeup.catalog.search() lists them)"
    raise NotFound(f"'{id_or_alias.strip()}' is not in sizeup's catalog{hint}")


def all_ids(path: str | Path | None = None) -> list[str]:
    """HF ids of every entry (used for "did you mean" suggestions elsewhere)."""
    return [e.id for e in _load(str(path or _default_path()))]


def _parse_size(v: float | int | str) -> float:
    """``8e9``, ``8000000000`` or ``"8B"`` / ``"500M"`` / ``"1.5T"`` -> parameters."""
    if isinstance(v, bool):
        raise SizeupError("max_params must be a number or a size like '8B'")
    if isinstance(v, (int, float)):
        if v <= 0:
            raise SizeupError("max_params must be positive")
        return float(v)
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMbBtT]?)\s*", str(v))
    if not m:
        raise SizeupError(f"max_params '{v}' is not a size like 8B, 500M or 1.5T")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[m.group(2).lower()]


def search(task: str | None = None, max_params: float | int | str | None = None, license: str | None = None,
           path: str | Path | None = None) -> list[CatalogEntry]:
    """Entries matching all given filters, smallest first.

    ``task``: a tag or a synonym (``code`` -> ``coding``, ``edge`` -> ``small/edge``...).
    ``max_params``: stated total parameters at most this (number or ``"8B"``).
    ``license``: a licence id (``apache-2.0``) or an openness class (``open-source``,
    ``open-weights``).
    """
    from .licenses import LICENSES, classify_license, normalize_license_id

    entries = _load(str(path or _default_path()))
    out = list(entries)
    if task is not None:
        t = str(task).strip().lower()
        t = TASK_SYNONYMS.get(t, t)
        if t not in TAGS:
            close = difflib.get_close_matches(t, sorted(TAGS | set(TASK_SYNONYMS)), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SizeupError(f"unknown task '{task}' (known: {', '.join(sorted(TAGS))}){hint}")
        out = [e for e in out if t in e.tags]
    if max_params is not None:
        limit = _parse_size(max_params)
        out = [e for e in out if e.params.total <= limit]
    if license is not None:
        want = str(license).strip().lower()
        if want in (OPEN_SOURCE, OPEN_WEIGHTS):
            out = [e for e in out if classify_license(e.license).openness == want]
        else:
            lid = normalize_license_id(want)
            if lid not in LICENSES:
                raise SizeupError(f"unknown licence '{license}' (an id such as apache-2.0, mit, llama3.1, gemma, "
                                  f"or '{OPEN_SOURCE}' / '{OPEN_WEIGHTS}')")
            out = [e for e in out if e.license == lid]
    return sorted(out, key=lambda e: (e.params.total, e.id.lower()))


def describe_entry(entry: CatalogEntry) -> ModelDescription:
    """The :class:`ModelDescription` of a catalog entry, as if its safetensors were on disk.

    Parameter counts come from the architecture (the tensors llama.cpp would load), not from
    the stated figures, which are kept in ``extra["stated_params"]`` for comparison.
    """
    from .formats.hf_config import architecture_from_hf_config
    from .licenses import classify_license
    from .runtimes import runtimes_for

    arch, params = _shape_of(entry, architecture_from_hf_config)
    warnings = []
    if arch.extra.get("unknown_model_type"):
        warnings.append(f"model_type '{arch.extra.get('hf_model_type')}' is read with generic rules")
    stated = {"total": entry.params.total, "stated_in": entry.params.stated_in, "precision": entry.params.precision}
    if entry.params.label:
        stated["label"] = entry.params.label
    if entry.params.active is not None:
        stated["active"] = entry.params.active
        stated["active_excludes_embedding"] = entry.params.active_excludes_embedding
        if entry.params.active_excludes_output:
            stated["active_excludes_output"] = True
    return ModelDescription(
        name=entry.name,
        source="catalog",
        path=None,
        files=[],
        file_size=0,
        arch=arch,
        params=params,
        quant=None,
        tokenizer=Tokenizer(model=None, n_vocab=arch.n_vocab),
        license=classify_license(entry.license),
        runtimes=runtimes_for("catalog", arch.name),
        tensors=[],
        warnings=warnings,
        extra={
            "hf_id": entry.id,
            "family": entry.family,
            "released": entry.released,
            "tags": list(entry.tags),
            "ollama": entry.ollama,
            "context_length_stated": entry.context_length,
            "stated_params": stated,
            "config_source": entry.source,
            "release": _release_of(entry),
        },
    )


def _release_of(entry: CatalogEntry):
    """The precision the model was released in (sizeup.estimate.native), read from its config."""
    from .estimate.native import release_of

    return release_of(entry.config, entry.id).to_dict()


def _count_layout(layout, arch) -> ParamCounts:
    """:func:`sizeup.model.count_params` over a predicted layout, classifying each tensor role once
    (``blk.N.attn_q.weight`` is the same role in every layer N) instead of once per tensor."""
    from .layout import n_elements
    from .model import classify_tensor

    roles: dict[str, str] = {}
    total = embedding = output = expert = 0
    for name, shape in layout:
        key = "blk.#." + name.split(".", 2)[2] if name.startswith("blk.") and name.count(".") >= 2 else name
        role = roles.get(key)
        if role is None:
            role = roles[key] = classify_tensor(name)
        n = n_elements(shape)
        total += n
        if role in ("embedding", "position_embedding"):
            embedding += n
        elif role == "output":
            output += n
        elif role == "expert":
            expert += n
    active = total
    if arch.n_expert and arch.n_expert_used and expert:
        active = total - expert + expert * arch.n_expert_used // arch.n_expert
    return ParamCounts(total=total, embedding=embedding, output=output, expert=expert, active=active)


def _count_layers(lay, arch) -> ParamCounts:
    """:func:`_count_layout` over the layout kept by layer (``weight_summary.layers_of``): each block
    role list is counted once, times the blocks that have it."""
    from .layout import n_elements
    from .model import classify_tensor

    roles: dict[str, str] = {}
    total = embedding = output = expert = 0

    def add(name: str, n: int) -> None:
        nonlocal total, embedding, output, expert
        key = "blk.#." + name.split(".", 2)[2] if name.startswith("blk.") and name.count(".") >= 2 else name
        role = roles.get(key)
        if role is None:
            role = roles[key] = classify_tensor(name)
        total += n
        if role in ("embedding", "position_embedding"):
            embedding += n
        elif role == "output":
            output += n
        elif role == "expert":
            expert += n

    for name, shape in lay.nonblock:
        add(name, n_elements(shape))
    times: dict[int, list] = {}  # role lists are shared objects: count blocks per list
    for layer, block_roles in lay.blocks:
        t = times.get(id(block_roles))
        if t is None:
            times[id(block_roles)] = [layer, block_roles, 1]
        else:
            t[2] += 1
    for layer, block_roles, k in times.values():
        for suffix, shape in block_roles:
            add(f"blk.{layer}.{suffix}", n_elements(shape) * k)
    active = total
    if arch.n_expert and arch.n_expert_used and expert:
        active = total - expert + expert * arch.n_expert_used // arch.n_expert
    return ParamCounts(total=total, embedding=embedding, output=output, expert=expert, active=active)


_ARCH_MEMO: dict[str, Any] = {}


def _shape_of(entry: CatalogEntry, reader) -> tuple[Any, ParamCounts]:
    """The entry's Architecture and its parameter counts, worked out once per distinct config:
    both depend on the config alone (both are frozen, so entries share them), and the ranking
    finds models of one shape by their shared Architecture object."""
    key = json.dumps(entry.config, sort_keys=True, default=str)
    hit = _ARCH_MEMO.get(key)
    if hit is None:
        arch = reader(entry.hf_config())
        hit = (arch, _params_of(arch))
        if len(_ARCH_MEMO) > MAX_ENTRIES:
            _ARCH_MEMO.clear()
        _ARCH_MEMO[key] = hit
    return hit


# Fine-tunes share their base model's shape: parameter counts are counted once per architecture.
_PARAMS_MEMO: dict[tuple, ParamCounts] = {}


# Shapes that differ only in n_vocab (a fine-tune's added tokens): counted once, then shifted by
# n_embd per token for each (n_embd, n_vocab) table, as weight_summary.vocab_family explains.
_PARAMS_FAMILY: dict[tuple, tuple[int, ParamCounts, int, int]] = {}


def _params_of(arch) -> ParamCounts:
    from .layout import predict_tensors

    key = (arch, tuple(sorted((k, repr(v)[:200]) for k, v in arch.extra.items())))
    hit = _PARAMS_MEMO.get(key)
    if hit is None:
        from .estimate.weight_summary import layers_of, vocab_family

        fam = vocab_family(arch)
        rec = _PARAMS_FAMILY.get(fam) if fam is not None else None
        if rec is not None:
            v0, p0, emb, out = rec
            dv = (arch.n_vocab - v0) * arch.n_embd
            hit = ParamCounts(total=p0.total + dv * (emb + out), embedding=p0.embedding + dv * emb,
                              output=p0.output + dv * out, expert=p0.expert, active=p0.active + dv * (emb + out))
        else:
            lay = layers_of(arch)  # the layout by layer, shared with the ranking's weight summaries
            hit = _count_layout(predict_tensors(arch), arch) if lay.duplicates else _count_layers(lay, arch)
            if fam is not None and not lay.duplicates:
                tables = {name for name, shape in lay.nonblock if shape == (arch.n_embd, arch.n_vocab)}
                if tables <= {"token_embd.weight", "output.weight"}:
                    _PARAMS_FAMILY[fam] = (arch.n_vocab, hit, int("token_embd.weight" in tables),
                                           int("output.weight" in tables))
        if len(_PARAMS_MEMO) > MAX_ENTRIES:
            _PARAMS_MEMO.clear()
            _PARAMS_FAMILY.clear()
        _PARAMS_MEMO[key] = hit
    return hit
