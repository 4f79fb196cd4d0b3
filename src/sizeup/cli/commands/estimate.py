"""``sizeup estimate``: memory breakdown of one model with llama.cpp (or a vLLM-style server)."""

from __future__ import annotations

HELP = "memory breakdown of one model: weights, KV cache, compute, per device; max context and GPU layers"
DESCRIPTION = (
    "Estimate the memory llama.cpp needs to run MODEL (a GGUF file or directory, a cached HF repo, an "
    "Ollama name or a catalog id) with the given context and options, per device: weights, KV cache, "
    "recurrent state, compute and output buffers, overhead. Also the largest context that fits in this "
    "machine's free memory, how many layers fit on its GPU(s), and a table over common quant types. "
    "With --serve: KV blocks and concurrent sequences on a vLLM/SGLang-style server."
)

import argparse

COMMON_QUANTS = ("Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", help="GGUF file or directory, cached HF repo id, Ollama name or catalog id")
    p.add_argument("--quant", "-q", help="quant type to estimate (default: the file's own; Q4_K_M for catalog models)")
    p.add_argument("--ctx", "-c", default="4096", help="context length, e.g. 8192 or 32k (default 4096)")
    p.add_argument("--kv-type", help="KV cache type for both K and V (f16, q8_0, q4_0, ...)")
    p.add_argument("--cache-type-k", "-ctk", help="K cache type (default f16)")
    p.add_argument("--cache-type-v", "-ctv", help="V cache type (default f16)")
    p.add_argument("--ngl", "--n-gpu-layers", dest="ngl", type=int, default=-1, help="layers on GPU (-1 = all)")
    p.add_argument("--fa", "--flash-attn", dest="fa", default="auto", choices=("on", "off", "auto"))
    p.add_argument("--parallel", "-np", type=int, default=1, help="parallel sequences (n_seq_max)")
    p.add_argument("--batch", "-b", type=int, default=2048, help="logical batch size")
    p.add_argument("--ubatch", "-ub", type=int, default=512, help="physical batch size")
    p.add_argument("--kv-unified", action="store_true", help="one KV buffer shared by all sequences")
    p.add_argument("--swa-full", action="store_true", help="full-size cache for sliding-window layers")
    p.add_argument("--mmap", dest="mmap", action=argparse.BooleanOptionalAction, default=True,
                   help="map the model file (default) or read weights into RAM (--no-mmap), as llama.cpp's flags")
    p.add_argument("--repack", dest="repack", action=argparse.BooleanOptionalAction, default=True,
                   help="let llama.cpp's CPU backend repack weights into interleaved copies (default, as llama.cpp); "
                        "--no-repack as llama.cpp's -nr")
    p.add_argument("--n-outputs-max", type=int, default=None,
                   help="logits rows per micro-batch (default: llama-server's, one per slot; "
                        "0 = llama.cpp library default n_batch, as llama-cli and llama-cpp-python use)")
    p.add_argument("--no-kv-offload", "-nkvo", action="store_true", help="keep the KV cache in RAM")
    p.add_argument("--split-mode", "-sm", default="layer", choices=("layer", "row", "none"))
    p.add_argument("--tensor-split", "-ts", help="GPU proportions, e.g. 3,1")
    p.add_argument("--gpu", help="what-if: this GPU (name from sizeup's table) instead of the probed one")
    p.add_argument("--vram", help="what-if: free VRAM per GPU, e.g. 24G")
    p.add_argument("--ram", help="what-if: available RAM, e.g. 32G")
    p.add_argument("--gpus", type=int, help="what-if: number of GPUs (with --gpu), or GPUs to serve on with --serve")
    p.add_argument("--measure", action="store_true", help="also ask llama.cpp itself (files only; needs llama-cpp-python)")
    p.add_argument("--no-table", action="store_true", help="skip the table over quant types")
    p.add_argument("--serve", action="store_true", help="size a vLLM/SGLang-style server instead of llama.cpp")
    p.add_argument("--tp", type=int, help="tensor parallel size (default: all GPUs)")
    p.add_argument("--pp", type=int, default=1, help="pipeline parallel size")
    p.add_argument("--dtype", default="auto", help="serving weight dtype: auto, bf16, fp8, awq, gptq...")
    p.add_argument("--kv-dtype", default="auto", help="serving KV dtype: auto, fp8...")
    p.add_argument("--gpu-util", type=float, default=0.9, help="gpu_memory_utilization (default 0.9)")
    p.add_argument("--force", action="store_true",
                   help="allow a context above the model's trained maximum (e.g. with RoPE scaling)")
    p.add_argument("--offline", action="store_true",
                   help="answer remote models (org/repo, URLs, registry names) from sizeup's metadata cache only")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def _config(args):
    from ...errors import SizeupError
    from ...estimate.config import RunConfig
    from ...units import parse_count

    tk = args.cache_type_k or args.kv_type or "f16"
    tv = args.cache_type_v or args.kv_type or "f16"
    if args.kv_type and (args.cache_type_k or args.cache_type_v):
        raise SizeupError("use either --kv-type or --cache-type-k/--cache-type-v, not both")
    ts: tuple[float, ...] = ()
    if args.tensor_split:
        try:
            ts = tuple(float(x) for x in args.tensor_split.replace("/", ",").split(","))
        except ValueError:
            raise SizeupError(f"--tensor-split takes numbers like 3,1, not '{args.tensor_split[:40]}'") from None
        import math

        if len(ts) > 128 or not all(math.isfinite(x) and x >= 0 for x in ts) or not any(ts):
            raise SizeupError(f"--tensor-split takes finite, non-negative proportions (not all zero) like 3,1, not '{args.tensor_split[:40]}'")
    return RunConfig(n_ctx=parse_count(args.ctx), n_batch=args.batch, n_ubatch=args.ubatch, type_k=tk, type_v=tv,
                     flash_attn=args.fa, n_parallel=args.parallel, kv_unified=args.kv_unified,
                     n_gpu_layers=args.ngl, split_mode=args.split_mode, tensor_split=ts,
                     use_mmap=args.mmap, repack=args.repack, offload_kqv=not args.no_kv_offload,
                     swa_full=args.swa_full, n_outputs_max=args.n_outputs_max)


