"""``sizeup compare``: runs from the history side by side, with ratios against the first."""

from __future__ import annotations

HELP = "compare runs from the history side by side, with ratios against the first run"
DESCRIPTION = (
    "Show runs (ids from `sizeup history`; ranges like 3-6 allowed) side by side: settings that "
    "differ, every measured metric (mean ± stddev) and its ratio to the first run given. Higher is "
    "better for tok/s; lower for seconds and bytes."
)

MAX_RUNS = 32


def add_arguments(p) -> None:
    p.add_argument("runs", metavar="RUN", nargs="+",
                   help="run ids (at least two), e.g. 3 7 or 3-6; try:N = every candidate of `sizeup try` experiment N")
    p.add_argument("--format", default="table", choices=("table", "json", "csv", "md"), help="output format")
    p.add_argument("--db", help="history database (default: the user data dir's sizeup/history.db)")
    p.add_argument("--json", action="store_true", help="same as --format json")


def comparison(runs) -> dict:
    """The comparison as data (pure): differing settings, and per metric each run's mean,
    stddev and ratio to the first run's mean."""
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r.config if k not in keys]
    differing = [k for k in keys if len({repr(r.config.get(k)) for r in runs}) > 1]
    metrics: list[str] = []
    for r in runs:
        metrics += [m for m in r.summaries if m not in metrics]
    base = runs[0]
    rows = []
    for m in metrics:
        b = base.summaries.get(m)
        cells = []
        for r in runs:
            s = r.summaries.get(m)
            ratio = s["mean"] / b["mean"] if s and b and b["mean"] else None
            cells.append({"run": r.id, "mean": s["mean"] if s else None, "stddev": s["stddev"] if s else None,
                          "n": s["n"] if s else None, "ratio": ratio})
        unit = (b or next((r.summaries[m] for r in runs if m in r.summaries), {})).get("unit")
        rows.append({"metric": m, "unit": unit, "values": cells})
    return {
        "runs": [{"run": r.id, "started_at": r.started_at, "kind": r.kind, "status": r.status,
                  "model": r.model.get("name"), "quant": r.model.get("quant"), "hw": r.hw_fingerprint,
                  "llama_cpp": r.versions.get("llama_cpp"),
                  "settings": {k: r.config.get(k) for k in differing}} for r in runs],
        "differing_settings": differing,
        "metrics": rows,
        "same_hardware": len({r.hw_fingerprint for r in runs}) == 1,
        "same_model": len({r.model.get("hash") for r in runs}) == 1,
    }


def _flat(cmp: dict) -> list[dict]:
    out = []
    for row in cmp["metrics"]:
        d = {"metric": row["metric"], "unit": row["unit"]}
        for c in row["values"]:
            d[f"run{c['run']}"] = c["mean"]
            d[f"run{c['run']}_stddev"] = c["stddev"]
            d[f"run{c['run']}_ratio"] = c["ratio"]
        out.append(d)
    return out


def _fmt(v, unit) -> str:
    if v is None:
        return "-"
    if unit == "B":
        from ...units import fmt_bytes

        return fmt_bytes(v)
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.1f}"


def run(args) -> int:
    import sys
    from pathlib import Path

    from ...errors import SizeupError
    from ...history import HistoryDB, default_path, parse_run_ids

    exps = [str(a) for a in args.runs if str(a).lower().startswith("try:")]  # a `sizeup try` experiment's runs
    ids = list(dict.fromkeys(parse_run_ids([a for a in args.runs if str(a) not in exps])))
    fmt = "json" if args.json else args.format
    path = Path(args.db) if args.db else default_path()
    if not path.is_file():
        raise SizeupError(f"no history at {path} yet (run `sizeup bench MODEL.gguf` first)")
    with HistoryDB.reader(path) as db:  # read-only: never migrates or writes
        for e in exps:
            try:
                exp_id = int(e.split(":", 1)[1].lstrip("#"))
            except ValueError:
                raise SizeupError(f"'{e}' is not an experiment (use try:N with the number `sizeup try` printed)") from None
            found = db.experiment_run_ids(exp_id)
            if not found:
                raise SizeupError(f"no finished candidates of experiment {exp_id} in {path}")
            ids = list(dict.fromkeys(ids + found))
        if len(ids) < 2:
            raise SizeupError("compare needs at least two different run ids")
        if len(ids) > MAX_RUNS:
            raise SizeupError(f"compare shows at most {MAX_RUNS} runs at once")
        runs = [db.get_run(i) for i in ids]
    cmp = comparison(runs)
    if fmt == "json":
        from ..output import print_json

        print_json(cmp)
        return 0
    if fmt in ("csv", "md"):
        from .history import write_csv, write_md

        (write_csv if fmt == "csv" else write_md)(_flat(cmp), sys.stdout)
        return 0
    from ...render.safe import TextTable
    from ..output import console, warn

    if not cmp["same_hardware"]:
        warn("these runs come from different machines")
    if not cmp["same_model"] and not all(r.kind == "try" for r in runs):  # try compares models on purpose
        warn("these runs measured different model files")
    t = TextTable(title="compare (ratio vs run %d)" % runs[0].id)
    t.add_column("")
    for r in runs:
        t.add_column(f"run {r.id}", justify="right")
    t.add_row("model", *(f"{r.model.get('name')} {r.model.get('quant') or ''}" for r in runs))
    t.add_row("status", *(r.status for r in runs))
    for k in cmp["differing_settings"]:
        t.add_row(k, *(str(r.config.get(k)) for r in runs))
    for row in cmp["metrics"]:
        cells = []
        for i, c in enumerate(row["values"]):
            s = _fmt(c["mean"], row["unit"])
            if c["mean"] is not None and c["n"] and c["n"] > 1 and c["stddev"] is not None:
                s += f" ± {_fmt(c['stddev'], row['unit'])}"
            if i and c["ratio"] is not None:
                s += f" ({c['ratio']:.2f}x)"
            cells.append(s)
        t.add_row(f"{row['metric']} ({row['unit']})" if row["unit"] else row["metric"], *cells)
    console().print(t)
    return 0
