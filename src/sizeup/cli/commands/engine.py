"""``sizeup engine install``: build llama-cpp-python with flags that work on this CPU."""

from __future__ import annotations

HELP = "install the inference engine (llama-cpp-python) built for this CPU"
DESCRIPTION = (
    "llama-cpp-python is compiled on install. `sizeup engine install` chooses the CMake flags for this "
    "CPU (every ISA extension it has, never the AMX kernels that crash on AMX Xeons; your own CMAKE_ARGS "
    "win), builds the wheel outside pip's cache, keeps it in sizeup's cache under a key of version, flags "
    "and CPU, and installs exactly that wheel. `sizeup engine flags` prints the flags without building."
)


def add_arguments(p) -> None:
    from ..output import add_json_flag

    sub = p.add_subparsers(dest="action", metavar="ACTION")
    for name, help_ in (("install", "build (or reuse) and install llama-cpp-python for this CPU"),
                        ("flags", "print the CMake flags sizeup would build with, and the cache key")):
        q = sub.add_parser(name, help=help_)
        add_json_flag(q)
        q.add_argument("--version", dest="engine_version", metavar="V", help="llama-cpp-python version (default: the tested one)")
        if name == "install":
            q.add_argument("--rebuild", action="store_true", help="build again even if a wheel for these flags is cached")
            q.add_argument("--server", action="store_true", help="also install the server extra (python -m llama_cpp.server)")
    add_json_flag(p)


def run(args) -> int:
    import sys

    from ...engine.install import TESTED_VERSION, install_engine, plan_build
    from ...errors import SizeupError
    from ..output import print_json

    action = getattr(args, "action", None)
    if action is None:
        raise SizeupError("say what to do: `sizeup engine install` or `sizeup engine flags`")
    version = args.engine_version or TESTED_VERSION
    if not all(ch.isalnum() or ch in ".+-" for ch in version) or len(version) > 40:
        raise SizeupError("--version must look like 0.3.36")
    if action == "flags":
        plan = plan_build(version)
        if args.json:
            print_json(plan.to_dict())
        else:
            print(f"CMAKE_ARGS=\"{plan.cmake_args}\"")
            print(f"cache key {plan.key} ({plan.wheel_dir})")
        return 0

    def progress(msg: str) -> None:
        print(f"sizeup: {msg}", file=sys.stderr, flush=True)

    res = install_engine(version, extras=["server"] if args.server else [], rebuild=args.rebuild, progress=progress)
    if args.json:
        print_json(res)
    else:
        how = "reused the cached wheel" if res["reused_cached_wheel"] else "built"
        print(f"installed llama-cpp-python {res['version']} ({how}; CMAKE_ARGS=\"{res['cmake_args']}\")")
        print("check it with: sizeup doctor")
    return 0
