"""Entry point: argument parsing, dispatch, and the one-line error contract."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# (command name, module under sizeup.cli.commands). Order is the order shown in --help.
COMMANDS: list[tuple[str, str]] = [
    ("fit", "fit"),
    ("estimate", "estimate"),
    ("table", "table"),
    ("context", "context"),
    ("search", "search"),
    ("try", "try_models"),
    ("hw", "hw"),
    ("inspect", "inspect"),
    ("scan", "scan"),
    ("bench", "bench"),
    ("history", "history"),
    ("compare", "compare"),
    ("quantize", "quantize"),
    ("quality", "quality"),
    ("report", "report"),
    ("catalog", "catalog"),
    ("doctor", "doctor"),
    ("engine", "engine"),
    ("fetch-test-models", "fetch_test_models"),
]
DEFAULT_COMMAND = "fit"


def _version() -> str:
    from .. import __version__

    return __version__


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse with the one-line error contract: ``sizeup: error: ...`` on stderr, exit 2.

    argparse's own ``error`` prints the whole usage block first; here the message (with the
    sub-command's prog name) is the only line, and it is escaped like every other error line.
    """

    def error(self, message: str):  # type: ignore[override]
        from ..render.safe import one_line

        command = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        sys.stderr.write(f"sizeup: error: {one_line(command + message)} (see {self.prog} --help)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="sizeup",
        description=(
            "Which model, at which quantization and context length, runs on this machine - how fast, "
            "in how much memory, and how much quality does it lose? Run with no command to get "
            "recommendations for this machine."
        ),
    )
    parser.add_argument("--version", action="version", version=f"sizeup {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS:
        modname = f"sizeup.cli.commands.{module}"
        if importlib.util.find_spec(modname) is None:
            continue
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import SizeupError
    from ..render.safe import one_line

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `sizeup` alone (or with only options) runs the main job.
    if not any(a in {n for n, _ in COMMANDS} for a in argv[:1]) and not any(a in ("-h", "--help", "--version") for a in argv[:1]):
        argv = [DEFAULT_COMMAND, *argv]
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args) or 0)
    except SizeupError as e:
        print(f"sizeup: error: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # PermissionError and friends on a path the user gave: one line, exit 2
        if isinstance(e, BrokenPipeError):
            return 0
        where = f"{e.filename}: " if e.filename else ""
        print(f"sizeup: error: {one_line(where + (e.strerror or type(e).__name__))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sizeup: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # last line of defence: one line, never a traceback, unless asked
        if os.environ.get("SIZEUP_DEBUG"):
            raise
        print(f"sizeup: internal error: {type(e).__name__}: {one_line(e, 500)} (set SIZEUP_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
