"""``sizeup context PATH --model M``: how many tokens is this codebase, and does it fit?"""

from __future__ import annotations

HELP = "count the tokens of a codebase or files for a model: context-window fit and KV-cache memory"
DESCRIPTION = (
    "Counts tokens of every text file under PATH (respecting .gitignore inside git repos) with the "
    "model's own tokenizer when its GGUF file is given, or a calibrated approximation for catalog "
    "models; reports lines per token, the system-prompt share, whether it fits the model's context "
    "window, and the KV-cache memory that context needs."
)


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    p.add_argument("--model", "-m", required=True, help="GGUF file (exact count), or catalog id / model dir (approximate)")
    p.add_argument("--ctx", help="context window to check against (default: the model's trained maximum), e.g. 32k")
    p.add_argument("--system-prompt", metavar="FILE", help="a system prompt file counted on top of the code")
    p.add_argument("--system-tokens", type=int, default=0, help="system prompt size in tokens, if no file is given")
    p.add_argument("--top", type=int, default=10, help="show the N largest files (default 10)")
    p.add_argument("--offline", action="store_true",
                   help="answer remote models (org/repo, URLs, registry names) from sizeup's metadata cache only")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def run(args) -> int:
    from pathlib import Path

    from ...context_size import LlamaTokenizer, count_tokens
    from ...sources.dispatch import describe
    from ...estimate.kv_cache import kv_cache_bytes
    from ...errors import SizeupError
    from ...units import fmt_bytes, fmt_ctx, parse_count
    from ..output import console, print_json

    if args.offline:
        from ...sources.meta_cache import set_offline

        set_offline(True)
    model = describe(args.model)
    if model.arch is None:
        raise SizeupError(f"{args.model}: no architecture facts, cannot size a context for it")
    # a remote GGUF (read by its header over HTTP) has no local file for the tokenizer
    exact = model.source == "gguf" and model.path is not None and "remote" not in model.extra
    tokenize = LlamaTokenizer(model.files[0] if model.files else model.path) if exact else None
    family = model.tokenizer.model if model.tokenizer else None
    report = count_tokens([Path(p) for p in args.paths], tokenize=tokenize, tokenizer_family=_family(model))

    sys_tokens = args.system_tokens
    if sys_tokens < 0:
        raise SizeupError("--system-tokens must be zero or more")
    if args.system_prompt:
        from ...context_size import MAX_FILE_BYTES
        from ...safe_open import cannot_read, read_text

        try:
            text = read_text(args.system_prompt, MAX_FILE_BYTES)
        except OSError as e:
            raise cannot_read(args.system_prompt, e) from None
        sys_tokens = tokenize(text) if tokenize else count_tokens([Path(args.system_prompt)], tokenizer_family=_family(model)).n_tokens
    total = report.n_tokens + sys_tokens
    n_ctx = parse_count(args.ctx) if args.ctx else model.arch.n_ctx_train
    if n_ctx <= 0:
        raise SizeupError("--ctx must be positive")
    kv = {t: kv_cache_bytes(model.arch, total, t, t) for t in ("f16", "q8_0")}
    largest = sorted(report.files, key=lambda f: -f.n_tokens)[: max(args.top, 0)]
    result = {
        "model": model.name,
        "method": report.method,
        "tokenizer": family,
        "files": len(report.files),
        "skipped": report.skipped,
        "bytes": report.n_bytes,
        "lines": report.n_lines,
        "tokens": report.n_tokens,
        "tokens_per_line": report.n_tokens / report.n_lines if report.n_lines else 0.0,
        "bytes_per_token": report.n_bytes / report.n_tokens if report.n_tokens else 0.0,
        "system_prompt_tokens": sys_tokens,
        "system_prompt_share": sys_tokens / total if total else 0.0,
        "total_tokens": total,
        "context_window": n_ctx,
        "fits": total <= n_ctx,
        "context_used": total / n_ctx,
        "kv_cache_bytes": kv,
        "largest_files": [{"path": f.path, "tokens": f.n_tokens, "lines": f.n_lines} for f in largest],
    }
    if args.json:
        print_json(result)
        return 0

    from rich.table import Table

    from ...render.safe import TextTable, safe_text

    c = console()
    c.print(f"[bold]{safe_text(report.root)}[/] for [bold]{safe_text(model.name)}[/] - {safe_text(report.method)}")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_row("files", f"{len(report.files):,}" + (f"  (skipped: {', '.join(f'{v} {k}' for k, v in report.skipped.items())})" if report.skipped else ""))
    t.add_row("lines", f"{report.n_lines:,}")
    t.add_row("tokens", f"{report.n_tokens:,}  ({result['tokens_per_line']:.2f} tokens/line, {result['bytes_per_token']:.2f} bytes/token)")
    if sys_tokens:
        t.add_row("system prompt", f"{sys_tokens:,} tokens ({result['system_prompt_share']:.1%} of the total)")
    verdict = "[green]fits[/]" if result["fits"] else f"[red]does not fit[/] ({total - n_ctx:,} tokens over)"
    t.add_row("context window", f"{fmt_ctx(n_ctx)} tokens: {verdict}, {result['context_used']:.1%} used")
    t.add_row("KV cache", f"{fmt_bytes(kv['f16'])} at f16, {fmt_bytes(kv['q8_0'])} at q8_0 for {total:,} tokens")
    c.print(t)
    if largest:
        lt = TextTable(title="largest files", title_justify="left")
        lt.add_column("tokens", justify="right")
        lt.add_column("lines", justify="right")
        lt.add_column("path")
        for f in largest:
            lt.add_row(f"{f.n_tokens:,}", f"{f.n_lines:,}", f.path)
        c.print(lt)
    return 0


def _family(model) -> str | None:
    from ...data.token_ratios import family_for

    tok = model.tokenizer
    return family_for(tok.model if tok else None, tok.n_vocab if tok else (model.arch.n_vocab if model.arch else 0))

