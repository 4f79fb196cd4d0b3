#!/usr/bin/env python3
"""Re-check sizeup's built-in catalog against the published config.json files.

Usage::

    python scripts/refresh_catalog.py --check        # report drift, exit 1 if any
    python scripts/refresh_catalog.py                # rewrite drifted values in catalog.json
    python scripts/refresh_catalog.py --only Qwen/Qwen3-8B --only gpt-oss-20b --check

What it does: for every entry of ``src/sizeup/data/catalog.json`` it downloads the entry's *own*
``config.json`` with ``huggingface_hub.hf_hub_download(repo_id, "config.json")`` (fresh, not from
the cache) and compares every key the entry stores (nested ``text_config`` included) with the
published value. A value that differs is *drift*: ``--check`` lists it and exits 1; without
``--check`` the stored value is replaced by the published one and the entry's ``source`` /
``checked_against`` are updated to say so. Parameter counts and other catalog facts are left
alone: run ``pytest tests/test_catalog.py`` afterwards, which recomputes parameters from the new
configs and compares them with the stated counts.

Keys the entry stores but the published file omits are reported as notes, not drift: they are
transformers class defaults that the catalog writes down explicitly (for instance StarCoder2's
tied embeddings). Gated repositories (Llama, Gemma) need a token: set ``HF_TOKEN`` or run
``huggingface-cli login``; entries that cannot be fetched are listed and make the exit status 2.

Exit status: 0 no drift (or drift rewritten), 1 drift found with ``--check``, 2 the check could
not be completed (no network, no huggingface_hub, unreadable catalog, some entries unfetchable).
Every failure is one line on stderr; there are no tracebacks.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "src" / "sizeup" / "data" / "catalog.json"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # real config.json files are a few kB (gpt-oss: 1.6 kB)


class Unreachable(Exception):
    """The Hub cannot be reached at all: stop instead of reporting every entry as failed."""


def _fail(msg: str, code: int = 2) -> int:
    print(f"refresh_catalog: {msg}", file=sys.stderr)
    return code


def fetch_config(repo_id: str) -> dict[str, Any]:
    """Published config.json of ``repo_id``. Raises Unreachable (network) or LookupError (repo)."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError)
    except ImportError as e:  # an old huggingface_hub keeps errors in utils
        raise Unreachable(f"huggingface_hub is not installed or too old ({e}); pip install 'huggingface_hub>=0.24'") from None
    try:
        path = hf_hub_download(repo_id, "config.json", force_download=True)
    except GatedRepoError:
        raise LookupError("gated repository: set HF_TOKEN or run 'huggingface-cli login'") from None
    except RepositoryNotFoundError:
        raise LookupError("repository not found (renamed or removed?)") from None
    except EntryNotFoundError:
        raise LookupError("the repository has no config.json") from None
    except LocalEntryNotFoundError as e:
        raise Unreachable(f"cannot reach the Hugging Face Hub ({_first_line(e)})") from None
    except Exception as e:  # noqa: BLE001 - the HTTP stack differs between huggingface_hub versions
        net = _network_cause(e)
        if net is not None:
            raise Unreachable(f"cannot reach the Hugging Face Hub ({type(net).__name__}: {_first_line(net)})") from None
        raise LookupError(f"download failed ({type(e).__name__}: {_first_line(e)})") from None
    p = Path(path)
    if p.stat().st_size > MAX_CONFIG_BYTES:
        raise LookupError(f"config.json is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LookupError(f"config.json is not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise LookupError("config.json is not a JSON object")
    return cfg


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:160]


def _network_cause(e: BaseException) -> BaseException | None:
    """The connection-level error behind ``e`` (requests, httpx and socket errors all differ)."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 20:
        name = type(cur).__name__
        if isinstance(cur, (ConnectionError, TimeoutError)) or any(w in name for w in ("Connect", "Timeout", "Network", "gaierror")):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def diff_config(stored: dict[str, Any], published: dict[str, Any], prefix: str = "") -> tuple[list[tuple[str, Any, Any]], list[str]]:
    """(drift, notes): drift = [(key path, stored, published)] for keys present in both that differ."""
    drift: list[tuple[str, Any, Any]] = []
    notes: list[str] = []
    for key, value in stored.items():
        where = f"{prefix}{key}"
        if key not in published:
            notes.append(f"{where}: not in the published file (stored {value!r} is the class default)")
            continue
        pub = published[key]
        if isinstance(value, dict) and isinstance(pub, dict):
            d, n = diff_config(value, pub, where + ".")
            drift += d
            notes += n
        elif value != pub and not (_is_number(value) and _is_number(pub) and float(value) == float(pub)):
            drift.append((where, value, pub))
    return drift, notes


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def apply_drift(stored: dict[str, Any], drift: list[tuple[str, Any, Any]]) -> None:
    for path, _, pub in drift:
        *parents, leaf = path.split(".")
        node = stored
        for p in parents:
            node = node[p]
        node[leaf] = pub


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report differences; exit 1 on drift")
    ap.add_argument("--only", action="append", default=[], metavar="ID",
                    help="limit to entries whose id or alias is ID (repeatable)")
    ap.add_argument("--catalog", type=Path, default=CATALOG, help="catalog file (default: the packaged one)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "20")

    try:
        doc = json.loads(args.catalog.read_text(encoding="utf-8"))
        models = doc["models"]
        assert isinstance(models, list)
    except (OSError, ValueError, KeyError, AssertionError, TypeError) as e:
        return _fail(f"cannot read {args.catalog}: {e}")
    wanted = {w.lower() for w in args.only}
    if wanted:
        models = [m for m in models if m.get("id", "").lower() in wanted
                  or wanted & {a.lower() for a in m.get("aliases", [])}]
        if not models:
            return _fail(f"no catalog entry matches {', '.join(args.only)}")

    today = _dt.date.today().isoformat()
    n_drift = 0
    unfetched: list[str] = []
    for m in models:
        repo = m["id"]
        try:
            published = fetch_config(repo)
        except Unreachable as e:
            return _fail(str(e))
        except LookupError as e:
            unfetched.append(repo)
            print(f"{repo}: not checked: {e}")
            continue
        drift, notes = diff_config(m["config"], published)
        for n in notes:
            print(f"{repo}: note: {n}")
        if not drift:
            continue
        n_drift += len(drift)
        for path, old, new in drift:
            print(f"{repo}: {path}: catalog {old!r} != published {new!r}")
        if not args.check:
            apply_drift(m["config"], drift)
            m["source"] = f"https://huggingface.co/{repo}/blob/main/config.json"
            m["checked_against"] = f"the published config.json, refreshed by scripts/refresh_catalog.py on {today}"
            m.pop("source_note", None)

    if n_drift and not args.check:
        tmp = args.catalog.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(args.catalog)
        print(f"rewrote {n_drift} value(s) in {args.catalog}; now run: pytest tests/test_catalog.py")
    elif not n_drift:
        print(f"no drift in {len(models) - len(unfetched)} checked entr{'y' if len(models) - len(unfetched) == 1 else 'ies'}")
    if unfetched:
        return _fail(f"{len(unfetched)} entr{'y' if len(unfetched) == 1 else 'ies'} could not be fetched (listed above)")
    return 1 if (n_drift and args.check) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(_fail("interrupted", 130))
