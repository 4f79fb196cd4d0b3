"""How much quality each llama.cpp quantization type costs, as llama.cpp's own authors measured it.

Source: ``QUANT_OPTIONS`` in tools/quantize/quantize.cpp of the llama.cpp vendored by
llama-cpp-python 0.3.36 (Oct 2026): "size, +N ppl @ Llama-3-8B" for each type, i.e. the
perplexity increase over F16 on wikitext-2 for Llama-3-8B.
Types listed there only by bits per weight (IQ*) have no published delta; sizeup leaves them out of
recommendations rather than guessing. These are one model's numbers: ``sizeup quality`` measures
the real loss for the user's own model.
"""

from __future__ import annotations

# type -> (file size of Llama-3-8B in GB as listed, perplexity increase over F16)
LLAMA3_8B_PPL_DELTA: dict[str, tuple[float, float]] = {
    "Q2_K": (2.96, 3.5199),
    "Q2_K_S": (2.96, 3.1836),
    "Q3_K_S": (3.41, 1.6321),
    "Q3_K_M": (3.74, 0.6569),
    "Q3_K_L": (4.03, 0.5562),
    "Q4_0": (4.34, 0.4685),
    "Q4_1": (4.78, 0.4511),
    "Q4_K_S": (4.37, 0.2689),
    "Q4_K_M": (4.58, 0.1754),
    "Q5_0": (5.21, 0.1316),
    "Q5_1": (5.65, 0.1062),
    "Q5_K_S": (5.21, 0.1049),
    "Q5_K_M": (5.33, 0.0569),
    "Q6_K": (6.14, 0.0217),
    "Q8_0": (7.96, 0.0026),
    "F16": (14.00, 0.0),
    "BF16": (14.00, 0.0),
}
# The types sizeup considers when recommending, best quality first.
RECOMMENDABLE: tuple[str, ...] = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")


def ppl_delta(ftype: str) -> float | None:
    """Perplexity increase over F16 for Llama-3-8B per llama.cpp's table (None = not published)."""
    row = LLAMA3_8B_PPL_DELTA.get(ftype.upper())
    return None if row is None else row[1]
