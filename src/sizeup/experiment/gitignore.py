"""``.gitignore`` matching in pure Python (git is never run: a hostile repository's config could
make ``git`` execute commands through hooks, ``core.fsmonitor`` or filters).

Rules implemented (git's ``gitignore(5)``):

* blank lines and lines starting with ``#`` are ignored; ``\\#`` and ``\\!`` escape those characters;
  trailing spaces are dropped unless escaped with a backslash;
* ``!pattern`` re-includes what an earlier pattern excluded (a file inside an excluded directory
  cannot be re-included: the walk never enters that directory);
* a trailing ``/`` matches directories only;
* a pattern with a ``/`` at its start or in its middle is relative to the ``.gitignore``'s directory;
  otherwise it matches a name at any depth below it;
* ``*`` and ``?`` never match ``/``; ``[...]`` is a character class (``[!...]`` negated);
  ``**/`` at the start matches in every directory, ``/**`` at the end matches everything inside,
  ``/**/`` matches zero or more directories;
* patterns of deeper ``.gitignore`` files take precedence over shallower ones, later lines over
  earlier ones (last match wins), and ``.git/info/exclude`` applies at the repository root.

Bounds: at most :data:`MAX_RULES_FILE_BYTES` read per ignore file and :data:`MAX_RULES` rules each.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..safe_open import read_regular

MAX_RULES_FILE_BYTES = 256 * 1024
MAX_RULES = 5000
MAX_PATTERN_CHARS = 1024


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    source: str  # the pattern as written (for debugging)


def _glob_to_regex(pat: str) -> str:
    """Translate one gitignore glob (no leading '!', no trailing '/') to a regex body."""
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat.startswith("**", i):
                at_start = i == 0 or pat[i - 1] == "/"
                j = i + 2
                at_end = j == n or pat[j] == "/"
                if at_start and at_end:
                    if j == n:  # "/**" at the end (or "**" alone): everything
                        out.append(".*")
                        i = j
                        continue
                    out.append("(?:.*/)?")  # "**/": zero or more directories
                    i = j + 1
                    continue
                out.append("[^/]*")  # other consecutive asterisks are ordinary ones
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pat[j] in "!^":
                j += 1
            if j < n and pat[j] == "]":
                j += 1
            while j < n and pat[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pat[i + 1:j]
                neg = body[:1] in ("!", "^")
                if neg:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(("[^/" if neg else "[") + body + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_rule(line: str) -> Rule | None:
    """One line of an ignore file -> a Rule (None for blanks and comments)."""
    line = line.rstrip("\n").rstrip("\r")
    if len(line) > MAX_PATTERN_CHARS:
        return None
    # trailing spaces are ignored unless escaped
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    negate = False
    if line.startswith("!"):
        negate, line = True, line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    dir_only = line.endswith("/")
    if dir_only:
        line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    if line.startswith("/"):
        line = line[1:]
    body = _glob_to_regex(line)
    rx = ("^" if anchored else "^(?:.*/)?") + body + "$"
    try:
        return Rule(re.compile(rx, re.DOTALL), negate, dir_only, line)
    except re.error:
        return None


def parse_rules(text: str) -> list[Rule]:
    rules = []
    for line in text.splitlines():
        r = parse_rule(line)
        if r is not None:
            rules.append(r)
            if len(rules) >= MAX_RULES:
                break
    return rules


def read_rules(path: str | os.PathLike[str]) -> list[Rule]:
    """Rules of one ignore file; an unreadable, non-regular or oversized file yields none."""
    try:
        data = read_regular(path, MAX_RULES_FILE_BYTES)
    except OSError:
        return []
    return parse_rules(data.decode("utf-8", "replace"))


class IgnoreStack:
    """The rule sets in force for one directory of the walk: (base directory relative to the
    walk root, rules) pairs, shallowest first."""

    def __init__(self, layers: list[tuple[str, list[Rule]]] | None = None) -> None:
        self.layers = layers or []

    def child(self, rel_dir: str, rules: list[Rule]) -> "IgnoreStack":
        return IgnoreStack(self.layers + [(rel_dir, rules)]) if rules else self

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        """Whether ``rel_path`` (relative to the walk root, '/'-separated) is ignored."""
        verdict = False
        for base, rules in self.layers:
            if base:
                if not rel_path.startswith(base + "/"):
                    continue
                sub = rel_path[len(base) + 1:]
            else:
                sub = rel_path
            for r in rules:
                if r.dir_only and not is_dir:
                    continue
                if r.regex.match(sub):
                    verdict = not r.negate
        return verdict
