"""A child's own peak RSS is not its parent's: the first `sizeup bench` on a fresh machine probes
memory bandwidth with a 256 MB array right before it starts the worker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PARENT = r"""
import json, subprocess, sys
big = bytearray(400 << 20)  # touched: resident
for i in range(0, len(big), 4096):
    big[i] = 1
child = "import json, resource; from sizeup.llamacpp.rss import rss_peak; " \
        "print(json.dumps([rss_peak(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]))"
# preexec_fn makes CPython fork + exec (not vfork): the way ru_maxrss inherits the parent's peak
out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, preexec_fn=lambda: None)
print(out.stdout.strip())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_rss_of_a_child_is_its_own():
    p = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    own, ru_maxrss = json.loads(p.stdout)
    assert own < 200 << 20  # an interpreter and sizeup's imports
    assert ru_maxrss > 400 << 20  # the control: getrusage reports the parent's 400 MB
