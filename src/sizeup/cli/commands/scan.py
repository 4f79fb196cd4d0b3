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
    from ...scan import scan
    from ..output import console, err_console, print_json

    if args.no_default and not args.dirs:
        raise SizeupError("--no-default needs at least one DIR to search")
    dirs = [Path(d).expanduser() for d in args.dirs]
    ec = err_console()
    if ec.is_terminal and not args.json:
        with ec.status("scanning...", spinner="dots") as status:
            def progress(what: str, found: int) -> None:
                status.update(f"scanning {_short(what)}  [dim]({found} found)[/dim]")

            entries = scan(dirs, include_default_locations=not args.no_default, progress=progress)
    else:
        entries = scan(dirs, include_default_locations=not args.no_default)

    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    c = console()
    if not entries:
        c.print("no models found" + ("" if args.no_default else " in the default locations") +
                (f" or in {', '.join(map(str, dirs))}" if dirs else ""))
        return 0
    c.print(_table(entries, c.width))
    c.print(_summary(entries))
    return 0


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _table(entries, width: int):
    """One row per model. Below ~140 columns the path moves under the name instead of getting
    its own column, so the short facts never get squeezed into ellipses."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ...units import fmt_bytes, fmt_count, fmt_ctx

    wide = width >= 140
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("name" if wide else "name / path", overflow="fold", max_width=32 if wide else None)
    for col, just in (("format", "left"), ("params", "right"), ("quant", "left"), ("size", "right"),
                      ("context", "right"), ("where", "left")):
        t.add_column(col, justify=just, no_wrap=True)
    if wide:
        t.add_column("path", overflow="fold", min_width=20)
    for e in entries:
        where = Text(_tilde(e.path), style="dim" if not wide else "")
        if e.error:
            # The error usually repeats the path ("<path>: truncated ..."); show it once.
            err = e.error[len(e.path) + 2:] if e.error.startswith(e.path + ": ") else e.error
            where = where + Text("\n") + Text(err, style="red")
            facts = [e.format, "-", "-", fmt_bytes(e.size) if e.size else "-", "-", e.location_kind]
        else:
            facts = [e.format, fmt_count(e.params) if e.params else "-", e.quant or "-", fmt_bytes(e.size),
                     fmt_ctx(e.context) if e.context else "-", e.location_kind]
        if wide:
            t.add_row(e.name, *facts, where)
        else:
            t.add_row(Text(e.name + "\n") + where, *facts)
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
