"""``sizeup history``: past benchmark and quality runs from the results database."""

from __future__ import annotations

HELP = "list past benchmark runs (newest first); --export them as JSON, CSV or Markdown"
DESCRIPTION = (
    "List runs recorded by `sizeup bench` (and endpoint / quality runs) from the history database, "
    "newest first, with their main figures. Use the run ids with `sizeup compare`. --export writes "
    "every matching run (configuration, prediction, summaries) as JSON, CSV or Markdown on stdout."
)

DEFAULT_LIMIT = 20
# The figures shown per run, in column order: (metric, header, format).
MAIN_METRICS = (("pp", "pp tok/s", "{:.1f}"), ("tg", "tg tok/s", "{:.1f}"), ("ttft", "TTFT s", "{:.2f}"),
                ("load", "load s", "{:.2f}"))


def add_arguments(p) -> None:
    p.add_argument("--model", "-m", help="only runs whose model name, path or hash contains this")
    p.add_argument("--kind", help="only runs of this kind (llama.cpp, endpoint, quality...)")
    p.add_argument("--limit", "-n", type=int, help="how many runs (default 20; with --export: all)")
    p.add_argument("--export", action="store_true", help="export the runs instead of listing them")
    p.add_argument("--format", default="json", choices=("json", "csv", "md"), help="export format (default json)")
    p.add_argument("--db", help="history database (default: the user data dir's sizeup/history.db)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def flat_row(r) -> dict:
    """One run as a flat dict (CSV / Markdown row): identity, key settings, every summary mean."""
    c = r.config
    d = {"run": r.id, "started_at": r.started_at, "kind": r.kind, "status": r.status, "model": r.model.get("name"),
         "quant": r.model.get("quant"), "threads": c.get("n_threads"), "ngl": c.get("n_gpu_layers"),
         "fa": c.get("flash_attn"), "kv": c.get("type_k"), "ctx": c.get("n_ctx"), "p": c.get("n_prompt"),
         "n": c.get("n_gen"), "d": c.get("n_depth"), "llama_cpp": r.versions.get("llama_cpp"),
         "hw": r.hw_fingerprint}
    for m, s in sorted(r.summaries.items()):
        d[f"{m}_mean"] = s["mean"]
        d[f"{m}_stddev"] = s["stddev"]
    d["error"] = r.error
    return d


def write_csv(rows: list[dict], out) -> None:
    import csv

    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})


def _md_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def write_md(rows: list[dict], out) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    out.write("| " + " | ".join(cols) + " |\n")
    out.write("|" + "|".join("---" for _ in cols) + "|\n")
    for r in rows:
        out.write("| " + " | ".join(_md_cell(r.get(k)) for k in cols) + " |\n")


def _mark_dead_runs(path) -> None:
    """Best effort: flag runs whose process died. Skipped when the history cannot be written
    (read-only directory, damaged file): reading must work regardless."""
    import os
    import sqlite3

    from ...errors import SizeupError
    from ...history import HistoryDB

    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return
    try:  # look first, read-only: most listings have nothing to mark, and then nothing is written
        with HistoryDB.reader(path) as db:
            if not db.dead_runs():
                return
    except (SizeupError, sqlite3.Error, OSError):
        return
    try:
        with HistoryDB(path) as db:
            db.mark_dead_runs()
    except (SizeupError, sqlite3.Error, OSError):
        pass


def run(args) -> int:
    import sys
    from pathlib import Path

    from ...errors import SizeupError
    from ...history import HistoryDB, default_path

    path = Path(args.db) if args.db else default_path()
    if not path.is_file():
        raise SizeupError(f"no history at {path} yet (run `sizeup bench MODEL.gguf` first)")
    if args.limit is not None and args.limit <= 0:
        raise SizeupError(f"--limit must be positive, not {args.limit}")
    _mark_dead_runs(path)
    with HistoryDB.reader(path) as db:  # read-only: works in a read-only directory, never migrates
        limit = args.limit if args.limit is not None else (None if args.export else DEFAULT_LIMIT)
        runs = db.list_runs(limit=limit, model=args.model, kind=args.kind, with_samples=args.export)
    if args.export:
        if args.format == "json":
            from ..output import print_json

            print_json({"db": str(path), "runs": [r.to_dict() for r in runs]})
        elif args.format == "csv":
            write_csv([flat_row(r) for r in runs], sys.stdout)
        else:
            write_md([flat_row(r) for r in runs], sys.stdout)
        return 0
    if args.json:
        from ..output import print_json

        print_json({"db": str(path), "runs": [r.to_dict() for r in runs]})
        return 0
    from ...render.safe import TextTable, markup, plain, safe_text
    from ...units import fmt_bytes
    from ..output import console

    if not runs:
        console().print(plain(f"no runs match in {path}"))
        return 0
    t = TextTable(title=f"history ({safe_text(path)})")
    for col in ("run", "UTC", "kind", "model", "config", "status", *(h for _, h, _ in MAIN_METRICS), "RSS"):
        t.add_column(col, justify="right" if col in ("run", *(h for _, h, _ in MAIN_METRICS), "RSS") else "left")
    for r in runs:
        c = r.config
        shown = {k2: ({True: "on", False: "off"}.get(c[k2], c[k2]) if k2 == "flash_attn" else c[k2])
                 for k2 in ("n_threads", "n_gpu_layers", "flash_attn", "type_k") if k2 in c}
        cfg = " ".join(f"{k}={shown[k2]}" for k, k2 in (("t", "n_threads"), ("ngl", "n_gpu_layers"),
                                                       ("fa", "flash_attn"), ("kv", "type_k")) if k2 in shown)
        vals = []
        for m, _, fmt in MAIN_METRICS:
            s = r.summaries.get(m)
            vals.append(fmt.format(s["mean"]) if s and isinstance(s.get("mean"), (int, float)) else "")
        rss = r.summaries.get("rss_model")
        status = r.status if r.status == "ok" else f"[red]{safe_text(r.status)}[/]"
        if r.error and r.status != "ok":
            status += f": {safe_text(r.error[:60])}"
        status = markup(status)
        name = r.model.get("name") or "?"
        name = name if len(name) <= 24 else name[:23] + "…"
        t.add_row(str(r.id), str(r.started_at)[5:16].replace("T", " "), r.kind,
                  f"{name} {r.model.get('quant') or ''}".strip(), cfg, status, *vals,
                  fmt_bytes(rss["mean"]) if rss else "")
    console().print(t)
    return 0