def _quant_label(q: str) -> str:
    from ...data.ggml_types import LLAMA_FILE_TYPE_IDS
    from ...errors import SizeupError

    label = q.strip().upper()
    if label not in LLAMA_FILE_TYPE_IDS:
        raise SizeupError(f"unknown quant type '{q}' (known: {', '.join(LLAMA_FILE_TYPE_IDS)})")
    return label


def run(args) -> int:
    from ...sources.dispatch import describe
    from ...errors import SizeupError
    from ..output import print_json, warn

    if args.offline:
        from ...sources.meta_cache import set_offline

        set_offline(True)
    md = describe(args.model)
    if md.arch is None:
        raise SizeupError(f"{args.model}: no architecture facts, cannot estimate memory")
    if md.source == "gguf" and not any(t.n_elements for t in md.tensors):
        raise SizeupError(f"{args.model}: this GGUF has no weights (a vocabulary-only file, like llama.cpp's "
                          "models/ggml-vocab-*.gguf): there is nothing to load, so nothing to estimate")
    if args.serve:
        return _run_serve(args, md)
    cfg = _config(args)
    cfg.check_for(md.arch.n_layer)
    quant = _quant_label(args.quant) if args.quant else None
    if quant and md.extra.get("hub_quant") not in (None, quant) and any(
            q.get("quant") == quant for q in md.extra.get("hub_quants", [])):
        md = describe(f"{md.extra['hub_repo']}@{md.extra['hub_revision']}:{quant}")  # the repo's own file of that quant
    if cfg.n_ctx > md.arch.n_ctx_train > 0:
        if not args.force:
            raise SizeupError(f"context {cfg.n_ctx} is above {md.name}'s maximum of {md.arch.n_ctx_train} tokens "
                              "(--force to estimate it anyway, e.g. for RoPE scaling)")
        warn(f"context {cfg.n_ctx} is beyond the model's trained {md.arch.n_ctx_train} tokens")

    from ...estimate.memory import estimate_memory, max_context, max_gpu_layers, model_tensors
    from ...estimate.placement import devices_from_hardware
    from ...hardware import probe_hardware

    hw = probe_hardware(gpu=args.gpu, vram=args.vram, ram=args.ram, n_gpus=args.gpus, bandwidth="off")
    devices = devices_from_hardware(hw)
    tensors = model_tensors(md, quant)
    est = estimate_memory(md, cfg, devices, tensors=tensors, build=_build_features(hw))

    # the largest context that fits, and the GPU layers that fit at the asked context
    fit_ctx = max_context(md, cfg, devices[0].free or 0, devices, limit=max(md.arch.n_ctx_train, cfg.n_ctx), tensors=tensors)
    gpus = [d for d in devices[1:] if d.kind == "gpu"]
    fit_ngl = None
    if gpus:
        fit_ngl = max_gpu_layers(md, cfg, [g.free or 0 for g in gpus], host_free=devices[0].free, tensors=tensors)

    label = quant or (md.quant.label if md.quant and md.quant.label else None)
    if label is None and not md.tensors:
        label = "Q4_K_M"  # what model_tensors predicts for catalog models
    rows = [] if args.no_table else _quant_table(md, cfg, devices, label)
    measured = _measure(md, cfg) if args.measure else None

    command = _run_command(md, label, est, bool(gpus))
    if args.json:
        d = est.to_dict()
        d.update(quant=label, max_context=fit_ctx, max_gpu_layers=fit_ngl, n_layer=md.arch.n_layer,
                 quant_table=rows, llama_cpp=measured, llama_fit_args=fit_params_args(est),
                 command=command.to_dict())
        print_json(d)
        return 0
    _print(md, label, est, fit_ctx, fit_ngl, rows, measured)
    from ...render.safe import safe_text
    from ..output import console

    console().print(f"run: {safe_text(command.llama_cpp_line)}")
    if command.ollama:
        console().print(f"ollama: {safe_text(command.ollama)} ({safe_text(command.ollama_note or '')})")
    for n in command.notes:
        console().print(f"[dim]note: {safe_text(n)}[/]")
    return 0


