"""``sizeup try``: which size should I run? The same workload on every candidate, side by side."""

from __future__ import annotations

HELP = "try models side by side on your own text: bits per byte, pass@1 on coding tasks, speed, memory, verdict"
DESCRIPTION = (
    "Run the same experiment on every MODEL (GGUF files, Ollama / LM Studio / Hugging Face cache models, or "
    "MODEL@QUANT to quantize a higher-precision GGUF first): quality as bits per byte on exactly the same "
    "bytes of your text (--on PATH samples a repository, honouring .gitignore and skipping binaries, vendored "
    "and generated files and secrets; or --corpus code|prose|FILE), pass@1 on built-in Python function-"
    "completion tasks (generated code runs only in a sandbox), and load time, TTFT, pp/tg tok/s and peak "
    "memory next to sizeup's estimates. Each candidate runs in its own process. Ends with a table, a chart "
    "with the Pareto front, and in plain words what each step up in size buys. Results go to the history."
)


def add_arguments(p) -> None:
    p.add_argument("models", metavar="MODEL", nargs="+", help="candidates: path.gguf, ollama name, org/repo in the HF "
                   "cache, MODEL@QUANT (e.g. model-f16.gguf@Q4_K_M), or a remote reference (org/repo:QUANT, "
                   "https://.../x.gguf, Ollama registry name), downloaded after confirmation (--yes)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--on", metavar="PATH", help="measure on a sample of this repository's (or file's) text")
    src.add_argument("--corpus", metavar="code|prose|FILE", help="built-in corpus or a text file (default: code)")
    p.add_argument("--budget", default="256K", help="bytes of text sampled from --on / the corpus (default 256K)")
    p.add_argument("--chunks", type=int, default=24, help="byte spans scored per candidate (default 24)")
    p.add_argument("--span-bytes", type=int, default=512, help="bytes per scored span (default 512)")
    p.add_argument("--context-bytes", type=int, default=1024, help="bytes of preceding text given as context (default 1024)")
    p.add_argument("--tasks", default="builtin", metavar="builtin|none|FILE",
                   help="function-completion task set (default: the 47 built-in Python tasks; none skips the check)")
    p.add_argument("--tasks-limit", type=int, metavar="N", help="use only the first N tasks")
    p.add_argument("--max-new-tokens", type=int, default=160, help="generation limit per task (default 160)")
    p.add_argument("--task-timeout", type=float, default=10.0, help="wall seconds per sandboxed test run (default 10)")
    p.add_argument("--ctx", type=int, default=2048, help="context size (default 2048)")
    p.add_argument("-t", "--threads", type=int, help="CPU threads (default: physical cores)")
    p.add_argument("--ngl", type=int, help="layers offloaded to the GPU (default: 99 with a GPU, else 0)")
    p.add_argument("-p", "--n-prompt", type=int, default=512, help="prompt tokens for pp and TTFT (default 512)")
    p.add_argument("-n", "--n-gen", type=int, default=64, help="generated tokens for tg (default 64)")
    p.add_argument("-r", "--repetitions", type=int, default=2, help="timed repetitions of pp/tg/TTFT (default 2)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per candidate (default 1800)")
    p.add_argument("--min-speed", type=float, metavar="TOK/S", help="the best choice must generate at least this fast")
    p.add_argument("--max-memory", metavar="SIZE", help="the best choice must fit in this much memory (e.g. 4G)")
    p.add_argument("--force", action="store_true", help="run candidates predicted not to fit in free memory")
    p.add_argument("--yes", "-y", action="store_true", help="download remote candidates (org/repo:QUANT, hf.co/..., "
                   "https://...gguf, Ollama registry names) without asking; without it sizeup asks on a terminal "
                   "and refuses otherwise")
    p.add_argument("--chart", metavar="PATH", help="chart file stem (writes PATH.png and PATH.svg; default: "
                   "the user data dir's sizeup/try/try-<id>)")
    p.add_argument("--no-chart", action="store_true", help="do not write the PNG/SVG chart")
    p.add_argument("--db", help="history database (default: the user data dir's sizeup/history.db)")
    p.add_argument("--no-save", action="store_true", help="do not record the results in the history")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON on stdout")


