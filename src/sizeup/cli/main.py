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
    ("hw", "hw"),
    ("inspect", "inspect"),
    ("scan", "scan"),
    ("bench", "bench"),
    ("history", "history"),
    ("compare", "compare"),
    ("quantize", "quantize"),
    ("quality", "quality"),
    ("fetch-test-models", "fetch_test_models"),
]
DEFAULT_COMMAND = "fit"


def _version() -> str:
    from .. import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        print(f"sizeup: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sizeup: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # last line of defence: one line, never a traceback, unless asked
        if os.environ.get("SIZEUP_DEBUG"):
            raise
        print(f"sizeup: internal error: {type(e).__name__}: {e} (set SIZEUP_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
