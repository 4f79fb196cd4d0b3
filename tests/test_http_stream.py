"""The bounded streaming HTTP client: SSE and NDJSON parsing, limits, timeouts, error lines.

Parsers are fed real byte lines; the transport tests talk to a real HTTP server on 127.0.0.1
(tests/replay_server.py) and to a port nothing listens on.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from sizeup.bench import http_stream as hs

sys.path.insert(0, str(Path(__file__).parent))
from replay_server import ReplayServer  # noqa: E402


def lines(*raw: bytes):
    return ((r, float(i)) for i, r in enumerate(raw))


# --- SSE -------------------------------------------------------------------------------------

def test_sse_events_done_comments_and_optional_space():
    evs = list(hs.iter_sse(lines(b": ping", b"data: {\"a\": 1}", b"", b"data:{\"b\":2}", b"", b"event: x",
                                 b"id: 7", b"retry: 10", b"", b"data: [DONE]", b"", b"data: {\"after\": 1}", b"")))
    assert [e for e, _ in evs] == [{"a": 1}, {"b": 2}, hs.DONE]  # nothing after [DONE] is read


def test_sse_multiline_data_joins_with_newline_and_time_is_last_line():
    evs = list(hs.iter_sse(lines(b"data: {\"a\":", b"data: 5}", b"")))
    assert evs == [({"a": 5}, 1.0)]


def test_sse_crlf_lines_and_final_event_without_blank_line():
    # Response.lines strips \r\n; a last event with no blank line after it still counts
    evs = list(hs.iter_sse(lines(b"data: {\"x\": true}")))
    assert evs == [({"x": True}, 0.0)]


def test_sse_non_json_data_is_one_line_error():
    with pytest.raises(hs.MalformedStream) as ei:
        list(hs.iter_sse(lines(b"data: {oops", b""), "POST /v1/completions"))
    msg = str(ei.value)
    assert "not JSON" in msg and "{oops" in msg and "\n" not in msg


def test_sse_invalid_utf8():
    with pytest.raises(hs.MalformedStream, match="UTF-8"):
        list(hs.iter_sse(lines(b"data: \xff\xfe", b"")))


# --- NDJSON ----------------------------------------------------------------------------------

def test_ndjson_lines_and_blank_lines():
    evs = list(hs.iter_ndjson(lines(b'{"response": "a", "done": false}', b"", b'{"done": true}')))
    assert [e for e, _ in evs] == [{"response": "a", "done": False}, {"done": True}]
    assert [t for _, t in evs] == [0.0, 2.0]


def test_ndjson_garbage_line():
    with pytest.raises(hs.MalformedStream, match="not JSON: '<html>"):
        list(hs.iter_ndjson(lines(b'{"a":1}', b"<html>502</html>")))


# --- error bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    (b'{"error": {"message": "model not loaded\\nmore detail", "type": "x"}}', "model not loaded"),
    (b'{"error": "model \\"x\\" not found"}', 'model "x" not found'),
    (b'{"detail": [{"loc": ["body"], "msg": "field required"}]}', "field required"),
    (b'{"message": "bad request"}', "bad request"),
    (b"\n\n<html>Bad Gateway</html>\n<body>", "<html>Bad Gateway</html>"),
    (b"x" * 1000, "x" * hs.MAX_MESSAGE_CHARS + "..."),
])
def test_error_message_first_line(body, expected):
    assert hs.error_message(body) == expected


# --- URLs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, host, port, path", [
    ("127.0.0.1:8080", "127.0.0.1", 8080, ""),
    ("http://localhost:11434/", "localhost", 11434, ""),
    ("https://example.org/v1/chat/completions", "example.org", 443, "/v1/chat/completions"),
    ("http://[::1]:9000/api", "::1", 9000, "/api"),
])
def test_parse_base_url(text, host, port, path):
    base, p = hs.parse_base_url(text)
    assert (base.host, base.port, p) == (host, port, path)


@pytest.mark.parametrize("text, msg", [
    ("", "empty"), ("ftp://h/x", "scheme"), ("http://:80", "no host"), ("http://h:99999", "not a valid URL"),
    ("http://u:p@h:1", "credentials"), ("http://h/" + "a" * 3000, "characters long"),
])
def test_parse_base_url_rejects(text, msg):
    with pytest.raises(hs.EndpointError, match=msg):
        hs.parse_base_url(text)


# --- transport against real sockets ----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_one_line():
    base, _ = hs.parse_base_url(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(hs.ConnectFailed) as ei:
        hs.get_json(base, "/v1/models", timeout=2)
    assert "connection refused" in str(ei.value) and "\n" not in str(ei.value)


def test_connect_timeout_on_a_server_that_never_answers():
    # a listening socket that never accepts/answers: the read must time out, not hang
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        base, _ = hs.parse_base_url(f"http://127.0.0.1:{srv.getsockname()[1]}")
        t0 = time.perf_counter()
        with pytest.raises(hs.ConnectFailed, match="no answer within 0.3 s"):
            hs.get_json(base, "/v1/models", timeout=0.3)
        assert time.perf_counter() - t0 < 5


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(first_delay=0.05, token_delay=0.02, stall_s=3.0) as srv:
        yield srv


def test_http_error_status_and_server_message(replay):
    base, _ = hs.parse_base_url(replay.url)
    with pytest.raises(hs.HTTPStatusError) as ei:
        hs.request(base, "POST", "/api/generate", {"model": "error500"}, timeout=5)
    e = ei.value
    assert e.status == 500
    assert str(e) == "HTTP 500 Internal Server Error: llama runner process has terminated: exit status 2"


def test_get_json_real_listing(replay):
    base, _ = hs.parse_base_url(replay.url)
    tags = hs.get_json(base, "/api/tags", timeout=5)
    assert tags["models"][0]["name"] == "good:latest"


def test_stream_lines_arrive_with_real_timing(replay):
    base, _ = hs.parse_base_url(replay.url)
    with hs.request(base, "POST", "/api/generate", {"model": "good", "options": {"num_predict": 5}}, timeout=5) as r:
        assert r.content_type == "application/x-ndjson"
        evs = list(hs.iter_ndjson(r.lines()))
    assert [e.get("response") for e, _ in evs[:5]] == ["The", " sky", " is", " blue", "."]
    assert evs[-1][0]["done"] is True
    gaps = [b - a for (_, a), (_, b) in zip(evs, evs[1:5])]
    assert all(g >= 0.015 for g in gaps)  # the server sleeps 20 ms between lines


def test_line_longer_than_limit(replay):
    base, _ = hs.parse_base_url(replay.url)
    with hs.request(base, "POST", "/api/generate", {"model": "long-line"}, timeout=5) as r:
        with pytest.raises(hs.MalformedStream, match="a line longer than 1024 KiB"):
            list(r.lines())


def test_response_size_limit(replay):
    base, _ = hs.parse_base_url(replay.url)
    with hs.request(base, "POST", "/api/generate", {"model": "good", "options": {"num_predict": 50}}, timeout=5) as r:
        with pytest.raises(hs.MalformedStream, match="response larger than"):
            list(r.lines(max_total=1000))


def test_truncated_chunked_body(replay):
    base, _ = hs.parse_base_url(replay.url)
    with hs.request(base, "POST", "/api/generate", {"model": "truncated"}, timeout=5) as r:
        with pytest.raises(hs.MalformedStream, match="stream broken off"):
            list(r.lines())


def test_stalled_stream_times_out(replay):
    base, _ = hs.parse_base_url(replay.url)
    t0 = time.perf_counter()
    with hs.request(base, "POST", "/api/generate", {"model": "stall"}, timeout=0.4) as r:
        with pytest.raises(hs.ConnectFailed, match="timed out"):
            list(r.lines())
    assert time.perf_counter() - t0 < 2.5


def test_read_all_whole_stream(replay):
    base, _ = hs.parse_base_url(replay.url)
    with hs.request(base, "POST", "/api/generate", {"model": "good"}, timeout=5) as r:
        raw = r.read_all()
    assert json.loads(raw.splitlines()[-1])["done"] is True
