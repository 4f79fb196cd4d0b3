"""PyTorch pickle checkpoints (.bin/.pt/.pth/.ckpt): identified and audited, never loaded.

Unpickling runs whatever the file tells it to: a checkpoint can call ``os.system`` as easily as
``torch._utils._rebuild_tensor_v2``. So sizeup reads the pickle *opcode stream* with
``pickletools.genops`` - a parser that executes nothing - and lists every global the stream
imports (GLOBAL, INST and STACK_GLOBAL opcodes), classed as expected (what torch/numpy
checkpoints need), dangerous (process, file, network or code-execution entry points), or unknown.
Parameter counts are not derived (that would require executing the pickle); the advice is to use
the safetensors or GGUF version of the model.

Formats: the zip container ``torch.save`` writes since PyTorch 1.6 (``<name>/data.pkl`` plus
``<name>/data/<key>`` storages), and the legacy format, a sequence of raw pickles (magic number,
protocol, system info, the object, storage keys) followed by raw storage bytes.
"""

from __future__ import annotations

import io
import os
import pickletools
import struct
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import BadModelFile, SizeupError
from ..licenses import classify_license
from ..model import ModelDescription
from ..runtimes import runtimes_for
from ..safe_open import open_regular
from .safetensors import card_license, read_json_file, show

MAX_PICKLE_BYTES = 256 * 1024 * 1024  # data.pkl of the largest real checkpoints is a few MB
# Budgets that scale with real checkpoints: a torch data.pkl spends ~20 opcodes and 2-3 memo
# entries per tensor, and the largest checkpoints hold tens of thousands of tensors. A 20 MB
# stream of MEMOIZE opcodes used to take 29 s and 1.3 GB; the scan now stops at these budgets
# and says so (the globals it found until then are still reported).
MAX_OPS = 1_000_000
MAX_MEMO = 500_000
MAX_GLOBALS = 10_000
MAX_ZIP_MEMBERS = 200_000  # checked from the end-of-central-directory record, before any listing
LEGACY_PICKLES = 5  # magic, protocol, sys_info, object, storage keys

# Globals a torch/numpy checkpoint legitimately imports (torch/_weights_only_unpickler.py allowlist).
EXPECTED_PREFIXES = ("torch._utils.", "torch.storage.", "torch._tensor.", "torch.nn.parameter.", "numpy.core.multiarray.",
                     "numpy._core.multiarray.", "numpy.dtypes.")
EXPECTED = frozenset("""collections.OrderedDict collections.defaultdict torch.Size torch.device torch.dtype
    torch.float32 torch.float16 torch.bfloat16 torch.int64 torch.int32 torch.int8 torch.uint8 torch.bool
    torch.FloatStorage torch.HalfStorage torch.BFloat16Storage torch.DoubleStorage torch.LongStorage
    torch.IntStorage torch.ShortStorage torch.CharStorage torch.ByteStorage torch.BoolStorage torch.UntypedStorage
    torch.serialization._get_layout torch.layout torch.strided torch.memory_format torch.contiguous_format
    numpy.ndarray numpy.dtype builtins.set builtins.frozenset builtins.slice builtins.complex
    builtins.bytearray _codecs.encode argparse.Namespace""".split())
# Entry points that run commands, touch files or the network, or evaluate code.
DANGEROUS_MODULES = frozenset("""os posix nt subprocess sys shutil socket runpy importlib pickle _pickle marshal
    ctypes webbrowser pty code codeop commands platform asyncio multiprocessing urllib requests http ftplib
    smtplib telnetlib tempfile glob pathlib io types signal threading _thread""".split())
DANGEROUS_BUILTINS = frozenset("""eval exec compile open __import__ getattr setattr delattr globals locals vars
    input breakpoint memoryview apply execfile file reload""".split())
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def classify_global(name: str) -> str:
    """expected | dangerous | unknown for a ``module.name`` imported by a pickle."""
    module, _, attr = name.rpartition(".")
    root = module.split(".")[0]
    if module in ("builtins", "__builtin__") and attr in DANGEROUS_BUILTINS:
        return "dangerous"
    if root in DANGEROUS_MODULES:
        return "dangerous"
    if name in EXPECTED or name.startswith(EXPECTED_PREFIXES):
        return "expected"
    return "unknown"


class _Capped:
    """A read-only view of a binary stream that never returns more than ``limit`` bytes in all.

    ``pickletools.genops`` trusts length prefixes (``BINBYTES8`` may claim 2**62 bytes) and reads
    whole lines for protocol-0 arguments; capping each read at what is left, and each line at
    1 MiB, keeps memory bounded by the file itself whatever the stream claims.
    """

    MAX_LINE = 1 << 20

    def __init__(self, f: Any, limit: int) -> None:
        self.f, self.end = f, f.tell() + limit

    def _left(self) -> int:
        return max(0, self.end - self.f.tell())

    def read(self, n: int = -1) -> bytes:
        return self.f.read(self._left() if n is None or n < 0 else min(n, self._left()))

    def readline(self) -> bytes:
        return self.f.readline(min(self._left(), self.MAX_LINE))

    def tell(self) -> int:
        return self.f.tell()


