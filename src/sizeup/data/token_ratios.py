"""Bytes per token of real tokenizers, by text kind - for approximate token counts.

Source: measured by ``benchmarks/context_calibration.py`` on 2026-11-22 (CPython 3.11 standard
library ``*.py`` sources, 4.03 MB, as "code"; ``pydoc_data.topics``, 0.47 MB, as "prose"), with
the tokenizers of the two real test models loaded by llama.cpp (vocab only):

| tokenizer                               | code  | prose |
|-----------------------------------------|-------|-------|
| SmolLM2 (GPT-2-style BPE, 49,152 tokens)| 3.837 | 4.129 |
| Gemma 3 (SentencePiece, 262,144 tokens) | 3.667 | 4.137 |

Other tokenizers (Llama 3's 128k BPE, Qwen's 152k BPE, ...) cannot be measured here (no hub
access); they use the measured tokenizer of the same kind (BPE -> SmolLM2's, SentencePiece ->
Gemma's), and sizeup labels such counts "approximate". With a GGUF file at hand sizeup uses the
model's own tokenizer instead, and the count is exact.
"""

from __future__ import annotations

# family -> kind -> bytes per token
MEASURED: dict[str, dict[str, float]] = {
    "bpe": {"code": 3.837, "prose": 4.129},
    "spm": {"code": 3.667, "prose": 4.137},
}
GENERIC = {k: (MEASURED["bpe"][k] + MEASURED["spm"][k]) / 2 for k in ("code", "prose")}

# File suffix -> text kind. Anything unlisted with a suffix counts as code (configs, sources),
# files without a suffix as prose (README, LICENSE).
TEXT_KIND_BY_SUFFIX: dict[str, str] = {
    **{s: "prose" for s in (".md", ".rst", ".txt", ".adoc", ".org", ".tex", ".html", ".htm")},
    **{s: "data" for s in (".json", ".csv", ".tsv", ".xml", ".yaml", ".yml", ".toml", ".lock", ".svg")},
}


def bytes_per_token(family: str | None, kind: str) -> float:
    """Calibrated bytes per token; data files (JSON, CSV...) tokenize like code."""
    kind = "code" if kind == "data" else kind
    table = MEASURED.get(family or "", GENERIC)
    return table.get(kind, table["code"])


def family_for(tokenizer_model: str | None, n_vocab: int) -> str | None:
    """Map a GGUF ``tokenizer.ggml.model`` value to a measured family (None = generic)."""
    if tokenizer_model == "gpt2":
        return "bpe"
    if tokenizer_model in ("llama", "t5"):
        return "spm"
    return None
