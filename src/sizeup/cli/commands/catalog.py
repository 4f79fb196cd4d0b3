"""``sizeup catalog``: the model catalog's sources and their age; list, show, update from the Hub."""

from __future__ import annotations

HELP = "the model catalog: its sources and their age; list / show entries; update from the Hugging Face Hub"
DESCRIPTION = (
    "Without an action: where the catalog comes from and how old each source is (the built-in file, and "
    "the user catalog written by `sizeup catalog update`, which overrides built-in entries by id). "
    "`list` lists entries, `show ID` prints one, `update` fetches the published config.json of every "
    "catalog id plus the Hub's trending text-generation repos into the user catalog."
)


def add_arguments(p) -> None:
    p.add_argument("action", nargs="?", choices=("info", "list", "show", "update"), default="info")
    p.add_argument("id", nargs="?", help="for show: a catalog id, short name or Ollama tag")
    p.add_argument("--trending", type=int, default=100, help="update: trending repos to add (default 100, 0 = none)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown age"
    for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= n:
            k = int(seconds // n)
            return f"{k} {unit}{'s' if k != 1 else ''} old"
    return "just now"


def sources_info() -> dict:
    """The built-in and user catalogs: path, entries, and how old each is."""
    import json
    import time

    from ...catalog import CATALOG_PATH, load_catalog, user_catalog_path
    from ...errors import SizeupError
    from ...limits import MAX_JSON_FILE_BYTES

    builtin = load_catalog(CATALOG_PATH)
    newest = max((e.released for e in builtin), default=None)
    out = {"builtin": {"path": str(CATALOG_PATH), "entries": len(builtin), "newest_release": newest,
                       "age": f"ships with sizeup; newest model released {newest}"}, "user": None}
    up = user_catalog_path()
    if up.is_file():
        info: dict = {"path": str(up)}
        try:
            if up.stat().st_size > MAX_JSON_FILE_BYTES:
                raise SizeupError("too large")
            doc = json.loads(up.read_bytes())
            when = doc.get("updated_unix") if isinstance(doc, dict) else None
            age_s = time.time() - when if isinstance(when, (int, float)) else time.time() - up.stat().st_mtime
            ids = {e.id for e in builtin}
            models = [m for m in doc.get("models", []) if isinstance(m, dict)]
            info.update(updated=str(doc.get("updated"))[:40], endpoint=str(doc.get("endpoint"))[:200], age_seconds=round(age_s),
                        age=_age(age_s), entries=len(models),
                        overrides=sum(1 for m in models if m.get("id") in ids),
                        added=sum(1 for m in models if m.get("id") not in ids))
        except (OSError, ValueError, SizeupError) as e:
            info["error"] = f"unreadable: {e}"
        out["user"] = info
    out["total_entries"] = len(load_catalog())
    return out


def run(args) -> int:
    from ...catalog import get_entry, load_catalog
    from ...errors import SizeupError
    from ..output import console, err_console, print_json

    if args.action == "update":
        from rich.progress import Progress

        from ...sources.catalog_update import update_catalog

        if args.trending < 0 or args.trending > 1000:
            raise SizeupError("--trending must be between 0 and 1000")
        with Progress(transient=True, console=err_console()) as prog:
            task = prog.add_task("fetching configs", total=None)
            summary = update_catalog(trending=args.trending,
                                     progress=lambda i, n, rid: prog.update(task, completed=i, total=n, description=f"{str(rid)[:50]}"))
        if args.json:
            print_json(summary)
            return 0
        from rich.markup import escape

        c = console()
        c.print(f"wrote {escape(summary['path'])}: {summary['refreshed']} catalog entries refreshed "
                f"({len(summary['changed'])} changed), {len(summary['added'])} added from the Hub's trending models, "
                f"{len(summary['skipped'])} skipped")
        for rid, keys in list(summary["changed"].items())[:20]:
            c.print(f"  changed {escape(rid)}: {escape(', '.join(keys)[:200])}")
        for s in summary["skipped"][:10]:
            c.print(f"[dim]  skipped {escape(str(s['id']))}: {escape(s['reason'][:160])}[/]")
        return 0
    if args.action == "show":
        if not args.id:
            raise SizeupError("catalog show needs an id")
        from ...sources.catalog_update import entry_to_raw

        raw = entry_to_raw(get_entry(args.id))
        if args.json:
            print_json(raw)
            return 0
        import json

        from rich.text import Text

        console().print(Text(json.dumps(raw, indent=1)))
        return 0
    info = sources_info()
    if args.action == "list":
        entries = load_catalog()
        user_ids = set()
        if info["user"] and not info["user"].get("error"):
            from ...catalog import user_catalog_path

            user_ids = {e.id for e in load_catalog(user_catalog_path())}
        rows = [{"id": e.id, "name": e.name, "released": e.released, "params": e.params.total,
                 "source": "user" if e.id in user_ids else "builtin", "checked_against": e.checked_against} for e in entries]
        if args.json:
            print_json({"sources": info, "models": rows})
            return 0
        from rich.table import Table
        from rich.text import Text

        from ...units import fmt_count

        t = Table()
        for col in ("id", "released", "params", "source"):
            t.add_column(col, justify="right" if col == "params" else "left")
        for r in rows:
            t.add_row(Text(r["id"]), r["released"], fmt_count(int(r["params"])), r["source"])
        console().print(t)
        _print_sources(info)
        return 0
    if args.json:
        print_json(info)
        return 0
    _print_sources(info)
    return 0


def _print_sources(info: dict) -> None:
    from rich.text import Text

    from ..output import console

    c = console()
    b = info["builtin"]
    c.print(Text(f"built-in catalog: {b['entries']} entries, {b['age']} ({b['path']})"))
    u = info["user"]
    if u is None:
        c.print("user catalog: none (`sizeup catalog update` fetches the latest configs and trending models from the Hub)")
    elif u.get("error"):
        c.print(Text(f"user catalog: {u['path']}: {u['error']}"))
    else:
        c.print(Text(f"user catalog: {u['entries']} entries ({u['overrides']} override built-in ones, {u['added']} added), "
                     f"updated {u['updated']} from {u['endpoint']}, {u['age']} ({u['path']})"))
    c.print(f"in use: {info['total_entries']} entries")
