"""Pure statistics of sizeup quality, against values computed by hand (no llama.cpp needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sizeup.errors import BadModelFile
from sizeup.quality import metrics, reference
from sizeup.quality.chart import pareto_front
from sizeup.quality.matrix import MatrixRow, rule_of_thumb_check, verdict


def test_perplexity_by_hand():
    # NLLs 0 and ln 4: mean ln 2 -> PPL 2; variance (ln4)^2/2 - (ln2)^2 = (ln2)^2; n-1 = 1 -> error ln 2.
    p = metrics.perplexity(np.array([0.0, math.log(4)]))
    assert p.ppl == pytest.approx(2.0)
    assert p.mean_nll_err == pytest.approx(math.log(2))
    assert p.ppl_err == pytest.approx(2 * math.log(2))
    assert metrics.perplexity(np.ones(5)).ppl_err == 0.0


def test_mean_and_uncertainty_floor_and_value():
    # llama.cpp reports 0 uncertainty with 10 values or fewer
    assert metrics.mean_and_uncertainty(np.arange(10.0)) == (4.5, 0.0)
    v = np.arange(11.0)  # mean 5, population variance 10, n-1 = 10 -> error 1
    m, e = metrics.mean_and_uncertainty(v)
    assert (m, e) == (pytest.approx(5.0), pytest.approx(1.0))


def test_percentile_and_median_interpolate_like_llama_cpp():
    v = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert metrics.percentile(v, 0.9) == pytest.approx(3.6)  # p = 3.6 -> 0.4*3 + 0.6*4
    assert metrics.percentile(v, 0.0) == 0.0 and metrics.percentile(v, 1.0) == 4.0
    assert metrics.median(v) == 2.0
    assert metrics.median(np.array([1.0, 2.0, 4.0, 8.0])) == 3.0


def test_kl_stats_by_hand():
    n = 20
    nll = np.full(n, 2.0)
    nll_base = np.full(n, 1.5)
    kld = np.linspace(0.0, 0.19, n)  # 0, 0.01, ..., 0.19
    p_diff = np.where(np.arange(n) % 2 == 0, 0.1, -0.1)
    same = np.arange(n) < 15
    s = metrics.kl_stats(nll, nll_base, kld, p_diff, same)
    assert s.ppl == pytest.approx(math.exp(2.0)) and s.ppl_base == pytest.approx(math.exp(1.5))
    assert s.ln_ppl_ratio == pytest.approx(0.5) and s.ln_ppl_ratio_err == 0.0
    assert s.kld_mean == pytest.approx(0.095)
    assert s.kld_median == pytest.approx(0.095)  # mean of the 10th and 11th: 0.09 and 0.10
    assert s.kld_max == pytest.approx(0.19)
    assert s.kld_p99 == pytest.approx(0.19 - 0.01 * 0.19)  # p = 0.99*19 = 18.81
    assert s.rms_dp == pytest.approx(0.1) and s.p_diff_mean == pytest.approx(0.0)
    assert s.same_top == pytest.approx(0.75)
    assert s.same_top_err == pytest.approx(math.sqrt(0.75 * 0.25 / 19))
    with pytest.raises(ValueError):
        metrics.kl_stats(nll[:1], nll_base[:1], kld[:1], p_diff[:1], same[:1])


def test_kld_compact_by_hand_three_tokens():
    p = np.log(np.array([[0.5, 0.3, 0.2]]))
    q = np.log(np.array([[0.4, 0.4, 0.2]]))
    ids, top, tail, tgt, sids, slp = reference.compress_logp(p, np.array([2]), k=1, n_samples=2)
    # top-1 is token 0; the tail (tokens 1, 2; mass 0.5) is sampled at cumulative mass 0.125 and 0.375
    # of [0.3, 0.5] -> tokens 1 and 2; the tail term is 0.5 * mean(ln(0.3/0.4), ln(0.2/0.2)).
    assert ids.tolist() == [[0]] and sids.tolist() == [[1, 2]]
    assert float(tail[0]) == pytest.approx(math.log(0.5)) and float(tgt[0]) == pytest.approx(math.log(0.2))
    got = metrics.kld_compact(ids, top, tail, sids, slp, q)[0]
    want = 0.5 * math.log(0.5 / 0.4) + 0.5 * 0.5 * math.log(0.3 / 0.4)
    assert got == pytest.approx(want, rel=1e-2)  # float16 log-probs: ~3 significant digits
    assert metrics.kld_exact(p, q)[0] == pytest.approx(0.5 * math.log(0.5 / 0.4) + 0.3 * math.log(0.3 / 0.4))


def test_kld_compact_tracks_exact_on_flat_random_distributions():
    rng = np.random.default_rng(0)
    logits_p = rng.normal(size=(400, 2000)) * 1.5  # flat: most of the mass outside the top 32
    logits_q = logits_p + rng.normal(size=(400, 2000)) * 0.3
    lp, lq = metrics.log_softmax(logits_p), metrics.log_softmax(logits_q)
    targets = rng.integers(0, 2000, size=400)
    ids, top, tail, tgt, sids, slp = reference.compress_logp(lp, targets, 32, 128)
    assert np.exp(tail.astype(np.float64)).mean() > 0.5
    approx = metrics.kld_compact(ids, top, tail, sids, slp, lq).mean()
    exact = metrics.kld_exact(lp, lq).mean()
    assert abs(approx - exact) / exact < 0.01
    no_tail = metrics.kld_compact(ids, top, tail, sids[:, :0], slp[:, :0], lq).mean()
    assert no_tail < 0.7 * exact  # the top-k alone misses most of it: the samples matter
    assert tgt == pytest.approx(lp[np.arange(400), targets])
    assert np.all(ids[:, 0] == lp.argmax(axis=1))


def _small_ref():
    rng = np.random.default_rng(1)
    n_ctx, n_chunks, k = 32, 2, 4
    n = n_chunks * (n_ctx - 1 - n_ctx // 2)
    return reference.Reference(
        meta={"n_vocab": 100, "vocab_hash": "x", "k": k, "n_samples": 3, "n_ctx": n_ctx, "n_chunks": n_chunks},
        tokens=rng.integers(0, 100, n_ctx * n_chunks).astype(np.int32), ids=rng.integers(0, 100, (n, k)).astype(np.uint16),
        logp=rng.normal(size=(n, k)).astype(np.float16), tail=rng.normal(size=n).astype(np.float32),
        target=rng.normal(size=n).astype(np.float32), sids=rng.integers(0, 100, (n, 3)).astype(np.uint16),
        slogp=rng.normal(size=(n, 3)).astype(np.float16))


def test_reference_file_round_trip_and_corruption(tmp_path):
    ref = _small_ref()
    path = reference.save(ref, tmp_path / "r.szref")
    back = reference.load(path)
    for name in ("tokens", "ids", "logp", "tail", "target", "sids", "slogp"):
        assert np.array_equal(getattr(back, name), getattr(ref, name))
    assert back.meta["n_ctx"] == 32 and not list(tmp_path.glob(".*tmp"))
    data = path.read_bytes()
    (tmp_path / "trunc.szref").write_bytes(data[:-3])
    with pytest.raises(BadModelFile, match="truncated"):
        reference.load(tmp_path / "trunc.szref")
    (tmp_path / "magic.szref").write_bytes(b"NOTMAGIC" + data[8:])
    with pytest.raises(BadModelFile, match="magic"):
        reference.load(tmp_path / "magic.szref")
    # a header claiming a huge count must be refused before any allocation
    huge = data.replace(b'"n_chunks": 2', b'"n_chunks": 9999999')
    (tmp_path / "huge.szref").write_bytes(huge)
    with pytest.raises(BadModelFile):
        reference.load(tmp_path / "huge.szref")


def test_llama_cpp_base_file_size_formula():
    # 49152-token vocab, ctx 512, 1 chunk: 20 header + 2048 token bytes + 255 x (49156 x 2)
    assert reference.llama_cpp_base_file_bytes(49152, 512, 1) == 20 + 2048 + 255 * 49156 * 2


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.1), (2.5, 0.2), (3.0, 0.01), (3.0, 0.02)]
    assert pareto_front(pts) == [0, 1, 3]


def test_verdict_and_rule_of_thumb():
    kl = {"kld_mean": 0.05, "same_top": 0.92, "ppl_ratio": 1.03}
    r = MatrixRow("Q4_K_M", True, bytes=310, size_vs_ref=0.31, kl=kl)
    assert verdict(r, "F16") == "Q4_K_M: 31% of F16 size, top token unchanged 92% of the time, mean KLD 0.05, perplexity +3.0%"
    checks = rule_of_thumb_check([r], f16_bytes=1000)
    assert checks[0]["quality_matches"] is True and checks[0]["size_matches"] is False  # 31% is not ~50%
