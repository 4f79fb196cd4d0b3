"""``sizeup doctor``: is the inference engine installed, built right for this CPU, and working?"""

from __future__ import annotations

HELP = "check the inference engine: installed, built for this CPU, passes a smoke test"
DESCRIPTION = (
    "Checks llama-cpp-python (the engine behind bench, quality, quantize and context): that it imports, "
    "which version and library, which CPU features llama.cpp was compiled with against what this CPU has, "
    "and a smoke test in a child process (load a tiny model, decode a multi-token batch, then single "
    "tokens). A known failure (AMX crash, illegal instruction, missing library, ABI mismatch) gets one "
    "line naming the cause and the command that fixes it. Exit 0 when green, 2 when not."
)


def add_arguments(p) -> None:
    from ..output import add_json_flag

    add_json_flag(p)
    p.add_argument("--no-smoke", action="store_true", help="skip the smoke test (import and build checks only)")
    p.add_argument("--python", metavar="PATH", help="check the engine of another Python interpreter (e.g. a venv's)")
    p.add_argument("--timeout", type=float, default=180.0, metavar="S", help="smoke-test time limit (default 180 s)")


def run(args) -> int:
    import sys

    from ...engine.doctor import run_doctor
    from ...errors import SizeupError
    from ..output import print_json

    if not (0 < args.timeout <= 3600):
        raise SizeupError("--timeout must be between 0 and 3600 seconds")
    rep = run_doctor(smoke=not args.no_smoke, python=args.python, timeout=args.timeout)
    if args.json:
        print_json(rep.to_dict())
    else:
        from rich.text import Text

        from ..output import console

        c = console()
        for chk in rep.checks:
            mark = ("[ok]", "green") if chk.ok else (("[warn]", "yellow") if chk.level == "warning" else ("[FAIL]", "red"))
            line = Text(f"{mark[0]:7}", style=mark[1])
            line.append(f"{chk.name}: ")
            line.append(chk.detail)
            if chk.fix and not chk.ok:
                line.append(f"  fix: {chk.fix}", style="bold")
            c.print(line)
        if rep.engine.get("system_info"):
            c.print(Text("engine:  " + rep.engine["system_info"], style="dim"))
        c.print(Text("CPU:     " + (rep.cpu.get("model") or "?") + " — " + " ".join(rep.cpu.get("features") or []), style="dim"))
    if not rep.ok:
        d = rep.diagnosis or {}
        cause = d.get("cause") or "the engine does not work"
        fix = d.get("fix")
        from ...render.safe import one_line

        print("sizeup: error: " + one_line(cause + (f"; fix: {fix}" if fix else "")), file=sys.stderr)
        return 2
    return 0
