"""The sandbox that runs model-generated code, attacked with hostile "solutions", and the task set.

Every hostile program runs for real in the sandbox child; each must fail or be contained, and the
test process must be unaffected (no file written, no secret read, no stray processes).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sizeup.errors import SizeupError
from sizeup.experiment.sandbox import run_python
from sizeup.experiment.tasks import load_tasks, new_marker, truncate_completion


def _no_processes_left(marker: str) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return marker not in out


def test_harmless_program_runs_isolated(monkeypatch):
    monkeypatch.setenv("SIZEUP_TEST_TOKEN", "tok-123-secret")
    r = run_python("import os, sys\n"
                   "print(sorted(os.environ))\n"
                   "print(os.environ.get('SIZEUP_TEST_TOKEN'))\n"
                   "print(sys.flags.isolated)\n"
                   "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n"
                   "print(os.listdir('.'))\n")
    assert r.ok, r
    lines = r.stdout_tail.splitlines()
    assert "tok-123-secret" not in r.stdout_tail
    assert lines[1] == "None"
    assert lines[2] == "1"  # python -I
    assert set(eval(lines[3])) <= {0, 1, 2, 3}  # stdio + the directory listing itself: nothing inherited
    assert eval(lines[4]) == ["main.py"]  # an empty working directory but for the program


def test_fork_bomb_is_contained():
    t0 = time.monotonic()
    r = run_python("import os\n# sizeup-forkbomb-marker\nwhile True:\n    os.fork()\n", timeout=10)
    assert not r.ok
    assert "Resource temporarily unavailable" in r.reason or "BlockingIOError" in r.reason, r.reason
    assert time.monotonic() - t0 < 10
    assert _no_processes_left("sizeup-forkbomb")


def test_infinite_loop_is_stopped():
    t0 = time.monotonic()
    r = run_python("while True:\n    pass\n", timeout=4, cpu_seconds=2)
    assert not r.ok
    assert r.timed_out or "SIGXCPU" in r.reason or "SIGKILL" in r.reason, r.reason
    assert time.monotonic() - t0 < 8


def test_sleeping_program_hits_the_wall_timeout():
    r = run_python("import time\ntime.sleep(60)\n", timeout=1.5)
    assert not r.ok and r.timed_out and r.reason.startswith("timeout")


def test_ten_gigabyte_allocation_fails():
    r = run_python("x = bytearray(10 * 1024**3)\nprint('allocated')\n", memory_bytes=512 << 20)
    assert not r.ok
    assert "MemoryError" in r.reason
    assert "allocated" not in r.stdout_tail


def test_writing_outside_the_temp_dir_fails(tmp_path):
    target = tmp_path / "escaped.txt"
    tmp_target = f"/tmp/sizeup-escape-{os.getpid()}.txt"
    r = run_python(f"open({str(target)!r}, 'w').write('x')\n")
    assert not r.ok and "Error" in r.reason
    assert not target.exists()
    r = run_python(f"open({tmp_target!r}, 'w').write('x')\n")
    try:
        if r.ok:  # /tmp is world-writable: only Landlock keeps the program out of it
            pytest.skip("no Landlock on this kernel: /tmp stays writable for the sandbox user")
        assert not os.path.exists(tmp_target)
    finally:
        if os.path.exists(tmp_target):
            os.unlink(tmp_target)


def test_huge_file_write_is_capped(tmp_path):
    r = run_python("with open('big', 'wb') as f:\n    f.write(b'x' * (50 * 1024 * 1024))\n", file_bytes=1 << 20)
    assert not r.ok
    assert "SIGXFSZ" in r.reason or "File too large" in r.reason or "OSError" in r.reason, r.reason


def test_reading_ssh_keys_fails(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_rsa"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsizeup-fake-secret-42\n")
    key.chmod(0o600)
    (home / ".ssh").chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    for code in ("import os\nprint(open(os.path.expanduser('~/.ssh/id_rsa')).read())\n",
                 f"print(open({str(key)!r}).read())\n"):
        r = run_python(code)
        assert not r.ok, r
        assert "sizeup-fake-secret-42" not in r.stdout_tail + r.stderr_tail
    assert key.read_text().endswith("sizeup-fake-secret-42\n")  # untouched


def test_exiting_early_is_not_a_pass():
    marker = new_marker()
    r = run_python(f"import os\nos._exit(0)\nprint({marker!r})\n", marker=marker)
    assert not r.ok and "before the tests finished" in r.reason


def test_builtin_tasks_are_solvable_and_tests_bite():
    name, tasks = load_tasks("builtin")
    assert len(tasks) >= 40
    assert len({t.id for t in tasks}) == len(tasks)
    for t in tasks:
        assert t.solution, t.id
        assert f"def {t.entry_point}(" in t.prompt
        marker = new_marker()
        r = run_python(t.program(t.solution, marker), marker=marker, timeout=10)
        assert r.ok, (t.id, r.reason)
    for t in tasks[:6]:  # an empty body fails the hidden tests
        marker = new_marker()
        r = run_python(t.program("    pass\n", marker), marker=marker)
        assert not r.ok, t.id


def test_user_task_file_is_validated(tmp_path):
    p = tmp_path / "tasks.json"
    p.write_text('{"tasks": [{"id": "x", "prompt": "def f():\\n", "entry_point": "f", "tests": "assert f() == 1"}]}')
    name, tasks = load_tasks(p)
    assert [t.id for t in tasks] == ["x"] and tasks[0].solution is None
    p.write_text('{"tasks": [{"id": "x", "prompt": "def f():", "entry_point": "not a name", "tests": "a"}]}')
    with pytest.raises(SizeupError, match="entry_point"):
        load_tasks(p)
    p.write_text("[1, 2]")
    with pytest.raises(SizeupError, match="tasks"):
        load_tasks(p)
    with pytest.raises(SizeupError, match="cannot read"):
        load_tasks(tmp_path / "missing.json")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SizeupError):
        load_tasks(fifo)  # does not block on a FIFO


def test_stop_rule():
    assert truncate_completion("    return 1\n\ndef other():\n    pass\n") == ("    return 1\n", True)
    assert truncate_completion("    x = 1\n    return x\nprint(f())") == ("    x = 1\n    return x", True)
    assert truncate_completion("    return 1") == ("    return 1", False)
    assert truncate_completion("```\n") == ("", True)
