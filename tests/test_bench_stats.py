"""Pure parts of the benchmark: statistics, sweeps, option parsing, calibration fitting."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from sizeup.bench.calibrate import fit_points
from sizeup.bench.config import MAX_CONFIGS, BenchConfig, expand_sweep, parse_list, to_int, varying_labels
from sizeup.bench.stats import error_pct, rates, summarize
from sizeup.errors import SizeupError


def test_summarize_matches_stdlib_statistics():
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 51):
        xs = [rng.uniform(1, 100) for _ in range(n)]
        s = summarize(xs)
        assert s.n == n
        assert math.isclose(s.mean, statistics.fmean(xs), rel_tol=1e-12)
        assert math.isclose(s.median, statistics.median(xs), rel_tol=1e-12)
        assert s.min == min(xs) and s.max == max(xs)
        expect_sd = statistics.stdev(xs) if n > 1 else 0.0
        assert math.isclose(s.stddev, expect_sd, rel_tol=1e-9, abs_tol=1e-12)


def test_summarize_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])


def test_rates_are_per_repetition_like_llama_bench():
    secs = [0.5, 1.0, 2.0]
    r = rates(128, secs)
    assert r == [128 / t for t in secs]
    # avg of rates, not total tokens over total time: the two differ when reps vary
    assert summarize(r).mean != 128 * 3 / sum(secs)
    with pytest.raises(ValueError):
        rates(8, [0.0])


def test_error_pct_sign_and_missing():
    assert error_pct(110, 100) == pytest.approx(10)
    assert error_pct(90, 100) == pytest.approx(-10)
    assert error_pct(None, 100) is None and error_pct(5, 0) is None


def test_sweep_is_cartesian_product_in_llama_bench_order():
    cfgs, skipped = expand_sweep({"flash_attn": "on,off", "n_threads": "1,2", "n_prompt": "32", "n_gen": "8"})
    assert not skipped
    assert len(cfgs) == 4
    assert [(c.n_threads, c.flash_attn) for c in cfgs] == [(1, True), (1, False), (2, True), (2, False)]
    assert all(c.n_prompt == 32 and c.n_gen == 8 for c in cfgs)
    assert varying_labels(cfgs) == ["t=1 fa=on", "t=1 fa=off", "t=2 fa=on", "t=2 fa=off"]


def test_sweep_skips_impossible_combinations_but_not_all():
    cfgs, skipped = expand_sweep({"flash_attn": "on,off", "type_k": "f16,q8_0"})
    assert len(cfgs) == 3 and len(skipped) == 1
    assert "flash attention" in skipped[0][1]
    assert all(c.type_k == c.type_v for c in cfgs)
    with pytest.raises(SizeupError, match="flash attention"):
        expand_sweep({"flash_attn": "off", "type_k": "q8_0"})


@pytest.mark.parametrize("lists,match", [
    ({"n_prompt": "abc"}, "-p"),
    ({"flash_attn": "maybe"}, "--fa"),
    ({"type_k": "q3_k"}, "KV cache type"),
    ({"n_prompt": "32,,64"}, "empty"),
    ({"n_prompt": "0", "n_gen": "0"}, "nothing to measure"),
    ({"n_ctx": "64", "n_prompt": "512"}, "too small"),
    ({"n_batch": "64", "n_ubatch": "512"}, "larger than"),
    ({"n_threads": "0"}, "-t"),
])
def test_bad_values_are_one_line_errors(lists, match):
    with pytest.raises(SizeupError, match=match) as e:
        expand_sweep(lists)
    assert "\n" not in str(e.value)


def test_sweep_size_is_bounded():
    many = ",".join(str(i) for i in range(1, 40))
    with pytest.raises(SizeupError, match="at most"):
        expand_sweep({"n_threads": many, "n_prompt": many})
    assert MAX_CONFIGS < 39 * 39


def test_parse_list_units_and_dedup():
    # context-style k suffix (1k = 1024, as sizeup's --ctx reads it); duplicates dropped, order kept
    assert parse_list("2k,1k,2k", to_int, "-p") == [2048, 1024]
    with pytest.raises(SizeupError, match="at most"):
        parse_list(",".join(str(i) for i in range(100)), to_int, "-p")


def test_config_round_trip_and_unknown_keys():
    c = BenchConfig(n_prompt=64, n_gen=16, n_threads=3, flash_attn=True)
    assert BenchConfig.from_dict(c.to_dict()) == c
    with pytest.raises(SizeupError, match="unknown"):
        BenchConfig.from_dict(c.to_dict() | {"bogus": 1})


def _points(eff, overhead, preds, threads=4, ngl=0):
    return [{"run_id": i, "metric": "tg", "predicted": p, "measured": 1 / (1 / (eff * p) + overhead),
             "features": {"n_threads": threads, "n_gpu_layers": ngl}} for i, p in enumerate(preds)]


def test_fit_points_recovers_efficiency_and_separates_threads_and_gpu():
    pts = _points(0.55, 0.002, [50, 120, 300, 800]) + _points(0.2, 0.0, [50, 120], threads=1) \
        + _points(0.9, 0.0, [1000, 2000], ngl=99)
    info = fit_points(pts)  # highest thread count, CPU points only
    assert info is not None and info.n_threads == 4 and info.n_runs == 4
    assert info.calibration.efficiency == pytest.approx(0.55, rel=1e-6)
    assert info.calibration.overhead_s == pytest.approx(0.002, rel=1e-6)
    one = fit_points(pts, n_threads=1)
    assert one.calibration.efficiency == pytest.approx(0.2, rel=1e-6)
    gpu = fit_points(pts, n_gpu_layers=99)
    assert gpu.calibration.efficiency == pytest.approx(0.9, rel=1e-6)
    assert fit_points([]) is None
    assert "calibrated from 4 run(s)" in info.describe()


def test_fit_points_uses_roofline_parts_of_this_speed_model_only():
    """Points carry the roofline's parts of the model version that predicted them; a fit mixing
    parts of two versions would mix scales, so parts from another version are left out, and the
    fitted memory scale, overhead and prefill parts describe the current model."""
    from sizeup.bench.calibrate import SPEED_MODEL_VERSION

    def pt(i, mem, t_s, version=SPEED_MODEL_VERSION, metric="tg", pp=None):
        f = {"n_threads": 2, "n_gpu_layers": 0, "memory_time_s": mem, "compute_time_s": mem / 4, "regime": "dram",
             "speed_model": version}
        if pp:
            f.update(pp_repacked_s=pp[0], pp_other_s=pp[1], pp_memory_s=0.0)
        measured = 1 / t_s
        return {"run_id": i, "metric": metric, "predicted": 1 / (mem + 0.004), "measured": measured, "features": f}

    good = [pt(0, 0.008, 1.2 * 0.008 + 0.006), pt(1, 0.1, 1.2 * 0.1 + 0.006), pt(2, 0.4, 1.2 * 0.4 + 0.006)]
    stale = [pt(3, 0.2, 0.5, version=1), pt(4, 0.05, 0.3, version=None)]
    info = fit_points(good + stale)
    assert info.n_runs == 3
    assert info.calibration.memory_scale == pytest.approx(1.2, rel=1e-6)
    assert info.calibration.token_overhead_s == pytest.approx(0.006, rel=1e-6)
    assert "6.0 ms/token overhead" in info.describe()
    # prefill points with their parts give both prefill scales
    pps = [pt(10 + i, 0.1, r / 1.4 + o / 0.7, metric="pp", pp=(r, o))
           for i, (r, o) in enumerate(((0.02, 0.01), (0.0, 0.03), (0.05, 0.02)))]
    for p in pps:  # a pp point's measured figure is prefill tok/s
        r, o = p["features"]["pp_repacked_s"], p["features"]["pp_other_s"]
        p["predicted"] = 1 / (r + o)
    info = fit_points(good + pps)
    assert info.calibration.prefill_repacked_scale == pytest.approx(1.4, rel=1e-6)
    assert info.calibration.prefill_scale == pytest.approx(0.7, rel=1e-6)