def _run_command(md, label, est, has_gpu: bool):
    """The llama-server command (and Ollama line) for exactly this estimate (sizeup.advice.run_command)."""
    from ...advice.run_command import build

    cfg, r = est.config, est.resolved
    hub = str(md.extra.get("hub_repo") or "")
    repo = hub if hub.lower().endswith("gguf") else None
    path = str(md.path) if md.source == "gguf" and md.path and not repo else None
    return build(quant=label or "Q4_K_M", ctx=cfg.n_ctx, n_gpu_layers=r.n_gpu_layers if has_gpu else 0,
                 n_layer=md.arch.n_layer, hf_id=md.extra.get("hf_id"), gguf_path=path, gguf_repo=repo,
                 ollama_tag=md.extra.get("ollama"), type_k=cfg.type_k, type_v=cfg.type_v,
                 flash_attn=r.flash_attn, n_parallel=cfg.n_parallel, has_gpu=has_gpu)


def _build_features(hw):
    """The installed llama.cpp's compiled CPU features (asked in a child, cached), else this CPU's."""
    from ...estimate.repack import features_from_cpu
    from ...llamacpp.sysinfo import installed_build_features

    try:
        b = installed_build_features()
    except Exception:  # a broken engine must not break an estimate: fall back to the CPU
        b = None
    return b or features_from_cpu(hw.cpu.features if hw.cpu else ())


def fit_params_args(est) -> str:
    """The llama-fit-params command line whose ``--fit-print on`` output ``llama_fit`` predicts."""
    cfg, r = est.config, est.resolved
    fa = {True: "on", False: "off"}.get(cfg.flash_attn, "auto")
    a = [f"-c {r.n_ctx}", f"-b {cfg.n_batch}", f"-ub {cfg.n_ubatch}", f"-fa {fa}", f"-np {cfg.n_parallel}",
         f"-ctk {cfg.type_k}", f"-ctv {cfg.type_v}", f"-ngl {cfg.n_gpu_layers if cfg.n_gpu_layers >= 0 else 'all'}"]
    if cfg.kv_unified:
        a.append("-kvu")
    if cfg.swa_full:
        a.append("--swa-full")
    if not cfg.repack:
        a.append("--no-repack")
    if not cfg.offload_kqv:
        a.append("-nkvo")
    return "llama-fit-params --fit-print on " + " ".join(a)