def _settings(args, hw):
    from ...errors import SizeupError
    from ...experiment.run import Settings
    from ...units import parse_size

    threads = args.threads or hw.cpu.physical_cores or hw.cpu.logical_cores or 1
    ngl = args.ngl
    if ngl is None:
        ngl = 99 if hw.gpus and any(g.vendor in ("nvidia", "amd", "apple", "intel") for g in hw.gpus) else 0
    try:
        budget = parse_size(args.budget)
        max_mem = parse_size(args.max_memory) if args.max_memory else None
    except SizeupError:
        raise
    if args.min_speed is not None and not args.min_speed > 0:
        raise SizeupError("--min-speed must be a positive number of tokens per second")
    return Settings(chunk_bytes=args.span_bytes, context_bytes=args.context_bytes, n_chunks=args.chunks,
                    budget_bytes=budget, tasks=args.tasks, tasks_limit=args.tasks_limit,
                    max_new_tokens=args.max_new_tokens, n_ctx=args.ctx, n_threads=threads, n_gpu_layers=ngl,
                    pp_tokens=args.n_prompt, tg_tokens=args.n_gen, reps=args.repetitions, timeout_s=args.timeout,
                    task_timeout_s=args.task_timeout, min_speed=args.min_speed, max_memory=max_mem, force=args.force)


def run(args) -> int:
    import importlib.util
    import os
    import sys
    from pathlib import Path

    from ...errors import SizeupError
    from ...experiment.run import Events, run_try
    from ...hardware import probe_hardware
    from ...history import HistoryDB
    from ..output import err_console

    if importlib.util.find_spec("llama_cpp") is None:
        raise SizeupError("llama-cpp-python is not installed (sizeup engine install)")
    hw = probe_hardware()
    settings = _settings(args, hw)
    db = None
    if not args.no_save:
        db = HistoryDB(args.db)
        db.mark_dead_runs()
    chart_stem = None
    if not args.no_chart:
        if args.chart:
            chart_stem = Path(args.chart)
        elif not args.no_save:  # with --no-save, a chart is written only where --chart says
            from platformdirs import user_data_dir

            chart_stem = Path(os.environ.get("SIZEUP_TRY_CHARTS") or Path(user_data_dir("sizeup")) / "try") / "try-{id}"
    con = err_console()
    show = con.is_terminal and not os.environ.get("SIZEUP_NO_PROGRESS")
    from rich.markup import escape

    def status(msg: str) -> None:
        con.print(f"[dim]{escape(msg)}[/]", highlight=False)

    def row_done(r: dict) -> None:
        con.print(escape(_row_line(r)), highlight=False)

    from ...experiment.candidates import RemotePolicy

    live = {"prog": None, "task": None, "step": {}}

    def ask(question: str) -> bool:
        from rich.text import Text

        prog = live["prog"]
        if prog is not None:
            prog.stop()
        try:
            answer = con.input(Text(question, style="bold"))
        except (EOFError, KeyboardInterrupt):
            answer = ""
        finally:
            if prog is not None:
                prog.start()
        return answer.strip().lower() in ("y", "yes")

    def dl_progress(spec: str, done: int, total: int) -> None:
        from ...units import fmt_bytes

        prog = live["prog"]
        if prog is not None:
            desc = escape(f"downloading {spec}: {fmt_bytes(done, 1)} / {fmt_bytes(total, 1)}")
            if live["task"] is None:
                live["task"] = prog.add_task(desc, total=total or None)
            prog.update(live["task"], description=desc, completed=done, total=total or None)
            if total and done >= total:
                prog.remove_task(live["task"])
                live["task"] = None
            return
        step = live["step"]
        q = (4 * done // total) if total else 0
        if step.get(spec) != q:  # no terminal: a line at 0, 25, 50, 75 and 100%
            step[spec] = q
            status(f"downloading {spec}: {fmt_bytes(done, 1)} / {fmt_bytes(total, 1)}")

    policy = RemotePolicy(yes=bool(args.yes), ask=ask if sys.stdin.isatty() else None, note=status,
                          progress=dl_progress)

    try:
        if show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=con,
                          transient=True) as prog:
                task = prog.add_task("", total=None)
                live["prog"] = prog

                def note(msg: str) -> None:
                    prog.console.print(f"[dim]{escape(msg)}[/]", highlight=False)

                policy.note = note

                def progress(label, phase, done, total):
                    prog.update(task, description=escape(f"{label}: {phase} {min(done + 1, total)}/{total}"),
                                completed=done, total=total or None)

                doc = run_try(args.models, settings=settings, on=args.on, corpus=args.corpus, db=db, hw=hw,
                              events=Events(status=lambda m: prog.console.print(f"[dim]{escape(m)}[/]"),
                                            progress=progress, row=lambda r: prog.console.print(escape(_row_line(r)))),
                              chart_stem=chart_stem, resolve_kw={"remote": policy})
        else:
            doc = run_try(args.models, settings=settings, on=args.on, corpus=args.corpus, db=db, hw=hw,
                          events=Events(status=status, row=row_done), chart_stem=chart_stem,
                          resolve_kw={"remote": policy})
    finally:
        if db:
            db.close()
    if args.json:
        from ..output import print_json

        print_json(doc)
    else:
        render(doc)
    if doc["interrupted"]:
        done = sum(1 for c in doc["candidates"] if c["status"] == "ok")
        print(f"sizeup: interrupted; {done} finished candidate(s) kept", file=sys.stderr)
        return 130
    return 0 if all(c["status"] == "ok" for c in doc["candidates"]) else 1


