"""``sizeup inspect``: everything sizeup knows about one model, from its header alone."""

from __future__ import annotations

HELP = "show a model's architecture, parameters, quantization, licence and runtimes"
DESCRIPTION = (
    "Describe one model: a GGUF file (split or not), a safetensors file or Hugging Face model dir, "
    "an ONNX graph, a PyTorch pickle (checked, never loaded), an org/name repo in the local HF cache, "
    "an Ollama model name, a catalog id, or a remote model: org/repo[:QUANT][@rev] on the Hugging Face Hub, "
    "an http(s) URL of a GGUF, an Ollama registry name. Only headers are read (remote ones by HTTP Range)."
)


def add_arguments(p) -> None:
    p.add_argument("model", metavar="PATH|NAME", help="file, directory, cached HF repo id, Ollama name or catalog id")
    p.add_argument("--json", action="store_true", help="print the description as JSON on stdout")
    p.add_argument("--tensors", action="store_true", help="include every tensor (name, shape, type, size)")
    p.add_argument("--no-catalog", action="store_true", help="do not fall back to the built-in catalog")
    p.add_argument("--offline", action="store_true",
                   help="answer remote models (org/repo, URLs, registry names) from sizeup's metadata cache only")


def run(args) -> int:
    from ...sources.dispatch import describe, safety
    from ..output import print_json, warn

    if args.offline:
        from ...sources.meta_cache import set_offline

        set_offline(True)
    md = describe(args.model, allow_catalog=not args.no_catalog)
    unsafe, reason = safety(md)
    if args.json:
        d = md.to_dict(with_tensors=args.tensors)
        d["unsafe"] = unsafe
        d["unsafe_reason"] = reason or None
        print_json(d)
        if unsafe:
            warn(reason)
        return 0
    from ...render.inspect_view import print_description
    from ..output import console

    print_description(md, console(), show_tensors=args.tensors)
    return 0
