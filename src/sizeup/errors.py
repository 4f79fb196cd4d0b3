"""Errors that reach the user as one clear line.

Anything raised as :class:`SizeupError` is printed by the CLI as ``sizeup: error: <message>`` on
stderr with exit code 2 (bad input, impossible request). Library users catch it like any
exception. Parsers of untrusted files raise :class:`BadModelFile`, a subclass, so callers can tell
"this file is broken" from "you asked for something impossible".
"""

from __future__ import annotations


class SizeupError(Exception):
    """A problem to report to the user in one line; exit code 2 in the CLI.

    Messages often quote what a file or server said (a GGUF key, a model name, an error body), so
    the message is made one printable line here, once, for every raiser: control characters
    (newlines, ESC...) become visible escapes. Library callers get the same line the CLI prints.
    """

    exit_code = 2

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            from .render.safe import escape_controls

            args = (escape_controls(args[0]), *args[1:])
        super().__init__(*args)


class BadModelFile(SizeupError):
    """A model file that is malformed, truncated, or outside sane limits."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class NotFound(SizeupError):
    """A model, file or catalog id that does not exist (message may suggest close matches)."""