def _quant_table(md, cfg, devices, current):
    from ...errors import SizeupError
    from ...estimate.memory import estimate_memory, max_context, model_tensors

    rows = []
    for q in COMMON_QUANTS:
        try:
            ts = model_tensors(md, q)
            e = estimate_memory(md, cfg, devices, tensors=ts)
            fit = max_context(md, cfg, devices[0].free or 0, devices, tensors=ts)
        except SizeupError as ex:
            rows.append({"quant": q, "error": str(ex)})
            continue
        rows.append({"quant": q, "weights": e.weights, "total": e.total, "fits": e.fits, "max_context": fit,
                     "current": q == current})
    return rows


def _measure(md, cfg):
    from ...llamacpp.simulate import simulate_memory

    if md.source != "gguf" or not md.files:
        return {"error": "llama.cpp measurement needs a GGUF file"}
    try:
        r = simulate_memory(md.files[0], cfg)
    except Exception as e:  # reported, not fatal: the estimate stands on its own
        return {"error": str(e)}
    r.pop("log_tail", None)
    return r


def _print(md, label, est, fit_ctx, fit_ngl, rows, measured) -> None:
    from rich.table import Table

    from ...render.safe import safe_text
    from ...units import fmt_bytes, fmt_ctx
    from ..output import console

    c = console()
    r = est.resolved
    cfg = est.config
    c.print(f"[bold]{safe_text(md.name)}[/]  {safe_text(label or '')}  {safe_text(md.arch.name)}, {md.arch.n_layer} layers")
    c.print(f"context {fmt_ctx(r.n_ctx)} ({r.n_stream} stream(s) x {r.n_ctx_seq}), KV {cfg.type_k}/{cfg.type_v}, "
            f"flash attention {'on' if r.flash_attn else 'off'}, ubatch {r.n_ubatch}, "
            f"{est.placement.n_offloaded}/{md.arch.n_layer + 1} layers on GPU")
    t = Table(title="memory per device (llama.cpp)", title_justify="left")
    state = any(d.recurrent for d in est.devices)
    cols = ["device", "weights", "KV", *(["state"] if state else []), "compute", "output", "overhead", "total", "free"]
    for col in cols:
        t.add_column(col, justify="left" if col == "device" else "right")
    for d in est.devices:
        t.add_row(safe_text(d.name), fmt_bytes(d.weights, 1), fmt_bytes(d.kv, 1), *([fmt_bytes(d.recurrent, 1)] if state else []),
                  fmt_bytes(d.compute, 1), fmt_bytes(d.output, 1), fmt_bytes(d.overhead, 1),
                  f"[bold]{fmt_bytes(d.total, 1)}[/]", fmt_bytes(d.free, 1) if d.free is not None else "?")
    c.print(t)
    c.print(f"expected peak resident RAM after a prompt: {fmt_bytes(est.rss)}"
            + (f" (of which {fmt_bytes(est.host.weights_mapped)} mapped weights, reclaimable page cache)" if est.host.weights_mapped else ""))
    if est.rss != est.working_set:
        c.print(f"working set that must stay resident: {fmt_bytes(est.working_set)} "
                f"({fmt_bytes(est.host.weights_repacked)} of weights repacked by llama.cpp's CPU backend)")
    fit = "; ".join(f"{'Host' if d.kind == 'cpu' else d.name} model {fmt_bytes(d.llama_fit.get('model', 0))}, "
                    f"context {fmt_bytes(d.llama_fit.get('context', 0))}, compute {fmt_bytes(d.llama_fit.get('compute', 0))}"
                    for d in est.devices if d.llama_fit)
    if fit:
        c.print(f"llama.cpp's own reservation (llama-fit-params): {safe_text(fit)}")
    c.print(f"largest context that fits: {fmt_ctx(fit_ctx) if fit_ctx else 'none'}")
    if fit_ngl is not None:
        c.print(f"GPU layers that fit: {fit_ngl} of {md.arch.n_layer + 1}")
    if measured:
        if "error" in measured:
            c.print(f"[yellow]llama.cpp measurement failed: {safe_text(measured['error'])}[/]")
        else:
            tot = measured["totals"]["total"]
            c.print(f"llama.cpp's own figure (no_alloc): {fmt_bytes(tot)} vs predicted {fmt_bytes(est.llama_total)}")
    for n in est.notes:
        c.print(f"[dim]note: {safe_text(n)}[/]")
    if rows:
        qt = Table(title=f"by quant type at {fmt_ctx(cfg.n_ctx)}", title_justify="left")
        for col in ("quant", "weights", "total", "fits", "max context"):
            qt.add_column(col, justify="left" if col == "quant" else "right")
        for row in rows:
            if "error" in row:
                qt.add_row(row["quant"], "-", "-", "-", safe_text(row["error"][:40]))
                continue
            fits = {True: "yes", False: "[red]no[/]", None: "?"}[row["fits"]]
            name = f"[bold]{row['quant']}[/]" if row.get("current") else row["quant"]
            qt.add_row(name, fmt_bytes(row["weights"]), fmt_bytes(row["total"]), fits,
                       fmt_ctx(row["max_context"]) if row["max_context"] else "none")
        c.print(qt)


