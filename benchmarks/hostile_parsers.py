"""Peak memory and time of the worst input each bounded parser *accepts* at its limits, next to
the unbounded path (the peer) measured on the same bytes in the same run (issue 12).

    PYTHONPATH=src python3 benchmarks/hostile_parsers.py [--scale 1.0] [--only NAME]

Every case runs in a fresh child process; its peak RSS (``VmHWM``) and wall time are
printed, so numbers include the interpreter (~20-60 MB) and are comparable across rows. Cases:

* ``safetensors``: a header of ``{}`` objects just under the value budget (accepted, then parsed),
  one at twice the budget (refused before parsing) and ``json.loads`` of the latter (the old path);
* ``config.json``: the same for ``read_json_file`` (2M values);
* ``pickle``: MEMOIZE opcodes just under the memo budget, a 20 MB flood (stopped at the budget)
  and ``pickletools.genops`` over a 5 MB flood with a memo dict (the old path);
* ``zip``: a real zip with MAX_ZIP_MEMBERS members, one claiming 2M (refused from the
  end-of-central-directory record), ``zipfile.ZipFile`` listing the real one;
* ``gguf``: 999,999 zero-size tensors: ``inspect --json`` and ``estimate --json`` (the old
  estimate took 117 s) next to gguf-py's ``GGUFReader`` on the same file;
* ``ollama``: 999 licence layers of 1 MiB (bounded to 4 MiB in all) next to joining them all;
* ``scan``: 50,000 model files, the table next to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {src!r})
    t = time.perf_counter()
    ok = "accepted"
    try:
    {body}
    except SystemExit as e:
        ok = f"exit {{e.code}}"
    except Exception as e:
        ok = "refused: " + " ".join(str(e).split())[-90:]
    dt = time.perf_counter() - t
    # VmHWM: this process image's peak RSS (ru_maxrss would include the parent's, kept across exec)
    try:
        hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"s": dt, "rss_mb": hwm, "result": ok}}))
""")


def child(body: str) -> dict:
    code = CHILD.format(src=str(ROOT / "src"), body=textwrap.indent(textwrap.dedent(body), "    "))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    if not lines:
        return {"s": float("nan"), "rss_mb": float("nan"), "result": f"child failed: {r.stderr.strip()[-200:]}"}
    return json.loads(lines[-1])


