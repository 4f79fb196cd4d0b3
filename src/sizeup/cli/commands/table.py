"""``sizeup table``: the seed guide's memory table, computed for real models and this machine."""

from __future__ import annotations

HELP = "the 'memory requirements in practice' table (1B-30B x FP16/4-bit/load time), computed"
DESCRIPTION = (
    "Recomputes the rule-of-thumb table from the 'choosing the right parameter size' guide for real, "
    "current models of each size class: weights and total memory at FP16 and 4-bit, RAM for a CPU run, "
    "and load time from this machine's measured disk speed - with the rule of thumb alongside."
)


def add_arguments(p) -> None:
    p.add_argument("--ctx", default="4096", help="context length for the totals (default 4096)")
    p.add_argument("--model", action="append", default=[], metavar="SIZE=ID",
                   help="use another catalog model for a size class, e.g. --model 7B=mistralai/Mistral-7B-Instruct-v0.3")
    p.add_argument("--no-disk", action="store_true", help="skip the disk measurement (no cold load times)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def run(args) -> int:
    from ...errors import SizeupError
    from ...practice_table import SEED_TABLE, compute_rows
    from ...units import fmt_count, parse_count
    from ..output import console, print_json

    overrides = {}
    sizes = {r["size"] for r in SEED_TABLE}
    for spec in args.model:
        size, _, mid = spec.partition("=")
        if size.upper() not in sizes or not mid:
            raise SizeupError(f"--model takes SIZE=ID with SIZE one of {', '.join(sorted(sizes))}, not '{spec}'")
        overrides[size.upper()] = mid
    ctx = parse_count(args.ctx)
    disk = mem_bw = None
    if not args.no_disk:
        from ...hardware.disk import disk_read_speed

        disk = disk_read_speed().read_gbs
    from ...hardware import probe_hardware

    mem_bw = probe_hardware().cpu_bandwidth_gbs
    rows = compute_rows(ctx, overrides, disk, mem_bw)
    if args.json:
        print_json({"ctx": ctx, "disk_read_gbs": disk, "memory_gbs": mem_bw, "rows": [r.to_dict() for r in rows]})
        return 0
    from rich.table import Table

    def gb(n: int) -> str:
        return f"{n / 1e9:.1f} GB"

    t = Table(title=f"Memory requirements in practice, computed at {ctx} tokens of context "
                    "[dim](the guide's rule of thumb in brackets)[/]", title_justify="left")
    for col in ("size", "model", "params", "VRAM FP16", "VRAM 4-bit", "RAM, CPU run", "load cold / warm"):
        t.add_column(col, justify="left" if col in ("size", "model") else "right",
                     min_width=12 if col == "model" else None, no_wrap=col == "size")
    for r in rows:
        s = r.seed
        cold = f"{r.load_cold_s:.1f}" if r.load_cold_s == r.load_cold_s else "-"
        t.add_row(r.size, r.model_id.split("/")[-1], fmt_count(r.params),
                  f"{gb(r.fp16_total)}\n[dim]({s['fp16']})[/]",
                  f"{gb(r.q4km_total)}\n[dim]({s['int4']})[/]",
                  f"{gb(r.cpu_ram_q4km)}\n[dim]({s['ram']})[/]",
                  f"{cold} / {r.load_warm_s:.1f} s\n[dim]({s['load'].replace(' seconds', ' s').replace(' minutes', ' min')})[/]")
    c = console()
    c.print(t)
    c.print("[dim]VRAM = weights + KV cache + compute/output buffers + runtime overhead, as llama.cpp allocates "
            "them with every layer on the GPU; 4-bit = Q4_K_M (what llama.cpp users mean by 4-bit); RAM = expected "
            "resident memory of a CPU-only run at Q4_K_M. Weights alone: "
            + ", ".join(f"{r.size} {gb(r.fp16_weights)} FP16 / {gb(r.q4km_weights)} Q4_K_M / {gb(r.q40_weights)} Q4_0" for r in rows)
            + ". Load times: " + (f"disk {disk:.2f} GB/s measured here" if disk else "no disk measurement (--no-disk)")
            + (f", memory {mem_bw:.0f} GB/s" if mem_bw else "") + ".[/]")
    return 0