def _serve_misfit(s, md) -> str:
    """The one stderr line for a serving configuration that does not fit (exit code 2)."""
    why = next((n for n in s.notes if "exceed" in n or "not even" in n), None)
    return f"{md.name} does not fit for serving: " + (why or f"{s.max_concurrent_seqs} sequences of {s.ctx} tokens fit in the KV cache")


def _run_serve(args, md) -> int:
    from ...errors import SizeupError
    from ...estimate.serving import serving_capacity
    from ...units import fmt_bytes, parse_count, parse_size
    import sys

    from ...render.safe import one_line, safe_text
    from ..output import console, print_json

    n_gpus = args.gpus or 1
    if args.vram:
        vram = parse_size(args.vram)
    elif args.gpu:
        from ...hardware.specs import find

        vram = int(find(args.gpu).vram_gib * 1024**3)
    else:
        from ...hardware import probe_hardware

        hw = probe_hardware(bandwidth="off")
        if not hw.gpus or not hw.gpus[0].vram_total:
            raise SizeupError("--serve needs GPUs: give --gpu NAME (and --gpus N) or --vram")
        vram = hw.gpus[0].vram_total
        n_gpus = args.gpus or len(hw.gpus)
    ctx = parse_count(args.ctx) if args.ctx else None
    s = serving_capacity(md, n_gpus, vram, tp=args.tp, pp=args.pp, ctx=ctx, dtype=args.dtype,
                         kv_dtype=args.kv_dtype, gpu_memory_utilization=args.gpu_util)
    if args.json:
        print_json(s.to_dict())
        return 0
    c = console()
    c.print(f"[bold]{safe_text(md.name)}[/] on {n_gpus} GPU(s) of {fmt_bytes(vram)}, TP {s.tp} x PP {s.pp}, "
            f"gpu_memory_utilization {s.gpu_memory_utilization}")
    c.print(f"per GPU: weights {fmt_bytes(s.weights_per_gpu)}, activations {fmt_bytes(s.activation_per_gpu)}, "
            f"CUDA graphs {fmt_bytes(s.cuda_graph_per_gpu)}, non-torch {fmt_bytes(s.non_torch_per_gpu)}, "
            f"KV cache {fmt_bytes(s.kv_budget_per_gpu)}")
    c.print(f"KV blocks: {s.n_blocks} x {s.block_size} tokens = {s.max_tokens_in_cache} tokens; "
            f"{s.blocks_per_seq} blocks per {s.ctx}-token sequence")
    c.print(f"max concurrent sequences at {s.ctx} tokens: [bold]{s.max_concurrent_seqs}[/]")
    for n in s.notes:
        c.print(f"[dim]note: {safe_text(n)}[/]")
    if not s.fits:
        print(f"sizeup: error: {one_line(_serve_misfit(s, md))}", file=sys.stderr)
    return 0 if s.fits else 2
