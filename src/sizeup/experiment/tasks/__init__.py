"""Function-completion task sets: data files, loaded and validated here.

A task set is a JSON file (``{"schema": "sizeup.tasks/1", "tasks": [...]}``); each task has an
``id``, a ``prompt`` (a Python signature and docstring, ending in a newline: what the model sees
and continues), an ``entry_point`` (the function's name) and ``tests`` (Python statements, usually
``assert``\\ s, run after the completed function in the sandbox). ``solution`` (a reference body)
is optional and never shown to a model; sizeup's own tests use it to prove each task solvable.
The built-in set (``python_builtin.json``, written for sizeup) has 47 tasks; users pass their own
file with ``--tasks PATH``. Files are untrusted: sizes and counts are bounded, fields checked.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ...errors import SizeupError
from ...safe_open import read_regular

BUILTIN = Path(__file__).with_name("python_builtin.json")
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TASKS = 2000
MAX_FIELD_CHARS = 20_000
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,80}$")


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    entry_point: str
    tests: str
    solution: str | None = None

    def program(self, completion: str, marker: str) -> str:
        """The script the sandbox runs: prompt + completion, then the tests, then the marker."""
        return (f"{self.prompt}{completion}\n\n\n"
                f"{self.tests}\n"
                f"print({marker!r})\n")


def new_marker() -> str:
    return "SIZEUP-TESTS-PASSED-" + secrets.token_hex(8)


def load_tasks(spec: str | Path = "builtin", limit: int | None = None) -> tuple[str, list[Task]]:
    """(name, tasks) of ``"builtin"`` or a task file path; ``limit`` keeps the first N."""
    path = BUILTIN if str(spec) == "builtin" else Path(spec)
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except OSError as e:
        raise SizeupError(f"{path}: cannot read the task file ({getattr(e, 'strerror', None) or e})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SizeupError(f"{path}: not a JSON task file ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise SizeupError(f"{path}: a task file is a JSON object with a 'tasks' list")
    items = doc["tasks"]
    if len(items) > MAX_TASKS:
        raise SizeupError(f"{path}: {len(items)} tasks; at most {MAX_TASKS}")
    tasks: list[Task] = []
    seen: set[str] = set()
    for i, t in enumerate(items):
        if not isinstance(t, dict):
            raise SizeupError(f"{path}: task {i + 1} is not an object")
        vals = {}
        for k in ("id", "prompt", "entry_point", "tests"):
            v = t.get(k)
            if not isinstance(v, str) or not v or len(v) > MAX_FIELD_CHARS:
                raise SizeupError(f"{path}: task {i + 1} needs a non-empty string '{k}' (at most {MAX_FIELD_CHARS} chars)")
            vals[k] = v
        if not _ID.match(vals["id"]) or vals["id"] in seen:
            raise SizeupError(f"{path}: task {i + 1} has an invalid or repeated id {vals['id'][:80]!r}")
        if not _IDENT.match(vals["entry_point"]):
            raise SizeupError(f"{path}: task {vals['id']}: entry_point must be a Python name")
        seen.add(vals["id"])
        sol = t.get("solution")
        prompt = vals["prompt"] if vals["prompt"].endswith("\n") else vals["prompt"] + "\n"
        tasks.append(Task(vals["id"], prompt, vals["entry_point"], vals["tests"],
                          sol if isinstance(sol, str) and len(sol) <= MAX_FIELD_CHARS else None))
    if not tasks:
        raise SizeupError(f"{path}: the task file has no tasks")
    if limit is not None:
        if limit < 1:
            raise SizeupError("--tasks-limit must be at least 1")
        tasks = tasks[:limit]
    name = str(doc.get("name") or path.stem)[:80] if str(spec) == "builtin" else str(path)
    return name, tasks


def truncate_completion(text: str) -> tuple[str, bool]:
    """The stop rule: keep the function body; cut at the first line that starts at column 0
    (a new top-level statement, decorator, comment or fence). Returns (kept text, stopped)."""
    out: list[str] = []
    for ln in text.split("\n"):
        if ln.strip() and not ln[0].isspace():
            return "\n".join(out), True
        out.append(ln)
    return text, False
