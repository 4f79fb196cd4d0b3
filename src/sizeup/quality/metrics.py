"""Pure statistics of a quality run, defined exactly as llama.cpp's ``llama-perplexity`` prints them.

Source of every definition: ``tools/perplexity/perplexity.cpp`` of the vendored llama.cpp
(``perplexity()``, ``kl_divergence()`` and its ``mean_and_uncertainty``, ``covariance`` and
``percentile`` lambdas). Matching them matters: users compare our numbers with numbers they saw
in llama.cpp pull requests and model cards, so "PPL 12.3 +/- 0.2" must mean the same thing.

Inputs are per-scored-token arrays (one entry per predicted token):

* ``nll`` - negative log-likelihood of the true next token under the model,
* ``nll_base`` - the same under the reference,
* ``kld`` - KL(reference || model) of the next-token distributions,
* ``p_diff`` - p_model(true token) - p_reference(true token),
* ``same_top`` - whether both distributions have the same most likely token.

Uncertainties are standard errors of the mean (sample variance / (n-1)), as llama.cpp reports
them; PPL's is propagated through exp (d exp(x) = exp(x) dx).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# Token-id stability of llama.cpp's statistics: with fewer than this many values it reports 0 uncertainty.
_MIN_COUNT_FOR_UNCERTAINTY = 10


def mean_and_uncertainty(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error, as ``mean_and_uncertainty`` in perplexity.cpp.

    llama.cpp computes the error from running sums (sum, sum of squares) and returns 0 when the
    variance is not positive or there are 10 values or fewer; the same rule applies here.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n < 1:
        return 0.0, 0.0
    f = float(v.mean())
    df = float((v * v).mean()) - f * f
    err = math.sqrt(df / (n - 1)) if df > 0 and n > _MIN_COUNT_FOR_UNCERTAINTY else 0.0
    return f, err


def covariance_of_means(a: np.ndarray, b: np.ndarray) -> float:
    """Covariance of the two sample means (llama.cpp's ``covariance`` lambda: 0 below 10 values)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = a.size
    if n < _MIN_COUNT_FOR_UNCERTAINTY:
        return 0.0
    return float((a * b).mean() - a.mean() * b.mean()) / (n - 1)


def percentile(sorted_values: np.ndarray, fraction: float) -> float:
    """Linear-interpolated percentile of an ascending array (perplexity.cpp's ``percentile``)."""
    v = sorted_values
    if v.size == 0:
        return 0.0
    if fraction <= 0:
        return float(v[0])
    if fraction >= 1:
        return float(v[-1])
    p = fraction * (v.size - 1)
    ip = int(p)
    p -= ip
    return float((1 - p) * v[ip] + p * v[min(ip + 1, v.size - 1)])


def median(sorted_values: np.ndarray) -> float:
    v = sorted_values
    if v.size == 0:
        return 0.0
    h = v.size // 2
    return float(0.5 * (v[h] + v[h - 1])) if v.size % 2 == 0 else float(v[h])


@dataclass(frozen=True)
class Perplexity:
    """PPL = exp(mean NLL); ``ppl_err`` is llama-perplexity's "+/-" (exp propagated)."""

    ppl: float
    ppl_err: float
    mean_nll: float
    mean_nll_err: float
    n_tokens: int


def perplexity(nll: np.ndarray) -> Perplexity:
    """Perplexity with uncertainty from per-token NLLs.

    llama-perplexity's final line uses ``sqrt((mean(x^2) - mean(x)^2) / (n-1))`` without the
    10-value floor of the KLD statistics; that is reproduced here.
    """
    v = np.asarray(nll, dtype=np.float64)
    n = v.size
    if n == 0:
        return Perplexity(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    m = float(v.mean())
    var = float((v * v).mean()) - m * m
    err = math.sqrt(var / (n - 1)) if var > 0 and n > 1 else 0.0
    ppl = math.exp(m)
    return Perplexity(ppl, ppl * err, m, err, n)


@dataclass(frozen=True)
class KLStats:
    """Everything ``llama-perplexity --kl-divergence`` prints, for one model against a reference."""

    n_tokens: int
    ppl: float
    ppl_err: float
    ppl_base: float
    ppl_base_err: float
    ln_ppl_ratio: float  # mean ln(PPL(Q)/PPL(base))
    ln_ppl_ratio_err: float
    ppl_ratio: float
    ppl_ratio_err: float
    ppl_diff: float
    ppl_diff_err: float
    ln_ppl_correlation: float
    kld_mean: float
    kld_mean_err: float
    kld_median: float
    kld_p90: float
    kld_p95: float
    kld_p99: float
    kld_p999: float
    kld_max: float
    kld_min: float
    p_diff_mean: float
    p_diff_mean_err: float
    rms_dp: float
    rms_dp_err: float
    max_abs_dp: float
    same_top: float
    same_top_err: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def kl_stats(nll: np.ndarray, nll_base: np.ndarray, kld: np.ndarray, p_diff: np.ndarray,
             same_top: np.ndarray) -> KLStats:
    """The ``--kl-divergence`` summary from per-token arrays (all the same length, >= 2)."""
    nll = np.asarray(nll, dtype=np.float64)
    nll_base = np.asarray(nll_base, dtype=np.float64)
    kld = np.asarray(kld, dtype=np.float64)
    p_diff = np.asarray(p_diff, dtype=np.float64)
    same = np.asarray(same_top, dtype=bool)
    n = nll.size
    if n < 2 or not (nll_base.size == kld.size == p_diff.size == same.size == n):
        raise ValueError(f"kl_stats needs >= 2 tokens and equal-length arrays (got {n})")

    lp, lp_err = mean_and_uncertainty(nll)
    lb, lb_err = mean_and_uncertainty(nll_base)
    cov = covariance_of_means(nll, nll_base)
    ppl, ppl_b = math.exp(lp), math.exp(lb)
    ppl_err, ppl_b_err = ppl * lp_err, ppl_b * lb_err
    ratio = lp - lb
    ratio_err = math.sqrt(max(0.0, lp_err * lp_err + lb_err * lb_err - 2.0 * cov))
    cor = cov / (lp_err * lb_err) if lp_err > 0 and lb_err > 0 else 0.0
    ppl_cov = ppl * ppl_b * cov
    diff_err = math.sqrt(max(0.0, ppl_err * ppl_err + ppl_b_err * ppl_b_err - 2.0 * ppl_cov))

    k_mean, k_err = mean_and_uncertainty(kld)
    ks = np.sort(kld)
    dp_mean, dp_err = mean_and_uncertainty(p_diff)
    mse, mse_err = mean_and_uncertainty(p_diff * p_diff)
    rms = math.sqrt(mse)
    rms_err = 0.5 / rms * mse_err if rms > 0 else 0.0
    top = float(same.mean())
    top_err = math.sqrt(top * (1 - top) / (n - 1))
    return KLStats(
        n_tokens=n, ppl=ppl, ppl_err=ppl_err, ppl_base=ppl_b, ppl_base_err=ppl_b_err,
        ln_ppl_ratio=ratio, ln_ppl_ratio_err=ratio_err, ppl_ratio=math.exp(ratio),
        ppl_ratio_err=math.exp(ratio) * ratio_err, ppl_diff=ppl - ppl_b, ppl_diff_err=diff_err,
        ln_ppl_correlation=cor,
        kld_mean=k_mean, kld_mean_err=k_err, kld_median=median(ks), kld_p90=percentile(ks, 0.90),
        kld_p95=percentile(ks, 0.95), kld_p99=percentile(ks, 0.99), kld_p999=percentile(ks, 0.999),
        kld_max=float(ks[-1]), kld_min=float(ks[0]),
        p_diff_mean=dp_mean, p_diff_mean_err=dp_err, rms_dp=rms, rms_dp_err=rms_err,
        max_abs_dp=float(np.abs(p_diff).max()), same_top=top, same_top_err=top_err,
    )


# --- per-token quantities from log-probabilities ----------------------------------------------

def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32 (rows = positions, columns = vocabulary)."""
    x = np.asarray(logits, dtype=np.float32)
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True, dtype=np.float64)).astype(np.float32)
    return z - lse


def kld_exact(logp_ref: np.ndarray, logp_q: np.ndarray) -> np.ndarray:
    """Per-row KL(ref || q) over the full vocabulary, from two log-softmax matrices."""
    pr = np.exp(logp_ref.astype(np.float64))
    return (pr * (logp_ref.astype(np.float64) - logp_q.astype(np.float64))).sum(axis=-1)


def kld_compact(ref_ids: np.ndarray, ref_logp: np.ndarray, ref_tail_logmass: np.ndarray,
                sample_ids: np.ndarray, sample_logp: np.ndarray, logp_q: np.ndarray) -> np.ndarray:
    """Per-row KL(ref || q) from the compact reference: exact top-k + a stratified sample of the tail.

    KL = sum over the top-k of p (log p - log q)  +  sum over the tail T of p (log p - log q).
    The first sum is exact (up to float16 rounding of log p). The tail sum equals
    R * E_{i ~ p restricted to T}[log p_i - log q_i] with R the reference's tail mass; it is
    estimated by the mean of log p - log q over S tail tokens drawn by systematic sampling in
    proportion to p (:func:`sizeup.quality.reference.compress_logp`). The estimate is unbiased
    for the tail term; its noise averages out over tokens (on SmolLM2-135M, whose flat
    distributions leave ~15% of the mass outside the top 32, the mean KLD over a few hundred
    tokens lands within ~0.5% of the full-vocabulary value). Simply collapsing the tail into one
    outcome would instead be a lower bound that is 24% low on the same data.
    Shapes: ``ref_ids``/``ref_logp`` (rows, k), ``sample_*`` (rows, S), ``logp_q`` (rows, vocab).
    """
    lr = ref_logp.astype(np.float64)
    lq = np.take_along_axis(logp_q, ref_ids.astype(np.int64), axis=1).astype(np.float64)
    head = (np.exp(lr) * (lr - lq)).sum(axis=1)
    if sample_ids.shape[1] == 0:
        return head
    ls = sample_logp.astype(np.float64)
    lqs = np.take_along_axis(logp_q, sample_ids.astype(np.int64), axis=1).astype(np.float64)
    return head + np.exp(ref_tail_logmass.astype(np.float64)) * (ls - lqs).mean(axis=1)