def scan_pickle(data: bytes | Any, max_pickles: int = 1, limit: int | None = None) -> tuple[Counter[str], int | None, str | None, int]:
    """Globals imported by up to ``max_pickles`` consecutive pickles in ``data`` (bytes or a binary file).

    Returns (global -> count, protocol of the first pickle, problem or None, bytes consumed).
    Never executes anything: ``pickletools.genops`` only decodes opcodes and their arguments.
    """
    found: Counter[str] = Counter()
    if isinstance(data, (bytes, bytearray)):
        raw: Any = io.BytesIO(data)
        limit = len(data) if limit is None else min(limit, len(data))
    else:
        raw = data
        limit = MAX_PICKLE_BYTES if limit is None else limit
    stream = _Capped(raw, limit)
    protocol: int | None = None
    problem: str | None = None
    ops = 0
    for _ in range(max_pickles):
        if stream._left() == 0 or not stream.read(1):
            break
        raw.seek(raw.tell() - 1)
        memo: dict[Any, Any] = {}
        recent: list[Any] = []  # values pushed lately (strings matter for STACK_GLOBAL)
        try:
            for op, arg, pos in pickletools.genops(stream):
                ops += 1
                if ops > MAX_OPS:
                    return found, protocol, f"stopped after {MAX_OPS} opcodes (scan incomplete)", stream.tell()
                name = op.name
                if name == "PROTO" and protocol is None:
                    protocol = int(arg)
                if name in ("GLOBAL", "INST"):
                    mod, _, attr = str(arg).partition(" ")
                    _add(found, f"{mod}.{attr}")
                    recent.append(None)
                elif name == "STACK_GLOBAL":
                    mod, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                    if isinstance(mod, str) and isinstance(attr, str):
                        _add(found, f"{mod}.{attr}")
                    else:
                        _add(found, "<unresolved STACK_GLOBAL>")
                    recent.append(None)
                elif name in _STRING_OPS:
                    recent.append(arg if isinstance(arg, str) else arg.decode("latin-1") if isinstance(arg, bytes) else None)
                elif name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                    if len(memo) >= MAX_MEMO:
                        return found, protocol, f"stopped after {MAX_MEMO} memo entries (scan incomplete)", stream.tell()
                    v = recent[-1] if recent else None
                    memo[len(memo) if name == "MEMOIZE" else arg] = v if isinstance(v, str) else None
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    recent.append(memo.get(arg))
                elif name != "STOP" and op.stack_after:
                    recent.append(None)
                if len(recent) > 64:
                    del recent[:-8]
                if len(found) > MAX_GLOBALS:
                    return found, protocol, f"more than {MAX_GLOBALS} distinct globals", stream.tell()
        except Exception as e:  # genops raises ValueError/KeyError/UnicodeError/struct.error on bad input
            problem = f"pickle stream malformed near byte {stream.tell()} ({type(e).__name__})"
            break
    return found, protocol, problem, stream.tell()


def _add(found: Counter[str], name: str) -> None:
    found[show(name, 200)] += 1


