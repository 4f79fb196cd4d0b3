"""``sizeup inspect``: everything sizeup knows about one model, from its header alone."""

from __future__ import annotations

HELP = "show a model's architecture, parameters, quantization, licence and runtimes"
DESCRIPTION = (
    "Describe one model: a GGUF file (split or not), a safetensors file or Hugging Face model dir, "
    "an ONNX graph, a PyTorch pickle (checked, never loaded), an org/name repo in the local HF cache, "
    "an Ollama model name, or a catalog id. Only headers are read."
)


def add_arguments(p) -> None:
    p.add_argument("model", metavar="PATH|NAME", help="file, directory, cached HF repo id, Ollama name or catalog id")
    p.add_argument("--json", action="store_true", help="print the description as JSON on stdout")
    p.add_argument("--tensors", action="store_true", help="include every tensor (name, shape, type, size)")
    p.add_argument("--no-catalog", action="store_true", help="do not fall back to the built-in catalog")


def run(args) -> int:
    from ...describe import describe, safety
    from ..output import print_json, warn

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
