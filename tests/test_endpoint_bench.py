"""``sizeup bench --endpoint``: real servers, real sockets, real SQLite.

(a) a real llama-cpp-python server (``python -m llama_cpp.server``) with the SmolLM2 test model,
    benchmarked on /v1/completions and /v1/chat/completions at concurrency 1 and 2;
(b) tests/replay_server.py, a real HTTP server on 127.0.0.1 that *replays* Ollama's documented
    /api/generate NDJSON format (Ollama itself cannot be installed here) and OpenAI SSE streams,
    including malformed, truncated, stalled and failing variants;
(c) an unreachable port.
Plus the pure statistics and the concurrency runner of sizeup.bench.load.
"""

from __future__ import annotations

import _thread
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizeup.bench import load
from sizeup.bench import server as es
from sizeup.cli.main import main

sys.path.insert(0, str(Path(__file__).parent))
import replay_server as rs  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(capsys, *argv: str) -> tuple[int, dict | None, str]:
    """Run the real CLI (`sizeup bench --endpoint ... --json`); (exit code, JSON or None, stderr)."""
    rc = main(["bench", *argv, "--json"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out.strip() else None), err


def db_rows(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id, kind, status, model_name, model_quant, config_json, extra_json, error "
                           "FROM runs ORDER BY id").fetchall()
    finally:
        con.close()


def summaries(path: Path, run_id: int) -> dict[str, tuple]:
    con = sqlite3.connect(path)
    try:
        return {m: (mean, n, unit) for m, mean, n, unit in con.execute(
            "SELECT metric, mean, n, unit FROM summaries WHERE run_id = ?", (run_id,))}
    finally:
        con.close()


# --- (a) a real llama-cpp-python server ------------------------------------------------------

@pytest.fixture(scope="module")
def llama_server(smollm2_path, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "1"],
                                stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server not ready after 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("route", ["completions", "chat"])
def test_real_llama_cpp_python_server(llama_server, smollm2_path, tmp_path, capsys, route):
    db = tmp_path / "history.db"
    rc, rep, err = bench(capsys, "--endpoint", llama_server, "--route", route, "--concurrency", "1,2",
                         "--requests", "2", "--max-tokens", "8", "--prompt-tokens", "16", "--db", str(db),
                         *(["--warmup", "0"] if route == "completions" else []))
    assert rc == 0, err
    assert rep["api"] == "openai" and rep["route"] == route
    assert rep["url"] == f"{llama_server}/v1/{'chat/completions' if route == 'chat' else 'completions'}"
    assert rep["model"] == str(smollm2_path)  # picked from /v1/models
    assert [lv["concurrency"] for lv in rep["levels"]] == [1, 2]
    for lv in rep["levels"]:
        assert lv["ok"] == 2 and lv["failed"] == 0
        # llama-cpp-python ignores stream_options: counts come from chunks and are marked approximate
        assert lv["output_tokens_exact"] is False
        assert 2 <= lv["output_tokens"] <= 16  # at most 8 per request, and the model says something
        assert lv["throughput_tps"] > 0
        assert 0 < lv["ttft_s"]["p50"] <= lv["ttft_s"]["p99"] <= lv["e2e_s"]["max"]
        assert lv["e2e_s"]["p50"] < 120
        if lv["itl_s"]:
            assert 0 < lv["itl_s"]["p50"] < 10
    rows = db_rows(db)
    assert [r[0] for r in rows] == rep["run_ids"] and len(rows) == 2
    for (run_id, kind, status, name, _q, cfg, extra, _e), c in zip(rows, (1, 2)):
        assert (kind, status, name) == ("endpoint", "ok", str(smollm2_path))
        assert json.loads(cfg)["concurrency"] == c and json.loads(cfg)["route"] == route
        assert json.loads(extra)["summary"]["ok"] == 2
        s = summaries(db, run_id)
        assert s["e2e_s"][1] == 2 and s["e2e_s"][2] == "s" and s["e2e_s"][0] > 0
        assert s["throughput_tps"][0] > 0


# --- (b) replayed Ollama / OpenAI streams ----------------------------------------------------

@pytest.fixture(scope="module")
def replay():
    with rs.ReplayServer(apis=("ollama", "openai"), first_delay=0.05, token_delay=0.02, stall_s=3.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def replay_openai_only():
    with rs.ReplayServer(apis=("openai",), first_delay=0.05, token_delay=0.02) as srv:
        yield srv


def test_replayed_ollama_generate_timings_and_history(replay, tmp_path, capsys):
    db = tmp_path / "h.db"
    n0 = len(replay.requests)
    rc, rep, err = bench(capsys, "--endpoint", replay.url, "--concurrency", "1,2", "--requests", "3",
                         "--max-tokens", "5", "--prompt-tokens", "40", "--db", str(db))
    assert rc == 0, err
    # auto: the replay answers /v1/models and /api/tags like Ollama does; the native API wins
    assert rep["api"] == "ollama" and rep["url"] == f"{replay.url}/api/generate"
    assert rep["model"] == "good:latest" and "also served" in err  # first listed, and the user is told
    assert rep["model_info"]["quantization_level"] == "Q4_K_M"
    for lv in rep["levels"]:
        assert (lv["ok"], lv["failed"], lv["output_tokens"]) == (3, 0, 15)
        assert lv["output_tokens_exact"] is True and lv["prompt_tokens_mean"] == rs.PROMPT_EVAL_COUNT
        srv = lv["server"]
        assert srv["server_decode_tps"]["p50"] == pytest.approx(5 / (rs.EVAL_DURATION_NS / 1e9))
        assert srv["server_prompt_tps"]["p50"] == pytest.approx(rs.PROMPT_EVAL_COUNT / (rs.PROMPT_EVAL_DURATION_NS / 1e9))
        assert srv["server_load_s"]["p50"] == pytest.approx(rs.LOAD_DURATION_NS / 1e9)
        # client-side: the replay waits 50 ms before the first token and 20 ms between tokens
        assert 0.045 <= lv["ttft_s"]["p50"] < 2
        assert 0.015 <= lv["itl_s"]["p50"] < 1 and lv["itl_s"]["n"] == 12
        assert lv["decode_tps"]["p50"] < 1 / 0.015  # 4 tokens over >= 4 x 20 ms
    bodies = [b for p, b in replay.requests[n0:] if p == "/api/generate"]
    assert len(bodies) == 1 + 3 + 3  # warm-up + two levels
    assert all(b["stream"] is True and b["options"]["num_predict"] == 5 for b in bodies)
    prompts = [b["prompt"] for b in bodies]
    assert len(set(prompts)) == len(prompts)  # unique prefixes: no KV-cache reuse between requests
    assert all(len(p.split()) == 40 - 4 + 2 for p in prompts)  # "Note N:" + 36 words
    rows = db_rows(db)
    assert len(rows) == 2 and all(r[1:5] == ("endpoint", "ok", "good:latest", "Q4_K_M") for r in rows)
    s = summaries(db, rows[0][0])
    assert s["server_decode_tps"][0] == pytest.approx(20.0) and s["ttft_s"][1] == 3


@pytest.mark.parametrize("route, path", [("chat", "/v1/chat/completions"), ("completions", "/v1/completions")])
def test_replayed_openai_stream_with_usage(replay_openai_only, tmp_path, capsys, route, path):
    rc, rep, err = bench(capsys, "--endpoint", replay_openai_only.url, "--route", route, "--model", "good",
                         "--concurrency", "2", "--requests", "2", "--max-tokens", "5", "--no-save")
    assert rc == 0, err
    assert rep["api"] == "openai" and rep["url"].endswith(path) and rep["run_ids"] == []
    lv = rep["levels"][0]
    assert lv["output_tokens_exact"] is True and lv["output_tokens"] == 10
    assert lv["prompt_tokens_mean"] == rs.OPENAI_PROMPT_TOKENS
    assert lv["ttft_s"]["p50"] >= 0.045 and lv["itl_s"]["n"] == 8
    body = replay_openai_only.requests[-1][1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert ("messages" in body) == (route == "chat") and ("prompt" in body) == (route == "completions")


def test_pasted_route_url_and_no_usage_is_approximate(replay_openai_only, capsys):
    rc, rep, err = bench(capsys, "--endpoint", f"{replay_openai_only.url}/v1/completions", "--model", "no-usage",
                         "--concurrency", "1", "--requests", "1", "--max-tokens", "4", "--no-save", "--ignore-eos")
    assert rc == 0, err
    assert rep["route"] == "completions"
    assert replay_openai_only.requests[-1][1]["ignore_eos"] is True
    lv = rep["levels"][0]
    assert lv["output_tokens_exact"] is False and lv["output_tokens"] == 4 and lv["prompt_tokens_mean"] is None


def test_positional_model_names_the_served_model(replay, capsys):
    # `sizeup bench --endpoint URL NAME`: bench's MODEL positional is the served model's name here
    rc, rep, err = bench(capsys, "--endpoint", replay.url, "no-usage", "--concurrency", "1", "--requests", "1",
                         "--max-tokens", "2", "--no-save")
    assert rc == 0 and rep["model"] == "no-usage" and "also served" not in err
    assert rep["levels"][0]["output_tokens_exact"] is False  # Ollama-side: no eval_count, lines counted


def test_table_output(replay, capsys):
    rc = main(["bench", "--endpoint", replay.url, "--concurrency", "1", "--requests", "2", "--max-tokens", "3",
               "--no-save"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "good:latest" in out and "server decode tok/s p50" in out and "TTFT ms p99" in out
    assert "approximate" not in out  # Ollama's counts are exact


ERROR_CASES = [
    # (model, expected message part) - the same for both protocols unless noted
    ("error500", "HTTP 500 Internal Server Error: llama runner process has terminated: exit status 2"),
    ("error404", 'HTTP 404 Not Found: model "error404" not found, try pulling it first'),
    ("truncated", "stream broken off"),
    ("no-done", "truncated"),
    ("not-json", "not JSON"),
    ("missing-fields", "has no"),
    ("long-line", "a line longer than 1024 KiB"),
    ("no-stream", "answered without streaming"),
    ("runaway", "content chunks for at most 5 tokens"),
]


@pytest.mark.parametrize("api", ["ollama", "openai"])
@pytest.mark.parametrize("model, expected", ERROR_CASES + [("stream-error", "server error in stream")])
def test_replayed_broken_streams_fail_with_one_line(replay, api, model, expected):
    t = es.Target(base=es.split_endpoint(replay.url)[0], api=api, route="generate" if api == "ollama" else "chat",
                  model=model, timeout=5)
    r = es.send_one(t, es.build_prompt(8, 0), 5)
    assert not r.ok
    assert expected in r.error and "\n" not in r.error


def test_stalled_stream_is_a_timeout(replay):
    t = es.Target(base=es.split_endpoint(replay.url)[0], api="ollama", route="generate", model="stall", timeout=0.4)
    t0 = time.perf_counter()
    r = es.send_one(t, "hi", 5)
    assert not r.ok and "timed out" in r.error and time.perf_counter() - t0 < 2.5


@pytest.mark.parametrize("argv, expected", [
    (["--model", "error500"], "sizeup: error: HTTP 500 Internal Server Error: llama runner process has terminated"),
    (["--model", "not-json", "--api", "openai"], "sizeup: error: "),
    (["--api", "ollama", "--concurrency", "0"], "sizeup: error: --concurrency values must be from 1 to 256, not 0"),
    (["--requests", "0"], "sizeup: error: --requests must be a whole number from 1 to 100000, not 0"),
    (["-n", "1,2"], "sizeup: error: -n takes one value with --endpoint, not '1,2'"),
])
def test_nothing_measured_is_exit_2_one_line(replay, capsys, argv, expected):
    rc = main(["bench", "--endpoint", replay.url, "--no-save", *argv])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1


def test_failures_inside_a_level_are_counted_and_the_rest_go_on(tmp_path, capsys):
    with rs.ReplayServer(apis=("ollama",), first_delay=0.01, token_delay=0.005) as srv:
        db = tmp_path / "h.db"
        rc, rep, err = bench(capsys, "--endpoint", srv.url, "--model", "flaky", "--warmup", "0", "--concurrency", "1",
                             "--requests", "6", "--max-tokens", "3", "--db", str(db))
    assert rc == 1  # measured, with failures
    lv = rep["levels"][0]
    assert (lv["ok"], lv["failed"]) == (3, 3)
    assert lv["errors"] == [{"message": "HTTP 500 Internal Server Error: llama runner process has terminated: "
                                        "exit status 2", "count": 3}]
    assert lv["output_tokens"] == 9
    (row,) = db_rows(db)
    assert row[2] == "ok" and "HTTP 500" in row[7]


def test_finished_levels_survive_a_dead_later_level(tmp_path, capsys):
    with rs.ReplayServer(apis=("ollama",), first_delay=0.01, token_delay=0.005) as srv:
        db = tmp_path / "h.db"
        rc, rep, err = bench(capsys, "--endpoint", srv.url, "--model", "dies-after-3", "--warmup", "0",
                             "--concurrency", "1,2,4", "--requests", "3", "--max-tokens", "3", "--db", str(db))
    assert rc == 1
    assert [(lv["concurrency"], lv["ok"], lv["failed"]) for lv in rep["levels"]] == [(1, 3, 0), (2, 0, 3)]  # 4 never ran
    assert [r[2] for r in db_rows(db)] == ["ok", "failed"]
    assert "concurrency 2: 0/3 ok" in err


def test_ctrl_c_keeps_what_was_measured(tmp_path, capsys):
    # each request takes ~1.05 s (50 ms + 5 tokens x 200 ms); Ctrl-C arrives after ~2.5 s
    with rs.ReplayServer(apis=("ollama",), first_delay=0.05, token_delay=0.2) as srv:
        db = tmp_path / "h.db"
        timer = threading.Timer(2.5, _thread.interrupt_main)
        timer.start()
        try:
            rc, rep, err = bench(capsys, "--endpoint", srv.url, "--model", "good", "--warmup", "0",
                                 "--concurrency", "1,2", "--requests", "20", "--max-tokens", "5", "--db", str(db))
        finally:
            timer.cancel()
    assert rc == 130
    assert rep["interrupted"] is True
    lv = rep["levels"][0]
    assert lv["interrupted"] is True and lv["ok"] >= 1 and lv["concurrency"] == 1
    rows = db_rows(db)
    assert len(rows) == 1 and rows[0][2] == "interrupted"
    assert "interrupted" in err


# --- (c) unreachable -------------------------------------------------------------------------

def test_unreachable_port_exit_2_one_line(capsys):
    port = _free_port()
    rc = main(["bench", "--endpoint", f"http://127.0.0.1:{port}", "--no-save"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err == f"sizeup: error: cannot connect to http://127.0.0.1:{port}: connection refused (is the server running?)\n"


def test_neither_api_is_one_line(capsys):
    # a real HTTP server that is not a model server (404 everywhere)
    with rs.ReplayServer(apis=()) as srv:
        rc = main(["bench", "--endpoint", srv.url, "--no-save"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "speaks neither the OpenAI API nor Ollama's" in err and "HTTP 404" in err


# --- discovery and prompts -------------------------------------------------------------------

@pytest.mark.parametrize("url, prefix, api, route", [
    ("http://h:8080", "", None, None),
    ("http://h:8080/v1/chat/completions", "", "openai", "chat"),
    ("http://h/proxy/llama/v1/completions", "/proxy/llama", "openai", "completions"),
    ("http://h:11434/api/generate", "", "ollama", None),
    ("http://h/gw/v1", "/gw", "openai", None),
])
def test_split_endpoint(url, prefix, api, route):
    base, a, r = es.split_endpoint(url)
    assert (base.prefix, a, r) == (prefix, api, route)


def test_choose_model():
    models = [{"name": "a"}, {"name": "b"}]
    assert es.choose_model(models, None, None)[:2] == ("a", {"name": "a"})
    assert "also served: b" in es.choose_model(models, None, None)[2]
    assert es.choose_model(models, "llama3", None)[2].startswith("'llama3' is not among the 2 models")
    assert es.choose_model([{"name": "x:latest", "size": 3}], "x", None) == ("x", {"name": "x:latest", "size": 3}, None)
    with pytest.raises(es.SizeupError, match="lists no models"):
        es.choose_model([], None, None)
    with pytest.raises(es.SizeupError, match="pass --model"):
        es.choose_model(None, None, "HTTP 401")


def test_build_prompt_deterministic_unique_and_sized():
    a, b = es.build_prompt(100, 1), es.build_prompt(100, 2)
    assert a == es.build_prompt(100, 1) and a != b and a.split()[2:] == b.split()[2:]
    assert len(a.split()) == 98
    with pytest.raises(es.SizeupError):
        es.build_prompt(0, 1)


def test_prompt_token_count_with_the_real_tokenizer(smollm2_path):
    """The prompt's real token count (SmolLM2's tokenizer via llama.cpp) is close to the request."""
    from sizeup.llamacpp.child import call_in_child

    ns = (32, 256, 1024)
    counts = call_in_child("sizeup.testing.llama_views:token_counts",
                           {"path": str(smollm2_path), "texts": [es.build_prompt(n, 7) for n in ns]})
    for n, got in zip(ns, counts):
        assert abs(got - n) <= max(3, 0.1 * n), (n, got)


def test_ollama_timings_skip_absent_and_insane_fields():
    assert es.ollama_timings({"eval_count": 10, "eval_duration": 500_000_000}) == {"server_decode_tps": 20.0}
    assert es.ollama_timings({"eval_count": 10, "eval_duration": 0, "prompt_eval_duration": -1,
                              "load_duration": "x", "total_duration": 10**16}) == {}


# --- statistics and the runner ---------------------------------------------------------------

def test_percentile_known_values():
    assert load.percentile([1, 2, 3, 4], 50) == 2.5
    assert load.percentile([5], 99) == 5
    assert load.percentile(range(101), 90) == 90
    assert load.percentile([10, 0], 0) == 0 and load.percentile([10, 0], 100) == 10
    with pytest.raises(ValueError):
        load.percentile([], 50)
    with pytest.raises(ValueError):
        load.percentile([1], 101)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=60), st.integers(1, 99))
def test_percentile_matches_statistics_inclusive(xs, q):
    peer = statistics.quantiles(xs, n=100, method="inclusive")[q - 1]
    assert load.percentile(xs, q) == pytest.approx(peer, rel=1e-9, abs=1e-6)


def _res(t0, ttft, n_tok, gap, ok=True, exact=True, err=None):
    times = [t0 + ttft + i * gap for i in range(n_tok)]
    return load.RequestResult(ok=ok, t_start=t0, t_end=(times[-1] if times else t0) + 0.01, error=err,
                              t_first=times[0] if times else None, token_times=times, output_tokens=n_tok,
                              output_tokens_exact=exact)


def test_summarize_level_by_hand():
    rs_ = [_res(0.0, 0.1, 11, 0.05), _res(0.0, 0.3, 11, 0.1),
           load.RequestResult(ok=False, t_start=0.2, t_end=0.4, error="HTTP 500: boom")]
    s = load.summarize_level(rs_, 2)
    assert (s["ok"], s["failed"], s["output_tokens"]) == (2, 1, 22)
    assert s["wall_s"] == pytest.approx(0.3 + 10 * 0.1 + 0.01)
    assert s["throughput_tps"] == pytest.approx(22 / 1.31)
    assert s["decode_tps"]["p50"] == pytest.approx((20 + 10) / 2)  # 10 tokens/0.5 s and 10/1.0 s
    assert s["ttft_s"]["p50"] == pytest.approx(0.2) and s["ttft_s"]["max"] == pytest.approx(0.3)
    assert s["itl_s"]["n"] == 20 and s["itl_s"]["p50"] == pytest.approx(0.075)
    assert s["errors"] == [{"message": "HTTP 500: boom", "count": 1}]
    assert s["output_tokens_exact"] is True
    assert load.summarize_level([_res(0, 0.1, 3, 0.1, exact=False)], 1)["output_tokens_exact"] is False


def test_summarize_level_nothing_ok():
    s = load.summarize_level([load.RequestResult(ok=False, t_start=0, t_end=1, error="x")], 4)
    assert s["ok"] == 0 and s["throughput_tps"] is None and s["ttft_s"] is None


def test_run_level_concurrency_request_and_time_bounds():
    active = 0
    peak = 0
    lock = threading.Lock()
    seen: list[int] = []

    def send(i):
        nonlocal active, peak
        t0 = time.perf_counter()
        with lock:
            active += 1
            peak = max(peak, active)
            seen.append(i)
        time.sleep(0.05)
        with lock:
            active -= 1
        if i == 13:
            raise RuntimeError("boom")
        return load.RequestResult(ok=True, t_start=t0, t_end=time.perf_counter())

    run = load.run_level(send, 4, 12, None, first_index=5)
    assert len(run.results) == 12 and peak == 4 and sorted(seen) == list(range(5, 17))
    failed = [r for r in run.results if not r.ok]
    assert len(failed) == 1 and failed[0].error == "RuntimeError: boom"

    t0 = time.perf_counter()
    run = load.run_level(send, 2, 10_000, 0.3)
    took = time.perf_counter() - t0
    assert 0.3 <= took < 1.5 and 6 <= len(run.results) < 40
    with pytest.raises(ValueError):
        load.run_level(send, 0, 1, None)
