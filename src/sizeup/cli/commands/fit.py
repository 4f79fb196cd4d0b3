"""``sizeup`` / ``sizeup fit``: what should I run on this machine?"""

from __future__ import annotations

HELP = "recommend models for this machine (the default command): best quant that fits, speed, fit level"
DESCRIPTION = (
    "Probes this machine (or the one described by the what-if flags) and ranks the built-in catalog: "
    "for each model the best quantization that fits at the target context, the memory it needs against "
    "what is available, where it runs (GPU / partial offload / CPU), estimated decode speed and a "
    "one-line reason. --explain prints the score components behind the ranking."
)

TASKS = ("coding", "chat", "reasoning", "vision", "multilingual", "tool-use", "edge")


def add_arguments(p) -> None:
    p.add_argument("--task", choices=TASKS, help="prefer models tagged for this task")
    p.add_argument("--ctx", default="8k", help="target context length (default 8k), e.g. 32k")
    p.add_argument("--license", choices=("any", "permissive"), default="any",
                   help="permissive = OSI open-source licences only (Apache-2.0, MIT...)")
    p.add_argument("--min-speed", type=float, metavar="TOK/S", help="only models estimated at least this fast")
    p.add_argument("--max-params", help="skip models larger than this, e.g. 14B")
    p.add_argument("-n", type=int, default=15, help="rows to show (default 15)")
    p.add_argument("--all", action="store_true", help="also list models that do not fit")
    p.add_argument("--explain", action="store_true", help="print the score components of each row")
    add_hardware_flags(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_hardware_flags(p) -> None:
    g = p.add_argument_group("what-if hardware (plan for a machine you don't have)")
    g.add_argument("--gpu", help="GPU model from the spec table, e.g. 'RTX 4090'")
    g.add_argument("--vram", help="VRAM per GPU, e.g. 24G")
    g.add_argument("--ram", help="system RAM, e.g. 64G")
    g.add_argument("--gpus", type=int, help="number of GPUs")


def probe_from_args(args):
    from ...hardware import probe_hardware

    return probe_hardware(gpu=args.gpu, vram=args.vram, ram=args.ram, n_gpus=args.gpus)


def run(args) -> int:
    from ...catalog import describe_entry, load_catalog
    from ...errors import SizeupError
    from ...recommend import collapse_variants, recommend
    from ...speed_adapter import speed_for_choice
    from ...units import parse_count
    from ..output import err_console, print_json

    ctx = parse_count(args.ctx)
    if ctx < 256:
        raise SizeupError(f"--ctx {ctx} is too small to be useful (at least 256)")
    if args.n <= 0:
        raise SizeupError("-n must be positive")
    if args.min_speed is not None and args.min_speed <= 0:
        raise SizeupError("--min-speed must be positive")
    max_params = _parse_params(args.max_params) if args.max_params else None
    hw = probe_from_args(args)
    models = []
    too_short = 0
    for e in load_catalog():
        m = describe_entry(e)
        if m.arch and 0 < m.arch.n_ctx_train < ctx:
            too_short += 1  # its context window cannot hold the requested context
            continue
        if args.license == "permissive" and m.license.openness != "open-source":
            continue
        if max_params and m.params and m.params.total > max_params:
            continue
        if args.task and args.task not in m.extra.get("tags", []) and "chat" not in m.extra.get("tags", []):
            continue
        models.append(m)
    if not models:
        raise SizeupError("no catalog model matches these filters"
                          + (f" ({too_short} have a context window below {ctx} tokens)" if too_short else ""))

    calibration = _calibration(hw)
    speed_fn = lambda c: speed_for_choice(c, hw, calibration)  # noqa: E731

    if args.json:
        choices = recommend(models, hw, ctx=ctx, task=args.task, min_speed=args.min_speed, speed_fn=speed_fn)
    else:
        from rich.progress import Progress

        with Progress(transient=True, console=err_console()) as prog:
            task = prog.add_task("estimating", total=len(models))
            choices = recommend(models, hw, ctx=ctx, task=args.task, min_speed=args.min_speed, speed_fn=speed_fn,
                                progress=lambda i, n: prog.update(task, completed=i))
    fitting = [c for c in choices if c.fits]
    shown = choices if args.all else fitting
    groups = collapse_variants(shown)
    if not args.all:
        groups = groups[: args.n]
    shown = [g for g, _ in groups]
    if args.json:
        print_json({
            "hardware": hw.to_dict(),
            "ctx": ctx,
            "task": args.task,
            "calibrated": calibration is not None,
            "calibration": calibration.describe() if calibration is not None else None,
            "recommendations": [c.to_dict() | {"variants": [v.to_dict()["id"] for v in vs]} for c, vs in groups],
            "n_fitting": len(fitting),
            "n_considered": len(choices),
            "n_context_too_short": too_short,
        })
        return 0
    _render(hw, ctx, args, choices, groups, fitting, calibration)
    if too_short:
        from ..output import console

        console().print(f"[dim]{too_short} catalog models were left out: their context window is below {ctx} tokens.[/]")
    return 0


def _parse_params(text: str) -> int:
    from ...errors import SizeupError

    t = text.strip().upper()
    mult = {"B": 1e9, "M": 1e6, "T": 1e12}.get(t[-1:], None)
    try:
        return int(float(t[:-1]) * mult) if mult else int(float(t))
    except ValueError:
        raise SizeupError(f"--max-params takes a size like 14B or 500M, not '{text}'") from None


def _calibration(hw):
    try:
        from ...bench.calibrate import load_calibration
    except ImportError:
        return None
    try:
        return load_calibration(hw)
    except Exception:  # a broken or missing history DB must not stop recommendations
        return None


def _render(hw, ctx, args, choices, groups, fitting, calibration) -> None:
    from rich.table import Table

    from ...units import fmt_bytes, fmt_count, fmt_ctx
    from ..output import console

    c = console()
    gpus = ", ".join(f"{g.name} ({fmt_bytes(g.vram_free)} free)" for g in hw.gpus) or "no GPU"
    bw = f"{hw.cpu_bandwidth_gbs:.0f} GB/s" if hw.cpu_bandwidth_gbs else "unknown"
    c.print(f"[bold]{hw.cpu.model}[/] ({hw.cpu.physical_cores} cores, memory bandwidth {bw}), "
            f"RAM {fmt_bytes(hw.memory.available)} free of {fmt_bytes(hw.memory.total)}, {gpus}"
            + (" [yellow](what-if)[/]" if hw.what_if else ""))
    speed_note = calibration.describe() if calibration is not None else "estimated (run `sizeup bench` to calibrate)"
    c.print(f"Models for [bold]{fmt_ctx(ctx)}[/] tokens of context" + (f", task {args.task}" if args.task else "")
            + f"; speed {speed_note}.")
    wide = c.width >= 150
    t = Table(show_lines=False)
    cols = [("#", "right"), ("model", "left"), ("params", "right"), ("quant", "left"), ("memory", "right"),
            ("runs on", "left"), ("tok/s", "right"), ("fit", "left")] + ([("why", "left")] if wide else [])
    for col, just in cols:
        t.add_column(col, justify=just, overflow="fold", no_wrap=col in ("#", "quant", "fit", "tok/s"))
    colour = {"good": "green", "tight": "yellow", "partial": "yellow", "no": "red"}
    for i, (ch, variants) in enumerate(groups, 1):
        p = ch.model.params
        params = fmt_count(p.total) + (f"\n({fmt_count(p.active)} act.)" if p and p.active and p.active < p.total else "")
        tps = f"{ch.decode_tps:.1f}" if ch.decode_tps else "-"
        name = ch.model.extra.get("hf_id") or ch.model.name
        name = name if wide else name.split("/")[-1]
        if variants and wide:
            name += f" [dim](+{len(variants)} same size: {', '.join((v.model.extra.get('hf_id') or v.model.name).split('/')[-1] for v in variants)})[/]"
        elif variants:
            name += f" [dim](+{len(variants)} variant{'s' if len(variants) > 1 else ''})[/]"
        row = [str(i), name, params, ch.quant, fmt_bytes(ch.needed, 1),
               ch.where + (f" ({ch.n_gpu_layers} layers)" if ch.where == "GPU+CPU" else ""),
               tps, f"[{colour[ch.fit_level]}]{ch.fit_level}[/]"] + ([ch.reason] if wide else [])
        t.add_row(*row)
    c.print(t)
    if args.explain:
        for i, (ch, _) in enumerate(groups, 1):
            comps = ", ".join(f"{k} {v:+.2f}" for k, v in ch.components.items())
            c.print(f"[dim]{i:>2}.[/] {ch.reason}\n    score {ch.score:+.2f} = {comps}")
    missing = [ch for ch in choices if not ch.fits]
    if missing and not args.all:
        closest = min(missing, key=lambda ch: ch.miss_bytes or 0)
        c.print(f"[dim]{len(fitting)} of {len(choices)} catalog models fit; {len(missing)} do not "
                f"(closest: {closest.model.extra.get('hf_id') or closest.model.name}, {closest.reason}). "
                "--all lists them, --explain shows the ranking.[/]")
