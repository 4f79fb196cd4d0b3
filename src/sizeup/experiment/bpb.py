"""Bits per byte: a quality figure that compares models with different tokenizers.

Perplexity is per *token*, and tokens differ between models (a 262k-token vocabulary makes fewer,
harder predictions than a 49k one), so perplexities of two families do not compare. Bits per
byte do: the total information the model needs to encode a given text, -log2 P(text), divided by
the text's length in bytes. Lower is better; it is the model's compression rate on that text.

To make every candidate score *exactly the same bytes*, the spans are chosen here, from the
bytes alone, before any tokenizer is involved (:func:`choose_spans`):

* ``n`` spans of about ``span_bytes`` bytes, evenly spaced over the text, disjoint, each starting
  at a line start when one is near (else at a UTF-8 character boundary) and ending at a UTF-8
  boundary;
* each span comes with up to ``context_bytes`` of the text right before it, as context.

The child (:mod:`.measure`) tokenizes the context (BOS first when the model adds one) and the
span *separately*, and sums -log2 p over the span's tokens only, so the scored bytes are the
span's whatever the tokenizer (it also reports whether the span's tokens detokenize to exactly
the span's bytes). :func:`summarize` pools the chunks: bpb = sum of bits / sum of bytes, with a
95% confidence interval from the spread of per-chunk figures (ratio estimator, t quantile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import SizeupError

DEFAULT_SPAN_BYTES = 512
DEFAULT_CONTEXT_BYTES = 1024
DEFAULT_CHUNKS = 24
MAX_CHUNKS = 4096
LINE_SNAP = 160  # look this far for a line start


@dataclass(frozen=True)
class Span:
    context_start: int
    start: int
    end: int


def _char_start(data: bytes, i: int) -> int:
    """The nearest UTF-8 character start at or after ``i``."""
    while i < len(data) and (data[i] & 0xC0) == 0x80:
        i += 1
    return i


def _char_start_back(data: bytes, i: int) -> int:
    while i > 0 and i < len(data) and (data[i] & 0xC0) == 0x80:
        i -= 1
    return i


def _line_start(data: bytes, i: int, limit: int) -> int:
    """A line start in [i, i + LINE_SNAP) before ``limit``, else the next character start."""
    if i == 0 or data[i - 1:i] == b"\n":
        return i
    j = data.find(b"\n", i, min(limit, i + LINE_SNAP))
    return j + 1 if j >= 0 else _char_start(data, i)


def choose_spans(data: bytes, n: int = DEFAULT_CHUNKS, span_bytes: int = DEFAULT_SPAN_BYTES,
                 context_bytes: int = DEFAULT_CONTEXT_BYTES) -> list[Span]:
    """``n`` disjoint spans evenly spread over ``data`` (fewer when the text is short)."""
    if not 1 <= n <= MAX_CHUNKS:
        raise SizeupError(f"--chunks must be between 1 and {MAX_CHUNKS}, not {n}")
    if not 16 <= span_bytes <= 1 << 20:
        raise SizeupError(f"--span-bytes must be between 16 and 1 MiB, not {span_bytes}")
    if not 16 <= context_bytes <= 1 << 20:
        raise SizeupError(f"--context-bytes must be between 16 and 1 MiB, not {context_bytes}")
    lead = min(context_bytes, 64)  # every span has at least this much context
    usable = len(data) - lead
    if usable < span_bytes:
        raise SizeupError(f"the corpus is {len(data):,} bytes; it needs at least {lead + span_bytes:,} "
                          f"for one {span_bytes}-byte span")
    n = min(n, usable // span_bytes)
    stride = usable // n
    out: list[Span] = []
    prev_end = 0
    for k in range(n):
        slot0 = lead + k * stride
        start = max(_line_start(data, slot0, slot0 + stride - span_bytes // 2), prev_end)
        start = _char_start(data, start)
        end = _char_start_back(data, min(start + span_bytes, len(data)))
        if end - start < span_bytes // 2:
            continue
        cstart = max(0, start - context_bytes)
        cstart = _line_start(data, cstart, start) if cstart else 0
        if cstart >= start:
            cstart = _char_start(data, max(0, start - context_bytes))
        out.append(Span(cstart, start, end))
        prev_end = end
    if not out:
        raise SizeupError("the corpus is too short to cut into spans")
    return out


def span_texts(data: bytes, spans: list[Span]) -> list[tuple[str, str]]:
    """(context, span) strings; boundaries are UTF-8 character starts, so decoding is exact."""
    return [(data[s.context_start:s.start].decode("utf-8"), data[s.start:s.end].decode("utf-8")) for s in spans]


def _t95(df: int) -> float:
    table = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
             12: 2.18, 15: 2.13, 20: 2.09, 25: 2.06, 30: 2.04, 40: 2.02, 60: 2.00, 120: 1.98}
    if df <= 0:
        return float("nan")
    for k in sorted(table):
        if df <= k:
            return table[k]
    return 1.96


def summarize(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled bits per byte with a 95% interval across chunks (ratio estimator: the chunks'
    bytes differ a little, so the pooled figure is sum(bits)/sum(bytes) and its standard error
    comes from the residuals bits_i - bpb * bytes_i)."""
    use = [c for c in chunks if c.get("bytes")]
    if not use:
        raise SizeupError("no chunk was scored")
    bits = [float(c["bits"]) for c in use]
    nbytes = [int(c["bytes"]) for c in use]
    n = len(use)
    total_b = sum(nbytes)
    bpb = sum(bits) / total_b
    if n > 1:
        mean_b = total_b / n
        resid = [x - bpb * y for x, y in zip(bits, nbytes)]
        var = sum(r * r for r in resid) / (n - 1)
        se = math.sqrt(var / n) / mean_b
        half = _t95(n - 1) * se
        ci = [bpb - half, bpb + half]
    else:
        se, ci = None, None
    return {"bpb": bpb, "bpb_stderr": se, "bpb_ci95": ci, "n_chunks": n, "bytes_scored": total_b,
            "tokens_scored": sum(int(c.get("tokens") or 0) for c in use),
            "per_chunk_bpb": [x / y for x, y in zip(bits, nbytes)],
            "roundtrip_exact": sum(1 for c in use if c.get("roundtrip")) / n}


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson score interval for k successes in n trials (None when n == 0)."""
    if n <= 0:
        return None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [max(0.0, c - h), min(1.0, c + h)]