def zip_member_bound(f: Any, size: int) -> int | None:
    """Members a zip can hold, from its end-of-central-directory record (zip64 too), read before
    ``zipfile`` builds a ZipInfo per entry (2M entries took 932 MB). The larger of the declared
    count and what the central directory's size can hold: zipfile reads entries until that size
    is consumed, whatever the count says. An entry is 46 bytes plus its name; 64 bytes per entry
    (torch's ``archive/data/123`` names) keeps the estimate within 1.4x of the worst case (empty
    names). None when no record is found (then zipfile reports the file as corrupt)."""
    tail_len = min(size, 65536 + 22)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        return None
    total, cd_size = struct.unpack("<H", tail[i + 10:i + 12])[0], struct.unpack("<I", tail[i + 12:i + 16])[0]
    if (total == 0xFFFF or cd_size == 0xFFFFFFFF) and i >= 20 and tail[i - 20:i - 16] == b"PK\x06\x07":
        (z64_off,) = struct.unpack("<Q", tail[i - 12:i - 4])
        if z64_off + 56 <= size:
            f.seek(z64_off)
            rec = f.read(56)
            if rec[:4] == b"PK\x06\x06":
                total, cd_size = struct.unpack("<Q", rec[32:40])[0], struct.unpack("<Q", rec[40:48])[0]
    return max(total, cd_size // 64)


def _read_zip(path: Path) -> tuple[bytes, dict[str, Any]]:
    try:
        with open_regular(path) as f:
            bound = zip_member_bound(f, os.fstat(f.fileno()).st_size)
    except OSError as e:
        raise BadModelFile(path, f"cannot read: {e.strerror or e}") from None
    if bound is not None and bound > MAX_ZIP_MEMBERS:
        raise BadModelFile(path, f"zip container has room for about {bound} members (limit {MAX_ZIP_MEMBERS})")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise BadModelFile(path, f"zip container is corrupt ({type(e).__name__})") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise BadModelFile(path, f"zip container has {len(infos)} members (limit {MAX_ZIP_MEMBERS})")
        pkl = [i for i in infos if i.filename.endswith("data.pkl")]
        if not pkl:
            raise BadModelFile(path, "zip file without data.pkl: not a PyTorch checkpoint")
        info = pkl[0]
        if info.file_size > MAX_PICKLE_BYTES:
            raise BadModelFile(path, f"data.pkl is {info.file_size} bytes (limit {MAX_PICKLE_BYTES})")
        prefix = info.filename[: -len("data.pkl")]
        storages = [i for i in infos if i.filename.startswith(prefix + "data/")]
        try:
            with z.open(info) as f:
                data = f.read(MAX_PICKLE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
            raise BadModelFile(path, f"cannot read data.pkl ({type(e).__name__})") from None
        if len(data) > MAX_PICKLE_BYTES:
            raise BadModelFile(path, f"data.pkl inflates past {MAX_PICKLE_BYTES} bytes")
        facts = {"format": "torch-zip", "archive_name": show(prefix.rstrip("/"), 100), "n_storages": len(storages),
                 "storage_bytes": sum(i.file_size for i in storages)}
        return data, facts


def describe_pickle(path: str | Path) -> ModelDescription:
    """Identify a PyTorch pickle checkpoint and list the globals it would import, without loading it."""
    p = Path(path)
    try:
        with open_regular(p) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4)
    except OSError as e:
        raise BadModelFile(p, f"cannot read: {e.strerror or e}") from None
    if head.startswith(b"PK\x03\x04"):
        data, facts = _read_zip(p)
        globals_, protocol, problem, _ = scan_pickle(data, 1)
    else:
        # Raw pickles: the legacy torch format (several pickles, then storages) starts with PROTO 2;
        # protocol 0/1 pickles have no header - torch never writes them, but a crafted file may.
        legacy = head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5
        try:
            with open_regular(p) as f:
                globals_, protocol, problem, used = scan_pickle(f, LEGACY_PICKLES if legacy else 1, MAX_PICKLE_BYTES)
        except OSError as e:
            raise BadModelFile(p, f"cannot read: {e.strerror or e}") from None
        # A stream that imports something is a pickle whatever else is wrong with it: a protocol-0
        # text pickle calling os.system must be reported as dangerous, not as "not a pickle".
        if not legacy and (size == 0 or (problem and not globals_)):
            raise BadModelFile(p, "not a PyTorch checkpoint (neither a torch zip container nor a pickle stream)")
        facts = {"format": "pickle", "pickle_bytes": used}
        protocol = protocol if protocol is not None else 0

    listed = [{"name": g, "verdict": classify_global(g), "count": n} for g, n in sorted(globals_.items())]
    dangerous = [g["name"] for g in listed if g["verdict"] == "dangerous"]
    unknown = [g["name"] for g in listed if g["verdict"] == "unknown"]
    warnings = ["PyTorch pickle: loading it (torch.load without weights_only=True) can execute arbitrary code; "
                "use the safetensors or GGUF version of this model"]
    if dangerous:
        warnings.append(f"DANGEROUS: the pickle imports {', '.join(dangerous[:10])} - do not load this file")
    if unknown:
        warnings.append(f"the pickle imports globals outside the usual torch/numpy set: {', '.join(unknown[:10])}")
    if problem:
        warnings.append(problem)

    arch = None
    cfg_path = p.parent / "config.json"
    if cfg_path.is_file():
        try:
            from .hf_config import architecture_from_hf_config

            arch = architecture_from_hf_config(read_json_file(cfg_path))
        except SizeupError as e:
            warnings.append(f"config.json beside the checkpoint ignored: {e}")
    lic = card_license(p.parent / "README.md") if (p.parent / "README.md").is_file() else None
    facts.update(protocol=protocol, globals=listed, n_dangerous=len(dangerous), n_unknown=len(unknown))
    return ModelDescription(
        name=p.stem, source="pytorch-pickle", path=str(p), files=[str(p)], file_size=size, arch=arch, params=None,
        quant=None, tokenizer=None, license=classify_license(lic), runtimes=runtimes_for("pytorch-pickle", None),
        warnings=warnings, extra=facts,
    )
