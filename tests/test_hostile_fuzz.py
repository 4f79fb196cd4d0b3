"""Property tests for the round-two mechanisms (issue 12): the text renderer, the JSON value
budget, the pickle and zip scanners, the endpoint stream parser and the history reader. Any input
gives a result or the module's own one-line error - never another exception, a control character
on the terminal, or an unbounded allocation."""

from __future__ import annotations

import io
import json
import sqlite3
import struct

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sizeup.bench import http_stream as hs
from sizeup.bounded_json import bounded_json_loads, value_bound
from sizeup.formats.pickle_check import scan_pickle, zip_member_bound
from sizeup.render.safe import SafeConsole, escape_controls, one_line, safe_text

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# text biased towards what breaks renderers: markup brackets, backslashes, C0/C1 controls, ESC
HOSTILE_TEXT = st.lists(st.sampled_from(list("[]/\\ab =#:;\n\r\t\x1b\x07\x00\x9b\u2028é") + ["[/]", "[bold]", "[link=x]"]),
                        max_size=40).map("".join)


@FAST
@given(HOSTILE_TEXT | st.text(max_size=80))
def test_safe_text_is_literal_and_control_free(s: str):
    from rich.text import Text

    # as commands use it: interpolated between tags (a trailing backslash must not escape the next tag)
    shown = Text.from_markup(f"[bold]{safe_text(s)}[/bold]", emoji=False).plain  # consoles run with emoji off
    assert shown == escape_controls(s)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in shown)
    line = one_line(s)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line


@FAST
@given(HOSTILE_TEXT)
def test_safe_console_never_crashes_nor_emits_controls(s: str):
    buf = io.StringIO()
    c = SafeConsole(file=buf, width=60, highlight=False)  # not a terminal: no style codes at all
    c.print(s)  # unescaped on purpose: the console is the last line of defence
    c.print(f"[bold]{safe_text(s)}[/]")
    out = buf.getvalue()
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out and "\x9b" not in out


@FAST
@given(st.lists(st.sampled_from(list('[]{},:"0 \\abn') + ["null", "true"]), max_size=120).map("".join),
       st.integers(1, 50))
def test_bounded_json_returns_or_raises_value_error(s: str, budget: int):
    try:
        v = bounded_json_loads(s, max_values=budget)
    except ValueError:
        return
    # anything it returns held at most `budget` values
    def count(x) -> int:
        if isinstance(x, dict):
            return 1 + sum(count(y) for y in x.values())
        if isinstance(x, list):
            return 1 + sum(count(y) for y in x)
        return 1

    assert count(v) <= value_bound(s) <= budget


@FAST
@given(st.binary(max_size=400))
def test_scan_pickle_never_raises(data: bytes):
    found, protocol, problem, used = scan_pickle(data, 5)
    assert used <= len(data)
    assert problem is None or "\n" not in problem


@FAST
@given(st.binary(max_size=200), st.binary(max_size=60), st.integers(0, 2**64 - 1))
def test_zip_member_bound_never_raises(prefix: bytes, suffix: bytes, n: int):
    # an end-of-central-directory record (and a zip64 locator) with random fields around it
    loc = b"PK\x06\x07" + struct.pack("<IQI", 0, n % (len(prefix) + 1), 1)
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, n & 0xFFFFFFFF, 0)
    for blob in (prefix + eocd + suffix, prefix + loc + eocd, prefix + eocd[:10]):
        b = zip_member_bound(io.BytesIO(blob), len(blob))
        assert b is None or b >= 0


@FAST
@given(st.lists(st.sampled_from([b"data: {}", b"data: ", b"data:", b": ping", b"", b"event: x", b"data: [DONE]",
                                 b'data: {"a": 1}', b"retry: 5", b"data: [1,2]"]), max_size=30))
def test_sse_parser_yields_json_empty_or_done(lines: list[bytes]):
    try:
        for obj, _t in hs.iter_sse(((x, 0.0) for x in lines)):
            assert obj is hs.DONE or obj is hs.EMPTY or isinstance(obj, (dict, list, int))
    except hs.MalformedStream as e:
        assert "\n" not in str(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=20), st.binary(max_size=20),
                          st.floats(allow_nan=True)), min_size=5, max_size=5))
def test_history_reader_survives_any_cell_values(tmp_path_factory, cells):
    from sizeup.history import HistoryDB

    p = tmp_path_factory.mktemp("h") / "h.db"
    with HistoryDB(p) as db:
        db.record_result("endpoint", {"name": "m"}, {"a": 1}, {"ttft_s": [0.1]})
    con = sqlite3.connect(p)
    try:
        con.execute("UPDATE runs SET model_name = ?, config_json = ?, extra_json = ?, started_at = ?, status = ?", cells)
    except sqlite3.IntegrityError:  # NOT NULL columns: the schema itself refuses these
        assume(False)
    con.execute("UPDATE summaries SET mean = ?", (cells[1],))
    con.commit()
    con.close()
    with HistoryDB.reader(p) as db:
        runs = db.list_runs()
    assert len(runs) == 1
    r = runs[0]
    assert isinstance(r.config, dict) and isinstance(r.extra, dict) and isinstance(r.status, str)
    json.dumps(r.to_dict(), default=str)
