"""``sizeup scan``: list every model on this machine, wherever a tool put it."""

from __future__ import annotations

HELP = "find local models (HF cache, Ollama, LM Studio, llama.cpp cache, given folders)"
DESCRIPTION = (
    "List the models in the Hugging Face cache, the Ollama store, LM Studio's models folder and "
    "llama.cpp's download cache, plus any folders given (searched recursively). Only file headers "
    "are read; a model that cannot be parsed is listed with the reason."
)


def add_arguments(p) -> None:
    p.add_argument("dirs", nargs="*", metavar="DIR", help="more folders to search (recursively)")
    p.add_argument("--no-default", action="store_true", help="skip the default locations; search only DIR...")
    p.add_argument("--json", action="store_true", help="print the list as JSON on stdout")


def run(args) -> int:
    from pathlib import Path

    from ...errors import SizeupError
    from ...sources.local_scan import scan
    from ...render.safe import plain, safe_text
    from ..output import console, err_console, print_json

    if args.no_default and not args.dirs:
        raise SizeupError("--no-default needs at least one DIR to search")
    dirs = [Path(d).expanduser() for d in args.dirs]
    ec = err_console()
    if ec.is_terminal and not args.json:
        with ec.status("scanning...", spinner="dots") as status:
            def progress(what: str, found: int) -> None:
                status.update(f"scanning {safe_text(_short(what))}  [dim]({found} found)[/dim]")

            entries = scan(dirs, include_default_locations=not args.no_default, progress=progress)
    else:
        entries = scan(dirs, include_default_locations=not args.no_default)

    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    c = console()
    if not entries:
        c.print(plain("no models found" + ("" if args.no_default else " in the default locations") +
                      (f" or in {', '.join(map(str, dirs))}" if dirs else "")))
        return 0
    if len(entries) > LARGE_TABLE_ROWS:  # rich lays out ~2 ms per row: 50k models took 50 s
        _print_plain_table(entries)
    else:
        c.print(_table(entries, c.width))
    c.print(plain(_summary(entries)))
    return 0


LARGE_TABLE_ROWS = 500


def _print_plain_table(entries) -> None:
    """The same columns as :func:`_table`, aligned in plain text and written in one go: linear in
    the number of rows (rich measures and wraps every cell). External strings are escaped."""
    import sys

    from ...render.safe import escape_controls
    from ...units import fmt_bytes, fmt_count, fmt_ctx

    head = ("name", "format", "params", "quant", "size", "context", "where", "path")
    rows = []
    for e in entries:
        err = ""
        if e.error:
            err = e.error[len(e.path) + 2:] if e.error.startswith(e.path + ": ") else e.error
            err = "  error: " + escape_controls(err)
            facts = (e.format, "-", "-", fmt_bytes(e.size) if e.size else "-", "-", e.location_kind)
        else:
            facts = (e.format, fmt_count(e.params) if e.params else "-", e.quant or "-", fmt_bytes(e.size),
                     fmt_ctx(e.context) if e.context else "-", e.location_kind)
        rows.append((escape_controls(e.name), *(escape_controls(str(f)) for f in facts), escape_controls(_tilde(e.path)) + err))
    widths = [min(48, max(len(head[i]), *(len(r[i]) for r in rows))) for i in range(len(head) - 1)]
    right = {2, 4, 5}

    def line(cells) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out) + "  " + cells[-1]

    sys.stdout.write("\n".join([line(head), *(line(r) for r in rows)]) + "\n")
    sys.stdout.flush()


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _table(entries, width: int):
    """One row per model. Below ~140 columns the path moves under the name instead of getting
    its own column, so the short facts never get squeezed into ellipses."""
    from rich import box
    from rich.text import Text

    from ...render.safe import TextTable, plain

    from ...units import fmt_bytes, fmt_count, fmt_ctx

    wide = width >= 140
    t = TextTable(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("name" if wide else "name / path", overflow="fold", max_width=32 if wide else None)
    for col, just in (("format", "left"), ("params", "right"), ("quant", "left"), ("size", "right"),
                      ("context", "right"), ("where", "left")):
        t.add_column(col, justify=just, no_wrap=True)
    if wide:
        t.add_column("path", overflow="fold", min_width=20)
    for e in entries:
        where = plain(_tilde(e.path), style="dim" if not wide else "")
        if e.error:
            # The error usually repeats the path ("<path>: truncated ..."); show it once.
            err = e.error[len(e.path) + 2:] if e.error.startswith(e.path + ": ") else e.error
            where = where + Text("\n") + plain(err, style="red")
            facts = [e.format, "-", "-", fmt_bytes(e.size) if e.size else "-", "-", e.location_kind]
        else:
            facts = [e.format, fmt_count(e.params) if e.params else "-", e.quant or "-", fmt_bytes(e.size),
                     fmt_ctx(e.context) if e.context else "-", e.location_kind]
        if wide:
            t.add_row(e.name, *facts, where)
        else:
            t.add_row(plain(e.name) + Text("\n") + where, *facts)
    return t


def _tilde(path: str) -> str:
    """Home directory shown as ~ (paths are the widest column)."""
    import os

    home = os.path.expanduser("~").rstrip("/")
    return "~" + path[len(home):] if home and home != "/" and path.startswith(home + "/") else path


def _summary(entries) -> str:
    from ...units import fmt_bytes

    ok = [e for e in entries if not e.error]
    bad = len(entries) - len(ok)
    line = f"{len(ok)} model{'s' if len(ok) != 1 else ''}, {fmt_bytes(sum(e.size for e in ok))}"
    if bad:
        line += f"; {bad} could not be read"
    return line
