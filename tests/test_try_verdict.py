"""The verdict: Pareto front over bits/byte, speed, memory (and pass@1), steps, best choice under limits."""

from __future__ import annotations

from sizeup.experiment.chart import text_chart
from sizeup.experiment.verdict import verdict


def _c(label, bpb, tg, mem_mib, pass_rate=None, chunks=None, status="ok"):
    return {"label": label, "status": status, "error": None if status == "ok" else "boom",
            "measured": {"tg_tps": tg, "rss_model_bytes": mem_mib * 2**20, "vram_peak_bytes": None},
            "quality": {"bpb": bpb, "pass_at_1": pass_rate, "per_chunk_bpb": chunks or [bpb - 0.01, bpb + 0.01]}}


def test_front_steps_and_best_choice():
    small = _c("small", 1.30, 90.0, 200, 0.2, [1.29, 1.31, 1.30])
    mid = _c("mid", 1.10, 40.0, 600, 0.5, [1.09, 1.11, 1.10])
    worse = _c("worse", 1.35, 30.0, 800, 0.1)  # dominated by small on everything
    big = _c("big", 1.00, 10.0, 2000, 0.6, [0.99, 1.01, 1.00])
    crashed = _c("crashed", 0, 0, 0, status="failed")
    cands = [small, mid, worse, big, crashed]
    v = verdict(cands)
    assert v["front"] == ["small", "mid", "big"]
    assert [c["on_front"] for c in cands] == [True, True, False, True, False]
    s0 = v["steps"][0]
    assert s0["from"] == "small" and s0["to"] == "mid"
    assert round(s0["bpb_delta"], 3) == -0.2 and round(s0["pass_delta_points"]) == 30
    assert round(s0["memory_ratio"], 1) == 3.0 and round(s0["speed_ratio"], 3) == round(40 / 90, 3)
    assert "0.200 bits/byte better" in s0["text"] and "2.2x slower" in s0["text"]
    assert any("worse is never the better choice" in ln and "small" in ln for ln in v["lines"])
    assert any(ln.startswith("crashed: failed") for ln in v["lines"])
    assert v["best"]["label"] == "big"
    assert verdict(cands, min_speed=35)["best"]["label"] == "mid"
    assert verdict(cands, max_memory=300 * 2**20)["best"]["label"] == "small"
    assert verdict(cands, min_speed=1000)["best"]["label"] is None
    lines = text_chart(cands)
    assert any("A = small (Pareto front)" in ln for ln in lines) and any("c = worse" in ln for ln in lines)


def test_noise_is_called_noise():
    a = _c("a", 1.200, 50.0, 200, None, [1.0, 1.4, 1.2])
    b = _c("b", 1.199, 40.0, 300, None, [1.2, 1.2, 1.197])
    v = verdict([a, b])
    assert "no clear difference" in v["steps"][0]["text"]
