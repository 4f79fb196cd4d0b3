"""``sizeup quantize IN.gguf --to Q8_0,Q4_K_M,...``: llama.cpp's quantizer, checked and atomic."""

from __future__ import annotations

HELP = "quantize a GGUF to one or more llama.cpp types (sizes predicted and checked, outputs atomic)"
DESCRIPTION = (
    "Runs llama.cpp's own quantizer once per requested type, each in its own process, writing "
    "OUT_DIR/<name>.<TYPE>.gguf atomically. Checks the types, the need for an importance matrix and "
    "the free disk space before starting, and reports each output's size, bits per weight and the "
    "size sizeup predicted for it."
)


def add_arguments(p) -> None:
    p.add_argument("input", metavar="IN.gguf", help="model to quantize (F32/F16/BF16 ideally)")
    p.add_argument("--to", required=True, metavar="TYPES",
                   help="comma-separated llama.cpp file types, e.g. Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,Q3_K_M,Q2_K")
    p.add_argument("--imatrix", metavar="FILE", help="importance matrix (GGUF or legacy .dat from llama-imatrix)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: next to the input)")
    p.add_argument("--threads", type=int, help="quantizer threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def run(args) -> int:
    import sys
    from pathlib import Path

    from ... import quantize as qz
    from ...errors import SizeupError
    from ..output import console, err_console, print_json, warn

    types = qz.parse_types(args.to)
    src = Path(args.input)
    if not src.is_file():
        raise SizeupError(f"{src}: no such file")
    if args.imatrix and not Path(args.imatrix).is_file():
        raise SizeupError(f"{args.imatrix}: no such imatrix file")
    if args.threads is not None and args.threads < 1:
        raise SizeupError("--threads must be at least 1")
    out_dir = Path(args.out) if args.out else src.resolve().parent
    desc, plans = qz.plan(src, types, out_dir, imatrix=args.imatrix)
    if qz.is_quantized(desc):
        warn(f"{src.name} is already quantized ({desc.quant.label}): outputs are requantized from it, so they carry "
             f"its error too, and it is not the original model to compare them against")

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    outs = []
    with Progress(TextColumn("{task.description:<8}"), BarColumn(), TextColumn("{task.completed}/{task.total} tensors"),
                  TimeElapsedColumn(), console=err_console(), transient=args.json) as bar:
        tasks = {p.ftype: bar.add_task(p.ftype, total=None) for p in plans}

        def progress(ft: str, done: int, total: int) -> None:
            bar.update(tasks[ft], completed=done, total=total)

        for p in plans:
            o = qz.quantize_one(src, p, imatrix=args.imatrix, threads=args.threads, progress=progress)
            if o.ok:
                t = bar.tasks[tasks[p.ftype]].total or 1
                bar.update(tasks[p.ftype], completed=t, total=t)
            outs.append(o)

    if args.json:
        print_json({"input": str(src), "input_label": desc.quant.label if desc.quant else None,
                    "input_bytes": desc.file_size, "requantized": qz.is_quantized(desc),
                    "outputs": [o.to_dict() for o in outs]})
    else:
        from rich.table import Table

        from ...render.safe import safe_text

        tb = Table(title=f"{safe_text(src.name)} ({desc.quant.label if desc.quant else '?'}, {desc.file_size / 2**30:.2f} GiB)")
        for col in ("type", "file", "GiB", "bpw", "predicted GiB", "pred. error", "time"):
            tb.add_column(col, justify="left" if col in ("type", "file") else "right")
        for o in outs:
            if o.ok:
                tb.add_row(o.ftype, safe_text(Path(o.path).name), f"{o.bytes / 2**30:.3f}", f"{o.bits_per_weight:.2f}",
                           f"{o.predicted_bytes / 2**30:.3f}", f"{o.predicted_error * 100:+.2f}%", f"{o.seconds:.1f} s")
            else:
                tb.add_row(o.ftype, "[red]failed[/red]", "", "", f"{o.predicted_bytes / 2**30:.3f}", "", f"{o.seconds:.1f} s")
        console().print(tb)
        for o in outs:
            if o.ok and o.label and o.label != o.ftype:
                warn(f"{o.ftype}: the output's tensor mix reads as {o.label}")
    failed = [o for o in outs if not o.ok]
    for o in failed:
        from ...render.safe import one_line

        print(f"sizeup: error: {one_line(f'{o.ftype}: {o.error}')}", file=sys.stderr)
    return 2 if failed else 0
