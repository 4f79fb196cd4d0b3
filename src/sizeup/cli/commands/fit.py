"""``sizeup`` / ``sizeup fit``: what should I run on this machine?"""

from __future__ import annotations

HELP = "recommend models for this machine (the default command): best quant and placement, speed, fit, command"
DESCRIPTION = (
    "Probes this machine (or the one described by the what-if flags) and ranks the built-in catalog: "
    "for each model every quantization its release allows in every placement (GPU, GPU + MoE experts "
    "on CPU, partial offload, CPU) is scored on quality loss, speed, fit and headroom, and the best is "
    "kept; models are ranked by that plus published benchmark evidence. Each row carries the "
    "llama-server command that reproduces it. --explain prints every score component and the command."
)

TASKS = ("coding", "chat", "reasoning", "vision", "multilingual", "tool-use", "edge")


def add_arguments(p) -> None:
    p.add_argument("--task", choices=TASKS, help="prefer models tagged for this task")
    p.add_argument("--ctx", default="8k", help="target context length (default 8k), e.g. 32k")
    p.add_argument("--license", choices=("any", "permissive"), default="any",
                   help="permissive = OSI open-source licences only (Apache-2.0, MIT...)")
    p.add_argument("--min-speed", type=float, metavar="TOK/S", help="only models estimated at least this fast")
    p.add_argument("--quant", metavar="TYPE", help="force one llama.cpp type (e.g. Q4_K_M); never above a model's release precision")
    p.add_argument("--kv-type", default="f16", metavar="TYPE", help="KV cache type for K and V (f16, q8_0, q4_0...)")
    p.add_argument("--local", nargs="*", metavar="DIR",
                   help="also rank the GGUF files you have (HF cache, Ollama, LM Studio, llama.cpp cache, and DIRs) "
                        "at their real sizes and types")
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
    g.add_argument("--cpu-bandwidth", type=float, metavar="GB/S",
                   help="system RAM bandwidth, e.g. 80 for dual-channel DDR5 (default: this machine's measurement)")


def probe_from_args(args):
    from ...hardware import probe_hardware

    hw = probe_hardware(gpu=args.gpu, vram=args.vram, ram=args.ram, n_gpus=args.gpus)
    bw = getattr(args, "cpu_bandwidth", None)
    if bw is not None:
        from dataclasses import replace

        from ...errors import SizeupError

        if not 0.1 <= bw <= 100_000:
            raise SizeupError(f"--cpu-bandwidth must be between 0.1 and 100000 GB/s, not {bw:g}")
        hw = replace(hw, cpu_bandwidth_gbs=float(bw), bandwidth_source="override", what_if=True)
    return hw


def run(args) -> int:
    from ...catalog import describe_entry, load_catalog
    from ...errors import SizeupError
    from ...recommend import collapse_variants, recommend
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
    quant = _check_quant(args.quant) if args.quant else None
    from ...estimate.config import RunConfig, normalize_kv_type

    kv = normalize_kv_type(args.kv_type)
    base = RunConfig(n_ctx=ctx, type_k=kv, type_v=kv)
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
    if args.local is not None:
        models += _local_models(args.local, ctx)
    if not models:
        raise SizeupError("no catalog model matches these filters"
                          + (f" ({too_short} have a context window below {ctx} tokens)" if too_short else ""))

    calibration = _calibration(hw)

    kw = dict(ctx=ctx, task=args.task, min_speed=args.min_speed, base=base, calibration=calibration, quant=quant)
    if args.json:
        choices = recommend(models, hw, **kw)
    else:
        from rich.progress import Progress

        with Progress(transient=True, console=err_console()) as prog:
            task = prog.add_task("estimating", total=len(models))
            choices = recommend(models, hw, progress=lambda i, n: prog.update(task, completed=i), **kw)
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


MAX_LOCAL_MODELS = 500


def _local_models(dirs: list[str], ctx: int) -> list:
    """GGUF files found by ``sizeup scan`` (default stores + ``dirs``), described from their headers."""
    from pathlib import Path

    from ...sources.dispatch import describe
    from ...errors import SizeupError
    from ...sources.local_scan import scan

    out = []
    for e in scan([Path(d) for d in dirs])[:MAX_LOCAL_MODELS]:
        if e.format != "gguf" or e.error:
            continue
        try:
            md = describe(e.path)
        except SizeupError:
            continue
        if md.arch is None or not md.tensors or (0 < md.arch.n_ctx_train < ctx):
            continue
        md.extra.setdefault("tags", [])
        md.extra["local"] = True
        out.append(md)
    return out


def _check_quant(text: str) -> str:
    from ...data.quant_mix_rules import FTYPE_DEFAULT_TYPE
    from ...errors import SizeupError

    q = text.strip().upper()
    if q not in FTYPE_DEFAULT_TYPE:
        raise SizeupError(f"--quant '{text[:40]}' is not a llama.cpp file type (e.g. Q4_K_M, Q8_0, IQ4_XS, MXFP4_MOE)")
    return q


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
    from ...render.safe import safe_text

    gpus = ", ".join(f"{safe_text(g.name)} ({fmt_bytes(g.vram_free)} free)" for g in hw.gpus) or "no GPU"
    bw = f"{hw.cpu_bandwidth_gbs:.0f} GB/s" if hw.cpu_bandwidth_gbs else "unknown"
    c.print(f"[bold]{safe_text(hw.cpu.model)}[/] ({hw.cpu.physical_cores} cores, memory bandwidth {bw}), "
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
               ch.where + (f" ({ch.n_gpu_layers} layers)" if ch.where == "GPU+CPU" else "")
               + (f" (--n-cpu-moe {ch.n_cpu_moe})" if ch.n_cpu_moe else ""),
               tps, f"[{colour[ch.fit_level]}]{ch.fit_level}[/]"] + ([ch.reason] if wide else [])
        t.add_row(*row)
    c.print(t)
    if args.explain:
        from rich.markup import escape

        for i, (ch, _) in enumerate(groups, 1):
            comps = ", ".join(f"{k} {v:+.2f}" for k, v in ch.components.items())
            name = escape(ch.model.extra.get("hf_id") or ch.model.name)
            c.print(f"[dim]{i:>2}.[/] [bold]{name}[/]: {escape(ch.reason)}\n    score {ch.score:+.2f} = {comps}")
            if ch.capability is not None:
                c.print(f"    capability: {escape(ch.capability.describe())}")
            alts = [a for a in ch.considered if not (a["quant"] == ch.quant and a["where"] == ch.where)][:3]
            if alts:
                c.print("    beat: " + "; ".join(
                    f"{a['quant']} {a['where']} ({a['decode_tps'] or 0:.0f} tok/s, plan {a['plan_score']:+.2f})" for a in alts))
            if ch.command is not None:
                c.print(f"    run: {escape(ch.command.llama_cpp_line)}")
                if ch.command.ollama:
                    c.print(f"    ollama: {escape(ch.command.ollama)} ({escape(ch.command.ollama_note or '')})")
                for note in ch.command.notes:
                    c.print(f"    note: {escape(note)}")
    missing = [ch for ch in choices if not ch.fits]
    if missing and not args.all:
        closest = min(missing, key=lambda ch: ch.miss_bytes or 0)
        c.print(f"[dim]{len(fitting)} of {len(choices)} catalog models fit; {len(missing)} do not "
                f"(closest: {closest.model.extra.get('hf_id') or closest.model.name}, {closest.reason}). "
                "--all lists them, --explain shows the ranking.[/]")
