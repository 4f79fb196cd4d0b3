"""Summary statistics of repeated measurements (pure functions, no I/O).

llama-bench reports mean ± sample standard deviation over its repetitions; sizeup reports the
same two figures so its numbers read alike, plus the median, which a single outlier (a page fault
storm, another process waking up) cannot drag the way it drags the mean.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable


@dataclass(frozen=True)
class Summary:
    mean: float
    stddev: float  # sample standard deviation (n - 1); 0.0 for a single value
    median: float
    n: int
    min: float
    max: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(values: Iterable[float]) -> Summary:
    """Mean, sample stddev, median, count, min and max of finite ``values``.

    Raises ValueError for an empty input or non-finite values: a NaN rate means the measurement
    itself was broken and must not be averaged into a figure a user trusts.
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("no values to summarize")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError("non-finite value among measurements")
    n = len(xs)
    mean = math.fsum(xs) / n
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    s = sorted(xs)
    mid = n // 2
    median = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0
    return Summary(mean=mean, stddev=math.sqrt(var), median=median, n=n, min=s[0], max=s[-1])


def rates(n_tokens: int, seconds: Iterable[float]) -> list[float]:
    """Tokens per second for each timed repetition of ``n_tokens`` tokens (llama-bench's avg_ts
    is the mean of these per-repetition rates, not total tokens over total time)."""
    out = []
    for t in seconds:
        if t <= 0:
            raise ValueError(f"non-positive duration {t}")
        out.append(n_tokens / t)
    return out


def error_pct(predicted: float | None, measured: float | None) -> float | None:
    """Signed prediction error in percent of the measured value (+ = over-prediction)."""
    if predicted is None or measured is None or measured == 0:
        return None
    return 100.0 * (predicted - measured) / measured