def row(case: str, what: str, body: str) -> None:
    d = child(body)
    print(f"{case:<12} {what:<58} {d['s']:8.2f} s {d['rss_mb']:9.0f} MB  {d['result'][:70]}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="scale the peers' sizes down on small machines")
    ap.add_argument("--only", help="run one case (safetensors, config, pickle, zip, gguf, ollama, scan)")
    args = ap.parse_args()

    from sizeup.bounded_json import DEFAULT_MAX_VALUES, SAFETENSORS_HEADER_MAX_VALUES
    from sizeup.formats.pickle_check import MAX_MEMO, MAX_OPS, MAX_ZIP_MEMBERS
    from sizeup.testing import hostile as H

    tmp = Path(tempfile.mkdtemp(prefix="sizeup-hostile-bench-"))
    want = (lambda c: args.only in (None, c))
    print(f"{'case':<12} {'input':<58} {'time':>10} {'peak RSS':>12}  result")
    row("baseline", "interpreter + sizeup's format readers imported",
        "import sizeup.formats.safetensors, sizeup.formats.pickle_check, sizeup.sources.dispatch")

    if want("safetensors"):
        n_ok = SAFETENSORS_HEADER_MAX_VALUES // 2 - 10  # "{}," = 2 values each in the bound
        at = tmp / "at_limit.safetensors"
        at.write_bytes(H.safetensors_many_values(n_ok))
        over = tmp / "over.safetensors"
        over.write_bytes(H.safetensors_many_values(int(2 * SAFETENSORS_HEADER_MAX_VALUES * args.scale)))
        row("safetensors", f"header, {n_ok:,} objects ({at.stat().st_size >> 20} MiB): read_header",
            f"from sizeup.formats.safetensors import read_header; read_header({str(at)!r})")
        row("safetensors", f"header over budget ({over.stat().st_size >> 20} MiB): read_header",
            f"from sizeup.formats.safetensors import read_header; read_header({str(over)!r})")
        row("safetensors", "peer: json.loads of the same over-budget header",
            f"import json; b = open({str(over)!r}, 'rb').read(); json.loads(b[8:])")

    if want("config"):
        n_ok = DEFAULT_MAX_VALUES // 2 - 10
        at = tmp / "config_at.json"
        at.write_text("[" + ",".join(["[]"] * n_ok) + "]")
        over = tmp / "config_over.json"
        over.write_text("[" + ",".join(["[]"] * int(4 * DEFAULT_MAX_VALUES * args.scale)) + "]")
        row("config.json", f"{n_ok:,} lists ({at.stat().st_size >> 20} MiB): read_json_file",
            f"from pathlib import Path; from sizeup.formats.safetensors import read_json_file; read_json_file(Path({str(at)!r}))")
        row("config.json", f"over budget ({over.stat().st_size >> 20} MiB): read_json_file",
            f"from pathlib import Path; from sizeup.formats.safetensors import read_json_file; read_json_file(Path({str(over)!r}))")
        row("config.json", "peer: json.loads of the same over-budget file",
            f"import json; json.loads(open({str(over)!r}, 'rb').read())")

    if want("pickle"):
        at = tmp / "memo_at.pt"
        at.write_bytes(H.pickle_memoize(MAX_MEMO - 1))
        flood = tmp / "memo_flood.pt"
        flood.write_bytes(H.pickle_memoize(20_000_000))
        ops = tmp / "ops_at.pt"
        ops.write_bytes(b"\x80\x04" + b"N0" * (MAX_OPS // 2 - 2) + b"N.")
        peer = tmp / "memo_peer.pt"
        peer.write_bytes(H.pickle_memoize(int(5_000_000 * args.scale)))
        for p, what in ((at, f"{MAX_MEMO - 1:,} MEMOIZE (memo budget - 1)"), (ops, f"{MAX_OPS:,} opcodes (op budget)"),
                        (flood, "20 MB MEMOIZE flood (stops at the budget)")):
            row("pickle", f"{what}: describe_pickle",
                f"from sizeup.formats.pickle_check import describe_pickle; d = describe_pickle({str(p)!r})")
        row("pickle", f"peer: genops + memo dict over a {peer.stat().st_size >> 20} MB flood",
            f"import pickletools; memo = {{}}\nfor op, a, pos in pickletools.genops(open({str(peer)!r}, 'rb')):\n"
            f"    memo[len(memo)] = None")

    if want("zip"):
        import zipfile

        z = tmp / "zip_at.pt"
        with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
            for i in range(MAX_ZIP_MEMBERS - 1):
                zf.writestr(f"a/data/{i}", b"")
            zf.writestr("a/data.pkl", b"\x80\x02}q\x00.")
        claim = tmp / "zip_claim.pt"
        claim.write_bytes(H.zip_claiming_members(2_000_000))
        row("zip", f"{MAX_ZIP_MEMBERS:,} members ({z.stat().st_size >> 20} MiB): describe_pickle",
            f"from sizeup.formats.pickle_check import describe_pickle; describe_pickle({str(z)!r})")
        row("zip", "claims 2,000,000 members: describe_pickle",
            f"from sizeup.formats.pickle_check import describe_pickle; describe_pickle({str(claim)!r})")
        row("zip", f"peer: zipfile.ZipFile(...).infolist() on the {MAX_ZIP_MEMBERS:,}-member zip",
            f"import zipfile; len(zipfile.ZipFile({str(z)!r}).infolist())")

    if want("gguf"):
        g = H.write_gguf_many_tensors(tmp / "many.gguf", 999_999)
        for cmd in (["inspect", str(g), "--json"], ["estimate", str(g), "--ctx", "1024", "--json", "--ram", "8G"]):
            row("gguf", f"999,999 zero-size tensors: sizeup {cmd[0]} --json",
                "import io, contextlib\nfrom sizeup.cli.main import main\n"
                f"with contextlib.redirect_stdout(io.StringIO()):\n    rc = main({cmd!r})\nassert rc == 0, rc")
        row("gguf", "peer: gguf.GGUFReader on the same file",
            f"from gguf import GGUFReader; len(GGUFReader({str(g)!r}).tensors)")

    if want("ollama"):
        import hashlib

        root = tmp / "ollama"
        (root / "blobs").mkdir(parents=True)

        def blob(data: bytes) -> str:
            h = hashlib.sha256(data).hexdigest()
            (root / "blobs" / f"sha256-{h}").write_bytes(data)
            return f"sha256:{h}"

        model = H.gguf(H.llama_kvs(), [H.tensor_info("token_embd.weight", [64, 8])], b"\0" * 2048)
        layers = [{"mediaType": "application/vnd.ollama.image.model", "digest": blob(model), "size": len(model)}]
        for i in range(999):
            text = f"{i:04d}".encode() * (1 << 18)  # 1 MiB, each different
            layers.append({"mediaType": "application/vnd.ollama.image.license", "digest": blob(text), "size": len(text)})
        m = root / "manifests" / "registry.ollama.ai" / "library" / "lic"
        m.mkdir(parents=True)
        (m / "latest").write_text(json.dumps({"layers": layers}))
        row("ollama", "999 licence layers of 1 MiB: ollama_info",
            f"from sizeup.formats.ollama import ollama_info; i = ollama_info('lic', {str(root)!r}); print(len(i.license), file=__import__('sys').stderr)")
        row("ollama", "peer: read and join all 999 layers (no total bound)",
            f"import glob; s = '\\n\\n'.join(open(p, encoding='utf-8').read() for p in sorted(glob.glob({str(root / 'blobs' / '*')!r})))")

    if want("scan"):
        d = tmp / "scan"
        n = int(50_000 * args.scale)
        for i in range(n):
            sub = d / f"d{i // 1000}"
            if i % 1000 == 0:
                sub.mkdir(parents=True)
            (sub / f"m{i}.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")
        for extra, what in (([], "table"), (["--json"], "--json (peer)")):
            row("scan", f"{n:,} model files: sizeup scan, {what}",
                "import io, contextlib\nfrom sizeup.cli.main import main\n"
                f"with contextlib.redirect_stdout(io.StringIO()):\n    rc = main(['scan', '--no-default', {str(d)!r}, *{extra!r}])\n"
                "assert rc == 0, rc")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
