"""``sizeup quality`` end to end with real llama.cpp on SmolLM2 (small ctx, few chunks: fast).

The reference is an F16 file made from the Q4_1 test model with llama.cpp's quantizer
(allow_requantize), and the matrix quantizes Q8_0 / Q5_K_M / Q4_0 from that F16: the ordering of
their errors is then llama.cpp's, not an artefact of requantizing from Q4_1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sizeup import quantize as qz
from sizeup.cli.main import main
from sizeup.llamacpp.child import call_in_child
from sizeup.quality.evaluate import build_reference_isolated
from sizeup.quality.matrix import run_matrix_isolated

CTX, CHUNKS = 128, 3


@pytest.fixture(scope="module")
def work(smollm2_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("quality")
    _, outs = qz.quantize_many(smollm2_path, ["F16"], d / "models")
    assert outs[0].ok and outs[0].label == "F16"
    return {"dir": d, "F16": outs[0].path, "cache": d / "refcache", "db": d / "history.db"}


@pytest.fixture(scope="module")
def ref(work):
    r, cached = build_reference_isolated(work["F16"], "prose", CTX, CHUNKS, threads=2, cache_dir=work["cache"])
    assert not cached
    return r


@pytest.fixture(scope="module")
def matrix(work, ref):
    return run_matrix_isolated(work["F16"], ["Q8_0", "Q5_K_M", "Q4_0"], work["dir"] / "matrix", "prose",
                               n_ctx=CTX, chunks=CHUNKS, threads=2, cache_dir=work["cache"], history_db=work["db"])


def test_matrix_orders_the_quantization_types(matrix):
    rows = {r.ftype: r for r in matrix.rows}
    assert all(r.ok for r in rows.values()), [r.error for r in rows.values()]
    kl = {t: r.kl for t, r in rows.items()}
    assert 0 < kl["Q8_0"]["kld_mean"] < kl["Q5_K_M"]["kld_mean"] < kl["Q4_0"]["kld_mean"]
    assert kl["Q8_0"]["same_top"] > kl["Q4_0"]["same_top"]
    # SmolLM2-135M is small and its next-token distributions flat: Q8_0 keeps the top token ~95-98%
    # of the time here (llama.cpp quantizes the activations to 8 bits too); 90% is a safe floor.
    assert kl["Q8_0"]["same_top"] >= 0.90
    assert kl["Q8_0"]["n_tokens"] == CHUNKS * (CTX - 1 - CTX // 2)
    assert rows["Q8_0"].bytes > rows["Q5_K_M"].bytes > rows["Q4_0"].bytes
    assert all(r.on_front for r in rows.values())  # smaller is worse here: every type is a trade-off
    assert all(r.tg_tps and r.tg_tps > 0 for r in rows.values()), [r.tg_note for r in rows.values()]
    assert not matrix.reference_quantized and matrix.input_label == "F16"
    assert {Path(p).suffix for p in matrix.chart} == {".png", ".svg"} and all(Path(p).stat().st_size > 1000 for p in matrix.chart)
    d = matrix.to_dict()
    assert d["rows"][0]["verdict"].startswith("Q8_0: 5") and "% of F16 size" in d["rows"][0]["verdict"]
    assert {c["family"] for c in d["rule_of_thumb"]} == {"Q8", "Q5", "Q4"}
    from sizeup.history import HistoryDB

    with HistoryDB(matrix_db := Path(matrix.rows[0].path).parent.parent / "history.db") as db:
        runs = db.list_runs(kind="quality")
    assert len(runs) == 3, matrix_db


def test_compact_reference_kld_within_1pct_of_exact(work, ref, matrix):
    """Full-vocabulary KLD from both models' complete log-probs vs the compact reference's (top-32 + sampled tail)."""
    q4 = next(r for r in matrix.rows if r.ftype == "Q4_0")
    exact = call_in_child("sizeup.testing.llama_views:exact_kld_mean",
                          {"ref_model": str(work["F16"]), "q_model": q4.path, "reference_file": str(ref.path),
                           "n_ctx": CTX, "n_chunks": CHUNKS}, timeout=600)
    compact = q4.kl["kld_mean"]
    assert abs(compact - exact) / exact < 0.01, (compact, exact)
    from sizeup.quality.reference import llama_cpp_base_file_bytes

    ours = ref.path.stat().st_size
    theirs = llama_cpp_base_file_bytes(ref.meta["n_vocab"], CTX, CHUNKS)
    assert theirs / ours >= 20, (ours, theirs)


def test_cli_quality_with_ref_uses_the_cache(work, ref, matrix, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SIZEUP_QUALITY_CACHE", str(work["cache"]))
    monkeypatch.setenv("SIZEUP_HISTORY_DB", str(tmp_path / "h.db"))
    q8 = next(r for r in matrix.rows if r.ftype == "Q8_0")
    rc = main(["quality", q8.path, "--ref", work["F16"], "--ctx", str(CTX), "--chunks", str(CHUNKS),
               "--threads", "2", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["reference_cached"] is True and d["reference_note"] is None
    assert d["kl"]["kld_mean"] == pytest.approx(q8.kl["kld_mean"], rel=1e-6)  # same tokens, same numbers
    assert d["kl"]["ppl_base"] == pytest.approx(ref.meta["ppl"], rel=1e-4)
    from sizeup.history import HistoryDB

    with HistoryDB(tmp_path / "h.db") as db:
        assert len(db.list_runs(kind="quality")) == 1


def test_cli_matrix_text_report(smollm2_path, work, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SIZEUP_QUALITY_CACHE", str(work["cache"]))
    monkeypatch.setenv("SIZEUP_HISTORY_DB", str(tmp_path / "h.db"))
    rc = main(["quality", "--matrix", str(smollm2_path), "--to", "Q4_0", "--out", str(tmp_path), "--ctx", str(CTX),
               "--chunks", "2", "--threads", "2", "--no-speed"])
    assert rc == 0
    cap = capsys.readouterr()
    assert "Q4_0: " in cap.out and "of Q4_1 size" in cap.out and "Rule of thumb" in cap.out
    assert "reference is itself quantized (Q4_1)" in cap.err
    assert (tmp_path / "SmolLM2-135M-Instruct.quality.png").is_file()


def test_mismatched_vocab_refused(gemma3_path, smollm2_path, capsys):
    rc = main(["quality", str(smollm2_path), "--ref", str(gemma3_path), "--ctx", str(CTX), "--chunks", "2"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vocabularies differ" in err[0]


def test_short_corpus_refused(smollm2_path, tmp_path, capsys):
    f = tmp_path / "short.txt"
    f.write_text("just a few words, far fewer than two contexts of tokens.\n")
    assert main(["quality", str(smollm2_path), "--corpus", str(f), "--ctx", str(CTX)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs at least 256" in err[0]


def test_perplexity_without_reference(smollm2_path, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SIZEUP_HISTORY_DB", str(tmp_path / "h.db"))
    assert main(["quality", str(smollm2_path), "--ctx", str(CTX), "--chunks", "2", "--corpus", "code", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kl"] is None and d["n_tokens_scored"] == 2 * (CTX - 1 - CTX // 2)
    assert 1.0 < d["ppl"]["ppl"] < 200 and d["ppl"]["ppl_err"] > 0