def _row_line(r: dict) -> str:
    if r["status"] == "ok":
        q, m = r["quality"], r["measured"]
        pa = f", pass@1 {q['tasks_passed']}/{q['tasks_total']}" if q.get("pass_at_1") is not None else ""
        return f"  done {r['label']}: {q['bpb']:.3f} bits/byte{pa}, tg {m['tg_tps']:.1f} tok/s"
    return f"  {r['status']} {r['label']}: {r['error']}"


def _ci(q: dict) -> str:
    ci = q.get("bpb_ci95")
    return f"{q['bpb']:.3f}±{(ci[1] - ci[0]) / 2:.3f}" if ci else f"{q['bpb']:.3f}"


def render(doc: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from ...experiment.chart import text_chart
    from ...units import fmt_bytes
    from ..output import console

    c = doc["corpus"]
    s = doc["settings"]
    t = Table(title=Text(f"sizeup try on {c['name']}: {c['bytes']:,} bytes"
                         + (f" from {c['n_files']} files" if c.get("n_files") else "")
                         + f", {s['n_chunks']} spans x {s['chunk_bytes']} B, {s['n_tasks']} tasks"))
    for col in ("candidate", "bits/byte ±95%", "pass@1", "tg tok/s (est.)", "pp tok/s", "TTFT s", "load s",
                "memory (est.)", "front"):
        t.add_column(col, justify="left" if col == "candidate" else "right", overflow="fold")
    for r in doc["candidates"]:
        if r["status"] != "ok":
            t.add_row(Text(r["label"]), Text(f"{r['status']}: {r['error']}", style="red"), *[""] * 7)
            continue
        q, m, e = r["quality"], r["measured"], r["estimate"]
        spd, mem = e.get("speed") or {}, e.get("memory") or {}
        pa = "-" if q.get("pass_at_1") is None else f"{q['tasks_passed']}/{q['tasks_total']}"
        memory = fmt_bytes(m["rss_model_bytes"], 0) + (f" +{fmt_bytes(m['vram_peak_bytes'], 0)} VRAM"
                                                       if m.get("vram_peak_bytes") else "")
        t.add_row(Text(r["label"]), _ci(q), pa,
                  f"{m['tg_tps']:.1f}" + (f" ({spd['tg_tps']:.0f})" if spd.get("tg_tps") else ""),
                  f"{m['pp_tps']:.1f}", "-" if m.get("ttft_s") is None else f"{m['ttft_s']:.2f}",
                  f"{m['load_s']:.2f}", memory + (f" ({fmt_bytes(mem['rss'], 0)})" if mem.get("rss") else ""),
                  "yes" if r.get("on_front") else "")
    out = console()
    out.print(t)
    out.print(Text("bits/byte: -log2 P(text) per byte over the same byte spans for every model (lower is better; "
                   "comparable across tokenizers). memory: peak resident memory of the model's process minus the "
                   "interpreter. (est.) = sizeup's estimate made before the run. pass@1: tasks whose hidden tests pass.", style="dim"))
    lines = text_chart(doc["candidates"])
    if lines:
        out.print()
        for ln in lines:
            out.print(Text(ln))
    ch = doc.get("chart") or {}
    if ch.get("png") or ch.get("svg"):
        out.print(Text(f"chart: {ch.get('png')}  {ch.get('svg')}"))
    elif ch.get("error"):
        out.print(Text(f"chart: not written ({ch['error']})", style="yellow"))
    out.print()
    out.print("[bold]Verdict[/]")
    for ln in doc["verdict"]["lines"]:
        out.print(Text("  " + ln))
    if doc.get("experiment_id") is not None:
        runs = [r["run_id"] for r in doc["candidates"] if r.get("run_id")]
        out.print(Text(f"saved as experiment {doc['experiment_id']}"
                       + (f"; `sizeup compare try:{doc['experiment_id']}` shows its runs side by side"
                          if len(runs) > 1 else ""), style="dim"))
