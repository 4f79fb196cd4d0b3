"""``sizeup report``: one self-contained HTML file with this machine, the ranking and the history."""

from __future__ import annotations

HELP = "write one self-contained HTML report: this machine, the ranking, estimates vs measurements, quality, try"
DESCRIPTION = (
    "Write one HTML file that opens offline (file://, no network request): this machine, the ranking "
    "(as `sizeup fit`), predicted against measured speed and memory from the benchmark history as charts, "
    "quantization quality matrices, and `sizeup try` experiments with their Pareto charts. Tables sort "
    "on a header click; chart points show their values on hover. --json prints the collected data instead."
)

from .fit import TASKS, add_hardware_flags

DEFAULT_OUT = "sizeup-report.html"
MAX_REPORT_BYTES = 64 * 2**20


def add_arguments(p) -> None:
    p.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="FILE",
                   help=f"HTML file to write (default ./{DEFAULT_OUT}); '-' writes to stdout")
    p.add_argument("--history-db", "--db", dest="db", metavar="DB",
                   help="history database (default: $SIZEUP_HISTORY_DB or the user data dir's sizeup/history.db)")
    p.add_argument("--ctx", default="8k", help="context length for the ranking (default 8k)")
    p.add_argument("--task", choices=TASKS, help="rank for this task (as `sizeup fit --task`)")
    p.add_argument("-n", type=int, default=15, help="ranking rows (default 15)")
    p.add_argument("--no-ranking", action="store_true", help="leave the ranking out (faster)")
    add_hardware_flags(p)
    p.add_argument("--json", action="store_true", help="print the collected data as JSON on stdout, write no file")


def run(args) -> int:
    import os
    import sys
    import tempfile
    from pathlib import Path

    from ...errors import SizeupError
    from ...report.collect import MAX_RANKING, collect
    from ...report.html import render
    from ...units import parse_count
    from ..output import err_console, print_json
    from .fit import probe_from_args

    ctx = parse_count(args.ctx)
    if ctx < 256:
        raise SizeupError(f"--ctx {ctx} is too small to be useful (at least 256)")
    if not 0 < args.n <= MAX_RANKING:
        raise SizeupError(f"-n must be between 1 and {MAX_RANKING}")
    if args.db:
        db = Path(args.db)
        if not db.is_file():
            raise SizeupError(f"{db}: no history database there")
    else:
        db = None
    hw = probe_from_args(args)
    if args.json:
        data = collect(db, hw=hw, ctx=ctx, top=args.n, task=args.task, with_ranking=not args.no_ranking)
        print_json(data)
        return 0
    with err_console().status("collecting the report"):
        data = collect(db, hw=hw, ctx=ctx, top=args.n, task=args.task, with_ranking=not args.no_ranking)
    page = render(data)
    if len(page) > MAX_REPORT_BYTES:
        raise SizeupError(f"the report would be {len(page) // 2**20} MiB; use --db with a smaller history")
    if args.output == "-":
        sys.stdout.write(page)
        return 0
    out = Path(args.output)
    if out.is_dir():
        raise SizeupError(f"{out}: is a directory (give a file name, e.g. {out / DEFAULT_OUT})")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise SizeupError(f"{parent}: no such directory")
    # write to a temporary file next to the target, then rename: never a half-written report
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sizeup-report-", suffix=".html", dir=parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(page)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as e:
        raise SizeupError(f"{out}: cannot write the report ({e.strerror})") from None
    h = data["history"]
    err_console().print(f"wrote {out} ({len(page.encode()) / 1024:.0f} KiB: {len(data['bench'])} bench runs, "
                        f"{len(data['quality_matrices'])} quality matrices, {len(data['try_experiments'])} try "
                        f"experiments" + ("" if h["found"] else f"; no history at {h['db']}") + ")", highlight=False,
                        markup=False)
    return 0
