"""``sizeup search TEXT``: Hub models matching TEXT, each quant file with size, memory and fit here."""

from __future__ import annotations

HELP = "search the Hugging Face Hub: each quant file with its size, memory at --ctx and fit here (headers only)"
DESCRIPTION = (
    "Find text-generation repos on the Hugging Face Hub (GGUF and safetensors) matching TEXT, or one repo "
    "given as org/name, and show each quant file with its size, the memory llama.cpp needs at --ctx and "
    "whether it fits this machine (or the what-if machine of --gpu/--vram/--ram/--gpus). Only headers "
    "are read (HTTP Range), with a byte budget and deadline per repo; nothing is downloaded."
)


def add_arguments(p) -> None:
    from .fit import add_hardware_flags

    p.add_argument("text", metavar="TEXT", help="search text (e.g. qwen3 coder) or an org/name repo id")
    p.add_argument("--ctx", "-c", default="8k", help="context length for the memory figure (default 8k)")
    p.add_argument("--kv-type", default="f16", help="KV cache type (f16, q8_0, q4_0...)")
    p.add_argument("--limit", "-n", type=int, default=10, help="repos to show (default 10, at most 100)")
    add_hardware_flags(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def run(args) -> int:
    from ...hardware import probe_hardware
    from ...sources.search import search_hub
    from ...units import parse_count
    from ..output import err_console, print_json

    ctx = parse_count(args.ctx)
    hw = probe_hardware(gpu=args.gpu, vram=args.vram, ram=args.ram, n_gpus=args.gpus, bandwidth="off")
    from rich.progress import Progress

    with Progress(transient=True, console=err_console()) as prog:
        task = prog.add_task("reading headers", total=None)

        def progress(i: int, n: int, repo: str) -> None:
            prog.update(task, completed=i, total=n, description=f"read {repo[:50]}")

        rows = search_hub(args.text, ctx=ctx, hardware=hw, limit=args.limit, kv_type=args.kv_type, progress=progress)
    if args.json:
        print_json({"query": args.text, "ctx": ctx, "what_if": bool(hw.what_if), "repos": rows})
        return 0
    _render(rows, ctx, hw)
    return 0


def _render(rows, ctx, hw) -> None:
    from rich.table import Table
    from rich.text import Text

    from ...units import fmt_bytes, fmt_count, fmt_ctx
    from ..output import console

    c = console()
    if not rows:
        c.print("no matching GGUF or safetensors text-generation repos")
        return
    t = Table(title=f"memory at {fmt_ctx(ctx)} tokens" + (" (what-if machine)" if hw.what_if else ""), title_justify="left")
    for col, just in (("repo", "left"), ("params", "right"), ("quant", "left"), ("size", "right"),
                      ("memory", "right"), ("fits", "left"), ("file", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for r in rows:
        if r.get("error"):
            t.add_row(Text(r["repo"]), "", "", "", "", Text("error", style="red"), Text(r["error"][:160]))
            continue
        for i, f in enumerate(r["files"]):
            fits = f.get("fits")
            mark = Text({True: "yes", False: "no", None: "?"}[fits], style={True: "green", False: "red", None: "dim"}[fits])
            t.add_row(Text(r["repo"] if i == 0 else ""), fmt_count(r["params"]) if i == 0 and r.get("params") else "",
                      Text(f.get("quant") or "-"), fmt_bytes(f.get("size"), 1) if f.get("size") else "?",
                      fmt_bytes(f.get("memory"), 1) if f.get("memory") else "?", mark,
                      Text(f["file"] + (f" (+{f['n_parts'] - 1} parts)" if f.get("n_parts", 1) > 1 else "")))
    c.print(t)
    read = sum((r.get("remote") or {}).get("bytes", 0) for r in rows)
    c.print(f"[dim]read {fmt_bytes(read)} of headers; memory for files other than the one read is predicted from its header[/]")
