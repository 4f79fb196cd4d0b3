"""The human view of a :class:`ModelDescription`: what ``sizeup inspect`` prints.

Each section is its own function returning a rich renderable (or None when the source has
nothing to say), so other commands can show just the part they need, e.g. ``fit`` printing
the identity and quantization of the model it sized. Nothing here computes facts: numbers come
from the description; this module only chooses words and layout.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..estimate.kv_cache import kv_from_start
from ..model import LAYER_RECURRENT, ModelDescription
from ..units import fmt_bytes, fmt_count, fmt_ctx
from .safe import TextTable, escape_controls, plain

_OPENNESS_STYLE = {"open-source": "green", "open-weights": "yellow", "unknown": "dim"}


def _kv_table(title: str) -> Table:
    t = TextTable(box=None, show_header=False, pad_edge=False, title=title, title_justify="left",
              title_style="bold cyan")
    t.add_column(style="dim", no_wrap=True, min_width=18)
    t.add_column(overflow="fold")
    return t


def _per_layer(values: tuple[int, ...]) -> str:
    """"32" when uniform, else "min-max (varies by layer)"; zeros (layers without it) ignored."""
    vals = [v for v in values if v]
    if not vals:
        return "0"
    lo, hi = min(vals), max(vals)
    if lo == hi:
        return f"{lo:,}" + (f" ({len(vals)} of {len(values)} layers)" if len(vals) < len(values) else "")
    return f"{lo:,}-{hi:,} (varies by layer)"


def _int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def safety_panel(md: ModelDescription) -> RenderableType | None:
    from ..sources.dispatch import safety

    unsafe, reason = safety(md)
    if not unsafe:
        return None
    # The pickle checker's own warnings are the most specific words; the generic reason otherwise.
    body = plain_lines(md.warnings if md.warnings else [reason], style="bold")
    return Panel(body, title="UNSAFE FORMAT: never load this file blindly", title_align="left",
                 border_style="bold red", style="red")


def plain_lines(lines: list[str], style: str = "") -> Text:
    """External lines, one per line, each with its own control characters (newlines too) escaped."""
    return Text("\n".join(escape_controls(x) for x in lines), style=style)


def identity_section(md: ModelDescription) -> RenderableType:
    t = _kv_table("Model")
    t.add_row("Name", plain(md.name or "?", style="bold"))
    fmt = md.source
    version = md.extra.get("gguf_version") or md.extra.get("version")
    if version and md.source == "gguf":
        fmt += f" v{version}"
    if md.source == "catalog":
        fmt += " (facts from the published config; nothing on disk)"
    t.add_row("Format", fmt)
    for key, label in (("ollama_name", "Ollama name"), ("hf_repo", "HF repo"), ("hf_id", "HF repo"),
                       ("lmstudio_model", "LM Studio model")):
        if md.extra.get(key) and str(md.extra[key]) != md.name:
            t.add_row(label, escape_controls(str(md.extra[key])))
    if md.path:
        t.add_row("Path", escape_controls(md.path))
    if md.file_size:
        t.add_row("Size on disk", f"{fmt_bytes(md.file_size)} ({md.file_size:,} bytes)")
    if len(md.files) > 1:
        more = [f"... {len(md.files) - 8} more"] if len(md.files) > 8 else []
        t.add_row(f"Files ({len(md.files)})", plain_lines([*md.files[:8], *more]))
    return t


def architecture_section(md: ModelDescription) -> RenderableType | None:
    a = md.arch
    if a is None:
        return None
    t = _kv_table("Architecture")
    t.add_row("Architecture", a.name)
    layers = f"{a.n_layer:,}"
    if a.n_recurrent_layers:
        kinds = [a.layer_kind(i) for i in range(a.n_layer)]
        layers += f" ({a.n_attention_layers} attention, {kinds.count(LAYER_RECURRENT)} recurrent)"
    t.add_row("Layers", layers)
    t.add_row("Embedding width", _int(a.n_embd))
    if a.n_head_max:
        t.add_row("Attention heads", _per_layer(a.n_head))
        kv = _per_layer(a.n_head_kv)
        if a.n_head_kv_max and len(set(h for h in a.n_head if h)) == 1 and len(set(h for h in a.n_head_kv if h)) == 1:
            ratio = a.n_head_max // a.n_head_kv_max if a.n_head_kv_max else 0
            if a.n_head_kv_max == a.n_head_max:
                kv += " (MHA)"
            elif a.n_head_kv_max == 1:
                kv += " (MQA)"
            elif ratio and a.n_head_max % a.n_head_kv_max == 0:
                kv += f" (GQA, {ratio} query heads per KV head)"
        t.add_row("KV heads", kv)
        dims = f"K {a.head_dim_k}, V {a.head_dim_v}" if a.head_dim_k != a.head_dim_v else f"{a.head_dim_k}"
        t.add_row("Head dim", dims)
    if any(a.n_ff):
        t.add_row("FFN width", _per_layer(a.n_ff))
    t.add_row("Context length", f"{fmt_ctx(a.n_ctx_train)} ({a.n_ctx_train:,} tokens)" if a.n_ctx_train else "unknown")
    if a.swa_window:
        pattern = a.swa_pattern
        t.add_row("Sliding window", f"{a.swa_window:,} tokens" + (f", {pattern}" if pattern else ""))
    shared_from = kv_from_start(a)
    if 0 <= shared_from < a.n_layer:  # Gemma 3n: the last layers read an earlier layer's KV cache
        t.add_row("KV cache sharing", f"layers {shared_from}-{a.n_layer - 1} reuse the KV cache of earlier layers "
                                      f"(llama.cpp allocates K/V for {shared_from} of {a.n_layer} layers)")
    if a.is_mla:
        mla = f"KV LoRA rank {a.kv_lora_rank}"
        if a.q_lora_rank:
            mla += f", Q LoRA rank {a.q_lora_rank}"
        if a.rope_dim:
            mla += f", RoPE dims {a.rope_dim}"
        t.add_row("Latent attention", mla)
    if a.is_moe:
        moe = f"{a.n_expert} routed, {a.n_expert_used} used per token"
        if a.n_expert_shared:
            moe += f", {a.n_expert_shared} shared"
        if a.n_ff_exp:
            moe += f"; expert width {a.n_ff_exp:,}"
        if a.moe_layers and not all(a.moe_layers):
            moe += f"; MoE in {sum(a.moe_layers)} of {a.n_layer} layers"
        t.add_row("Experts", moe)
    if a.ssm:
        s = a.ssm
        parts = [f"{k} {v:,}" for k, v in (("state", s.d_state), ("conv", s.d_conv), ("inner", s.d_inner),
                                           ("heads", s.n_head), ("groups", s.n_group), ("head size", s.head_size)) if v]
        t.add_row("Recurrent state", f"{s.kind}" + (f" ({', '.join(parts)})" if parts else ""))
    if a.n_pos_embd:
        t.add_row("Learned positions", f"{a.n_pos_embd:,}")
    tok = md.tokenizer
    vocab = f"{a.n_vocab:,}"
    if tok and tok.model:
        vocab += f" ({tok.model}" + (f", pre-tokenizer {tok.pre}" if tok.pre else "") + ")"
    t.add_row("Vocabulary", vocab)
    if tok is not None and md.source != "catalog":  # the catalog does not record templates
        t.add_row("Chat template", "yes" if tok.has_chat_template else "no")
    t.add_row("Tied embeddings", "yes" if a.tie_embeddings else "no")
    return t


def parameters_section(md: ModelDescription) -> RenderableType | None:
    p = md.params
    if p is None:
        return None
    t = _kv_table("Parameters")

    def row(label: str, n: int) -> None:
        t.add_row(label, f"{fmt_count(n)} ({n:,})")

    row("Total", p.total)
    row("Embedding", p.embedding)
    row("Non-embedding", p.non_embedding)
    if p.output:
        row("Output head", p.output)
    else:
        t.add_row("Output head", "tied to the embedding")
    if p.expert:
        row("Routed experts", p.expert)
        row("Active per token", p.active)
    return t


def quantization_section(md: ModelDescription) -> RenderableType | None:
    q = md.quant
    if q is None:
        return None
    t = _kv_table("Quantization")
    label = q.label or "unknown"
    t.add_row("Quantization", plain(label, style="bold") + plain(f"  (from {q.label_source})", style="dim"))
    if q.method and q.method not in ("none", "gguf"):
        t.add_row("Method", q.method)
    if q.bits_per_weight:
        t.add_row("Bits per weight", f"{q.bits_per_weight:.2f} (average over all tensors)")
    if q.check:
        t.add_row("Check", plain(q.check, style="yellow"))
    parts: list[RenderableType] = [t]
    if q.by_type:
        total = sum(s.n_bytes for s in q.by_type) or 1
        bt = TextTable(box=box.SIMPLE_HEAD, pad_edge=False)
        for col, just in (("type", "left"), ("tensors", "right"), ("params", "right"), ("bytes", "right"),
                          ("share", "right"), ("bpw", "right")):
            bt.add_column(col, justify=just)
        for s in q.by_type:
            bt.add_row(s.dtype, f"{s.n_tensors:,}", fmt_count(s.n_elements), fmt_bytes(s.n_bytes),
                       f"{100.0 * s.n_bytes / total:.1f}%", f"{s.bits_per_weight:.2f}")
        parts.append(bt)
    return Group(*parts)


def license_section(md: ModelDescription) -> RenderableType:
    t = _kv_table("Licence and runtimes")
    lic = md.license
    t.add_row("Licence", lic.id or "none stated")
    t.add_row("Openness", plain(lic.openness, style=_OPENNESS_STYLE.get(lic.openness, "")) + plain(f"  ({lic.reason})", style="dim"))
    t.add_row("Runs on", ", ".join(md.runtimes) if md.runtimes else "no known runtime")
    return t


def warnings_section(md: ModelDescription) -> RenderableType | None:
    from ..sources.dispatch import safety

    if not md.warnings or safety(md)[0]:  # an unsafe file's warnings are in the safety panel
        return None
    t = TextTable(box=None, show_header=False, pad_edge=False, title="Warnings", title_justify="left",
              title_style="bold yellow")
    t.add_column(style="yellow")
    for w in md.warnings:
        t.add_row(f"! {escape_controls(w)}")
    return t


def tensor_table(md: ModelDescription) -> RenderableType:
    t = TextTable(box=box.SIMPLE_HEAD, title=f"Tensors ({len(md.tensors):,})", title_justify="left",
              title_style="bold cyan", pad_edge=False)
    for col, just in (("name", "left"), ("shape", "left"), ("type", "left"), ("params", "right"),
                      ("bytes", "right"), ("bpw", "right")):
        t.add_column(col, justify=just, overflow="fold")
    for x in md.tensors:
        t.add_row(x.name, "x".join(str(d) for d in x.shape), x.dtype, f"{x.n_elements:,}", fmt_bytes(x.n_bytes),
                  f"{x.bits_per_weight:.2f}")
    return t


def description_view(md: ModelDescription, *, show_tensors: bool = False) -> Group:
    """All sections, in reading order; sections the source cannot fill are left out."""
    sections = [
        safety_panel(md),
        identity_section(md),
        architecture_section(md),
        parameters_section(md),
        quantization_section(md),
        license_section(md),
        warnings_section(md),
        tensor_table(md) if show_tensors else None,
    ]
    out: list[RenderableType] = []
    for s in sections:
        if s is not None:
            if out:
                out.append(Text(""))
            out.append(s)
    return Group(*out)


def print_description(md: ModelDescription, console: Console | None = None, *, show_tensors: bool = False) -> None:
    if console is None:
        from ..cli.output import console as _console

        console = _console()
    console.print(description_view(md, show_tensors=show_tensors))
