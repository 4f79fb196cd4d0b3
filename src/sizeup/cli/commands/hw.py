"""``sizeup hw``: show what this machine (or a what-if machine) has for running LLMs."""

from __future__ import annotations

HELP = "show this machine's CPU, RAM, GPUs and memory bandwidth (or plan a what-if machine)"
DESCRIPTION = (
    "Probe CPU (model, cores, ISA features), RAM, GPUs (VRAM, bandwidth, TFLOPS from sizeup's spec "
    "table) and CPU memory bandwidth (measured once in ~1 s, then cached). What-if flags replace the "
    "probed values to plan for a machine you don't have: --gpu 'RTX 4090' --gpus 2 --ram 128G."
)


def add_arguments(p) -> None:
    from ..output import add_json_flag

    add_json_flag(p)
    p.add_argument("--remeasure", action="store_true", help="measure CPU memory bandwidth again instead of using the cached value")
    p.add_argument("--no-bandwidth", action="store_true", help="skip the CPU bandwidth measurement (use only a cached value)")
    p.add_argument("--gpu", metavar="NAME", help="what-if: use this GPU from the spec table (e.g. 'RTX 4090', 'M3 Max', 'MI300X')")
    p.add_argument("--gpus", metavar="N", type=int, help="what-if: number of GPUs")
    p.add_argument("--vram", metavar="SIZE", help="what-if: VRAM per GPU (e.g. 24G, 16GiB)")
    p.add_argument("--ram", metavar="SIZE", help="what-if: system RAM (e.g. 64G)")
    p.add_argument("--list-gpus", action="store_true", help="list the GPUs in sizeup's spec table and exit")


def run(args) -> int:
    from ...hardware import probe_hardware
    from ..output import print_json

    if args.list_gpus:
        return _list_gpus(args.json)
    hw = probe_hardware(gpu=args.gpu, vram=args.vram, ram=args.ram, n_gpus=args.gpus,
                        bandwidth="cached" if args.no_bandwidth else "auto", remeasure=args.remeasure)
    if args.json:
        print_json(hw.to_dict())
        return 0
    _print_table(hw)
    return 0


def _list_gpus(as_json: bool) -> int:
    from ...hardware import specs
    from ..output import console, print_json

    rows = specs.all_specs()
    if as_json:
        print_json([{"name": s.name, "vendor": s.vendor, "vram_gib": s.vram_gib, "bandwidth_gbs": s.bandwidth_gbs,
                     "fp16_tflops": s.fp16_tflops, "unified": s.unified, "source": s.source} for s in rows])
        return 0
    from rich.table import Table

    t = Table(title=f"GPU spec table ({len(rows)} GPUs)")
    for col, just in (("GPU", "left"), ("vendor", "left"), ("memory", "right"), ("GB/s", "right"), ("FP16 TFLOPS", "right")):
        t.add_column(col, justify=just)
    for s in rows:
        t.add_row(s.name, s.vendor, f"{s.vram_gib:g} GiB" + (" shared" if s.unified else ""), f"{s.bandwidth_gbs:g}", f"{s.fp16_tflops:g}")
    console().print(t)
    return 0


def _print_table(hw) -> None:
    """Rich tables; every string from drivers or files is escaped, since names like
    "Navi 31 [Radeon RX 7900 XT/7900 XTX]" would otherwise be eaten as rich markup."""
    from rich.markup import escape as e
    from rich.table import Table

    from ...units import fmt_bytes
    from ..output import console

    c = hw.cpu
    title = "Hardware (what-if)" if hw.what_if else "Hardware"
    t = Table(title=title, show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    cores = f"{c.physical_cores} physical / {c.logical_cores} logical"
    if c.performance_cores:
        cores += f" ({c.performance_cores} performance)"
    if c.usable_cores:
        cores += f", {c.usable_cores} usable by this process"
    t.add_row("CPU", e(f"{c.model} ({c.arch})"))
    t.add_row("cores", cores)
    t.add_row("features", " ".join(c.features) or "-")
    if c.l2_kb or c.l3_kb:
        t.add_row("cache", f"L2 {c.l2_kb or '-'} KiB/core, L3 {(c.l3_kb or 0) / 1024:g} MiB total")
    m = hw.memory
    ram = f"{fmt_bytes(m.total)} total, {fmt_bytes(m.available)} available"
    if m.limit:
        ram += f" (container limit {fmt_bytes(m.limit)})"
    t.add_row("RAM", ram)
    t.add_row("swap", f"{fmt_bytes(m.swap_total)} total, {fmt_bytes(m.swap_free)} free" if m.swap_total else "none")
    t.add_row("unified memory", "yes: GPU and CPU share RAM" if hw.unified_memory else "no")
    if hw.cpu_bandwidth_gbs:
        how = {"measured": "measured now", "cached": f"cached, measured {hw.bandwidth_measured_at or '?'}",
               "spec": "from the spec table"}.get(hw.bandwidth_source, hw.bandwidth_source)
        t.add_row("CPU bandwidth", f"{hw.cpu_bandwidth_gbs:.1f} GB/s read ({how})")
    else:
        t.add_row("CPU bandwidth", "not measured (run `sizeup hw` without --no-bandwidth)")
    console().print(t)

    if hw.gpus:
        g_t = Table(title="GPUs")
        for col, just in (("#", "right"), ("GPU", "left"), ("VRAM total", "right"), ("free", "right"),
                          ("GB/s", "right"), ("FP16 TFLOPS", "right"), ("driver / arch", "left"), ("spec", "left")):
            g_t.add_column(col, justify=just, overflow="fold")
        for g in hw.gpus:
            name = g.name + (" (shares RAM)" if g.unified else "")
            arch = " / ".join(x for x in (g.driver, g.compute_capability and f"cc {g.compute_capability}") if x) or "-"
            g_t.add_row(str(g.index), e(name), fmt_bytes(g.vram_total), fmt_bytes(g.vram_free),
                        f"{g.bandwidth_gbs:g}" if g.bandwidth_gbs else "?", f"{g.fp16_tflops:g}" if g.fp16_tflops else "?",
                        e(arch), e(g.spec_name or "not in table"))
        console().print(g_t)
        for name, src in dict.fromkeys((g.spec_name, g.spec_source) for g in hw.gpus if g.spec_source):
            console().print(f"[dim]spec {e(name)}: {e(src)}[/dim]", markup=True, highlight=False)
    else:
        console().print("GPUs: none found (CPU only)")
    for n in hw.notes:
        console().print(f"[dim]note: {e(n)}[/dim]", markup=True)
