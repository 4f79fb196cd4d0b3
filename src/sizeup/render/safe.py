"""The one rendering path for strings sizeup did not write itself.

Model names, architectures, licences, tensor names, file paths, HF cache folder names, server
error texts... come from files, directories and servers. Printed raw they can

* crash rich (``[/]`` is a closing tag with nothing to close: ``MarkupError``),
* restyle the output or forge links (``[link=https://evil]...``),
* drive the terminal (ESC sequences set the title or clear the screen, ``\\r`` overwrites a line),
* forge lines (a newline followed by ``sizeup: error: ...``).

Three layers, all here:

* :func:`safe_text` - an external string as *literal* markup text: control characters become
  visible escapes (``\\x1b``, ``\\n``) and rich markup is escaped. Every command interpolates
  external strings into its markup through it (or builds ``Text`` with :func:`plain`).
* :func:`one_line` - the same for plain-text lines (errors, warnings on stderr): one line, always.
* :func:`TextTable` - a rich Table whose string cells are literal text, never markup: tables of
  facts from files (inspect, scan, history, compare...) need no per-cell escaping at all.
* :class:`SafeConsole` - the Console every command prints through. If a string that was not
  escaped still reaches it, a markup error renders it literally instead of crashing, and control
  characters left in any rendered segment are escaped before they reach the terminal.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except \t and \n, DEL, and C1 controls (0x80-0x9f: 0x9b is a one-byte CSI).
_CTRL_KEEP_NL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# The same plus \n and \t: for single-line contexts (table cells, error lines).
_CTRL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b", "\x07": "\\a", "\x08": "\\b"}


def _esc(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(s: str, *, keep_newlines: bool = False) -> str:
    """``s`` with control characters replaced by visible escapes (``\\x1b``, ``\\n``...)."""
    return (_CTRL_KEEP_NL if keep_newlines else _CTRL_ALL).sub(_esc, s)


# Every "[" with the backslashes before it; a tag-like one ("[b]", "[/]", "[link=...]") as rich's
# own tag pattern (rich.markup.RE_TAGS) would see it.
_BRACKET = re.compile(r"(\\*)(\[(?:[a-z#/@][^[]*?\])?)")
_TRAILING_BACKSLASHES = re.compile(r"(\\+)$")


def _bracket(m: re.Match[str]) -> str:
    slashes, rest = m.group(1), m.group(2)
    if len(rest) > 1:  # tag-like: rich halves the backslashes before it, an odd count escapes it
        return slashes * 2 + "\\" + rest
    return slashes + "\\["  # a bare "[": rich turns each "\\[" of plain text into "["


def escape_markup(s: str) -> str:
    """``s`` as literal text in rich markup, exactly (rich.markup.escape loses a backslash before a
    bare "[" and leaves a bare "[" after backslashes to be eaten). Trailing backslashes are
    doubled so they cannot escape a tag that follows the interpolated text."""
    if "[" in s:
        s = _BRACKET.sub(_bracket, s)
    if s.endswith("\\"):
        s = _TRAILING_BACKSLASHES.sub(lambda m: m.group(1) * 2, s)
    return s


def safe_text(value: Any) -> str:
    """An external value as literal text inside rich markup: controls escaped, markup escaped."""
    s = value if isinstance(value, str) else str(value)
    return escape_markup(escape_controls(s))


def plain(value: Any, style: str = "") -> Any:
    """A rich ``Text`` holding an external value literally (no markup parsing), controls escaped."""
    from rich.text import Text

    s = value if isinstance(value, str) else str(value)
    return Text(escape_controls(s), style=style)


def one_line(value: Any, limit: int = 2000) -> str:
    """A message as exactly one printable line (for ``sizeup: error: ...`` on stderr)."""
    s = value if isinstance(value, str) else str(value)
    s = escape_controls(s)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _make_console_class():
    from rich.console import Console
    from rich.errors import MarkupError
    from rich.segment import Segment

    class SafeConsole(Console):
        """A rich Console that never crashes on markup and never emits raw control characters."""

        def render_str(self, text: str, **kwargs: Any):  # type: ignore[override]
            text = escape_controls(text, keep_newlines=True)
            try:
                return super().render_str(text, **kwargs)
            except MarkupError:  # an unescaped external string: show it literally
                kwargs["markup"] = False
                return super().render_str(text, **kwargs)

        def render(self, renderable, options=None):  # type: ignore[override]
            search = _CTRL_KEEP_NL.search
            for seg in super().render(renderable, options):
                if seg.control is None and search(seg.text):
                    seg = Segment(escape_controls(seg.text, keep_newlines=True), seg.style, None)
                yield seg

    return SafeConsole


_console_class = None


def SafeConsole(**kwargs: Any):  # noqa: N802 - a class factory (rich is imported lazily)
    """A :class:`rich.console.Console` subclass instance with the guarantees above (emoji off)."""
    global _console_class
    if _console_class is None:
        _console_class = _make_console_class()
    kwargs.setdefault("emoji", False)
    return _console_class(**kwargs)


_table_class = None


def _make_table_class():
    from rich.table import Table
    from rich.text import Text

    class _TextTable(Table):
        def add_row(self, *renderables, **kwargs):  # type: ignore[override]
            cells = [Text(escape_controls(c)) if isinstance(c, str) else c for c in renderables]
            return super().add_row(*cells, **kwargs)

    return _TextTable


def TextTable(*args: Any, **kwargs: Any):  # noqa: N802 - a class factory (rich is imported lazily)
    """A :class:`rich.table.Table` whose ``str`` cells are shown literally: markup is not parsed and
    control characters, newlines included, are escaped (a cell is one line; multi-line cells are
    passed as ``Text``).

    Cells that should be styled are passed as ``rich.text.Text`` (or :func:`markup` for a
    trusted markup string sizeup wrote itself)."""
    global _table_class
    if _table_class is None:
        _table_class = _make_table_class()
    return _table_class(*args, **kwargs)


def markup(trusted: str) -> Any:
    """A markup string *sizeup wrote itself* (external parts already through :func:`safe_text`) as Text."""
    from rich.text import Text

    return Text.from_markup(escape_controls(trusted, keep_newlines=True), emoji=False)
