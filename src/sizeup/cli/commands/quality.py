"""``sizeup quality MODEL.gguf [--ref REF.gguf]`` and ``sizeup quality --matrix IN.gguf --to ...``."""

from __future__ import annotations

HELP = "measure perplexity, KL divergence and top-token agreement; --matrix: quality vs size of many quants"
DESCRIPTION = (
    "Perplexity of MODEL on a corpus, computed as llama-perplexity does (non-overlapping chunks of --ctx "
    "tokens, second half of each scored). With --ref, also the statistics of llama-perplexity "
    "--kl-divergence against the reference (which must share the tokenizer); the reference's log-probs "
    "are computed once and cached in a compact top-k form. With --matrix, quantizes IN to every --to type "
    "and measures size, quality and generation speed of each, with a chart and a verdict per type."
)


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.gguf", help="model to measure (with --matrix: the input to quantize)")
    p.add_argument("--ref", metavar="REF.gguf", help="reference model for KL divergence (same tokenizer)")
    p.add_argument("--corpus", default="prose",
                   help="'code' (Python stdlib source), 'prose' (Python docs topics) or a text file (default prose)")
    p.add_argument("--ctx", type=int, default=512, help="tokens per chunk (default 512, as llama-perplexity)")
    p.add_argument("--chunks", type=int, help="evaluate only the first N chunks (default: all)")
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--matrix", action="store_true", help="quantize MODEL to every --to type and measure each")
    p.add_argument("--to", metavar="TYPES", help="with --matrix: types, e.g. Q8_0,Q5_K_M,Q4_K_M,Q4_0")
    p.add_argument("--out", metavar="DIR", help="with --matrix: directory for quantized files and the chart")
    p.add_argument("--imatrix", metavar="FILE", help="with --matrix: importance matrix for the quantizer")
    p.add_argument("--no-speed", action="store_true", help="with --matrix: skip the tg tok/s measurement")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def _check(args) -> None:
    from pathlib import Path

    from ...errors import SizeupError

    if args.ctx < 16 or args.ctx > 1 << 20:
        raise SizeupError("--ctx must be between 16 and 1048576")
    if args.chunks is not None and args.chunks < 1:
        raise SizeupError("--chunks must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise SizeupError("--threads must be at least 1")
    for f in (args.model, args.ref):
        if f and not Path(f).is_file():
            raise SizeupError(f"{f}: no such file")
    if args.matrix and not args.to:
        raise SizeupError("--matrix needs --to TYPES (e.g. --to Q8_0,Q5_K_M,Q4_K_M,Q4_0)")
    if args.matrix and args.ref:
        raise SizeupError("--matrix measures against its input; --ref does not apply")


def _progress_bar(args):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..output import err_console

    return Progress(TextColumn("{task.description:<24}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err_console(), transient=True)


def run(args) -> int:
    _check(args)
    from ...quality.corpus import load_corpus

    corpus = load_corpus(args.corpus)
    if corpus.note:
        from ..output import warn

        warn(f"corpus {corpus.name}: {corpus.note}")
    if args.matrix:
        return _run_matrix(args, corpus)
    return _run_single(args, corpus)


def _run_single(args, corpus) -> int:
    from pathlib import Path

    from ...formats.gguf_model import describe_gguf
    from ...quality.evaluate import run_quality_isolated
    from ..output import console, print_json, warn

    with _progress_bar(args) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase} chunks", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        r = run_quality_isolated(args.model, args.corpus, ref_path=args.ref, n_ctx=args.ctx, chunks=args.chunks,
                                 threads=args.threads, progress=progress)
    ref_note = None
    if args.ref:
        d = describe_gguf(args.ref)
        lab = d.quant.label if d.quant else None
        if lab and lab not in ("F32", "F16", "BF16"):
            ref_note = f"the reference {Path(args.ref).name} is itself quantized ({lab}): numbers are relative to it"
    _record(r, args)
    if args.json:
        d = r.to_dict()
        d["reference_note"] = ref_note
        print_json(d)
        return 0
    c = console()
    from ...render.safe import safe_text

    c.print(f"[bold]{safe_text(Path(r.model).name)}[/bold] on corpus '{safe_text(r.corpus)}': {r.n_chunks} chunks x {r.n_ctx} tokens, "
            f"{r.n_tokens_scored:,} tokens scored, {r.tokens_per_s:.0f} tok/s")
    c.print(f"PPL = {r.ppl.ppl:.4f} +/- {r.ppl.ppl_err:.4f}")
    k = r.kl
    if k:
        c.print(f"reference {Path(r.reference).name}: PPL {k.ppl_base:.4f} +/- {k.ppl_base_err:.4f}"
                f"{' (cached log-probs)' if r.reference_cached else ''}")
        rows = [
            ("Mean ln(PPL(Q)/PPL(base))", f"{k.ln_ppl_ratio:.6f} +/- {k.ln_ppl_ratio_err:.6f}"),
            ("Mean PPL(Q)/PPL(base)", f"{k.ppl_ratio:.6f} +/- {k.ppl_ratio_err:.6f}"),
            ("Mean KLD", f"{k.kld_mean:.6f} +/- {k.kld_mean_err:.6f}"),
            ("Median / 90% / 99% / 99.9% KLD", f"{k.kld_median:.6f} / {k.kld_p90:.6f} / {k.kld_p99:.6f} / {k.kld_p999:.6f}"),
            ("Maximum KLD", f"{k.kld_max:.6f}"),
            ("RMS delta-p", f"{100 * k.rms_dp:.3f} +/- {100 * k.rms_dp_err:.3f} %"),
            ("Same top token", f"{100 * k.same_top:.3f} +/- {100 * k.same_top_err:.3f} %"),
        ]
        w = max(len(a) for a, _ in rows)
        for a, b in rows:
            c.print(f"  {a:<{w}} : {b}")
        c.print(f"  (KLD from the reference's top-32 log-probs plus 128 sampled tail tokens; reference file "
                f"{r.reference_file_bytes / 2**20:.2f} MiB)")
    if ref_note:
        warn(ref_note)
    return 0


def _record(r, args) -> None:
    try:
        from ...history import HistoryDB, model_identity
    except ImportError:
        return
    from ...errors import SizeupError

    metrics = {"ppl": r.ppl.ppl}
    if r.kl:
        metrics.update({k: getattr(r.kl, k) for k in ("kld_mean", "kld_p99", "ppl_ratio", "same_top", "rms_dp")})
    try:
        with HistoryDB() as db:
            db.record_result("quality", model_identity(r.model), {"corpus": r.corpus, "ctx": r.n_ctx, "chunks": r.n_chunks},
                             metrics, {"reference": model_identity(r.reference) if r.reference else None,
                                       "kl": r.kl.to_dict() if r.kl else None, "ppl_err": r.ppl.ppl_err})
    except SizeupError as e:
        from ..output import warn

        warn(f"history DB not written: {e}")


def _run_matrix(args, corpus) -> int:
    import sys
    from pathlib import Path

    from ... import quantize as qz
    from ...quality.matrix import run_matrix_isolated, verdict
    from ..output import console, print_json, warn

    types = qz.parse_types(args.to)
    src = Path(args.model)
    out_dir = Path(args.out) if args.out else src.resolve().parent
    with _progress_bar(args) as bar:
        tasks: dict[tuple[str, str], int] = {}

        def progress(ft: str, phase: str, done: int, total: int) -> None:
            key = (ft, phase)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{ft} {phase}", total=total)
            bar.update(tasks[key], completed=done, total=total)

        res = run_matrix_isolated(str(src), types, out_dir, args.corpus, n_ctx=args.ctx, chunks=args.chunks,
                                  threads=args.threads, imatrix=args.imatrix, measure_speed=not args.no_speed,
                                  progress=progress)
    d = res.to_dict()
    if args.json:
        print_json(d)
        return 0 if all(r.ok for r in res.rows) else 2
    from rich.table import Table

    ref_label = res.input_label or "reference"
    tb = Table(title=f"{src.name} ({ref_label}, {res.input_bytes / 2**30:.3f} GiB): corpus '{res.corpus}', "
                     f"{res.n_chunks} x {res.n_ctx} tokens, reference PPL {res.ref_ppl:.3f}")
    for col in ("type", "GiB", "bpw", f"size vs {ref_label}", "mean KLD", "PPL ratio", "same top", "tg tok/s", "front"):
        tb.add_column(col, justify="left" if col == "type" else "right")
    for r in res.rows:
        if not (r.ok and r.kl):
            tb.add_row(r.ftype, "[red]failed[/red]", "", "", "", "", "", "", "")
            continue
        k = r.kl
        tb.add_row(r.ftype, f"{r.gib:.3f}", f"{r.bpw:.2f}", f"{r.size_vs_ref * 100:.0f}%",
                   f"{k['kld_mean']:.4f}", f"{k['ppl_ratio']:.4f}",
                   f"{k['same_top'] * 100:.1f}%", f"{r.tg_tps:.1f}" if r.tg_tps else "-", "*" if r.on_front else "")
    c = console()
    c.print(tb)
    for r in res.rows:
        c.print("  " + verdict(r, ref_label))
    checks = d["rule_of_thumb"]
    if checks:
        c.print("Rule of thumb (Q4 ~50% size, 2-5% quality drop; Q5 1-3%; Q8 minimal) vs measured:")
        for ch in checks:
            size = f", {ch['measured_size_vs_f16'] * 100:.0f}% of F16 size" if ch["measured_size_vs_f16"] else ""
            size_ok = "" if ch["size_matches"] is None else ("; size claim holds" if ch["size_matches"] else "; size claim does not hold")
            c.print(f"  {ch['type']}: perplexity {ch['measured_ppl_increase'] * 100:+.2f}%{size}: {ch['quality']} "
                    f"the rule ({ch['rule']}){size_ok}")
    if res.chart:
        c.print("chart: " + ", ".join(res.chart))
    for n in res.notes:
        warn(n)
    for r in res.rows:
        if not r.ok:
            from ...render.safe import one_line

            print(f"sizeup: error: {one_line(f'{r.ftype}: {r.error}')}", file=sys.stderr)
    return 0 if all(r.ok for r in res.rows) else 2
