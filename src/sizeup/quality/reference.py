"""Compact reference log-probabilities: what a quantized model is compared against, stored once.

llama-perplexity's ``--kl-divergence-base`` file keeps, per scored token, the whole vocabulary's
log-probabilities as uint16 (about 2 bytes x n_vocab: 98 kB per token for a 49k vocabulary,
524 kB for Gemma's 262k). sizeup keeps per scored token only what KL(ref || q), the PPL ratio,
delta-p and top-token agreement need:

* the reference's top-k token ids (uint16 when the vocabulary fits, else int32) and their
  log-probabilities (float16; k = 32), sorted, so id[0] is the reference's top token;
* the log of the probability mass outside the top-k (float32);
* S = 128 tail tokens drawn by systematic sampling in proportion to the reference's
  probability (ids + float16 log-probs), from which the tail's share of the KLD is estimated
  without bias (:func:`sizeup.quality.metrics.kld_compact` states the estimator);
* the log-probability of the true next token (float32), which may lie outside the top-k.

That is 32 x 4 + 128 x 4 + 8 = 648 bytes per token for SmolLM2, about 150x smaller than
llama.cpp's file. Why samples and not just "top-k + one tail bucket": small models spread their
probability thin (SmolLM2-135M leaves ~15% of the mass outside its top 32 tokens, still 1% outside
its top 2048), and collapsing the tail into one outcome - a lower bound by the log-sum
inequality - reads 24% low there; the sampled tail brings the mean within ~0.5%.
The tokens of the evaluated chunks are stored too, so a model is always scored on exactly the
reference's token stream.

File layout (little-endian): magic ``SZREFLP2``, uint32 header length, JSON header (at most
64 KiB), zero padding to a multiple of 8, then the arrays back to back in the order tokens
(int32), ids, logp (float16), tail (float32), target (float32), sample ids, sample log-probs
(float16). Reading validates the header's counts against hard limits and the file size against
the header *before* allocating, so a corrupted or hostile cache file yields one clear error
line, never a memory blow-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadModelFile, SizeupError

MAGIC = b"SZREFLP2"
FORMAT_VERSION = 2
MAX_HEADER = 64 * 1024
MAX_TOKENS = 20_000_000
MAX_K = 1024
MAX_VOCAB = 4_000_000
DEFAULT_K = 32
DEFAULT_SAMPLES = 128
MAX_SAMPLES = 4096


@dataclass
class Reference:
    meta: dict[str, Any]  # n_vocab, vocab_hash, k, n_ctx, n_chunks, add_bos, ref identity, ppl...
    tokens: np.ndarray  # (n_chunks * n_ctx,) int32
    ids: np.ndarray  # (N, k) uint16 or int32, sorted by descending probability
    logp: np.ndarray  # (N, k) float16
    tail: np.ndarray  # (N,) float32: log of the reference's probability mass outside the top-k
    target: np.ndarray  # (N,) float32: reference log-prob of the true next token
    sids: np.ndarray  # (N, S) tail sample ids (systematic sampling in proportion to p)
    slogp: np.ndarray  # (N, S) float16 reference log-probs of the samples
    path: Path | None = field(default=None, compare=False)

    @property
    def n_scored(self) -> int:
        return int(self.tail.size)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.tokens, self.ids, self.logp, self.tail, self.target,
                                             self.sids, self.slogp))


def compress_logp(logp: np.ndarray, targets: np.ndarray, k: int = DEFAULT_K, n_samples: int = DEFAULT_SAMPLES
                  ) -> tuple[np.ndarray, ...]:
    """Compact form of a (rows, vocab) log-softmax: see the module docstring.

    Returns (top ids, top log-probs, tail log-mass, target log-prob, sample ids, sample log-probs).
    Tail samples: systematic sampling over the tail's cumulative probability in token-id order at
    the midpoints (j + 0.5) / S, so each sample stands for 1/S of the tail mass and the result is
    deterministic.
    """
    rows, n_vocab = logp.shape
    k = max(1, min(k, n_vocab - 1))
    part = np.argpartition(-logp, k, axis=1)[:, :k]
    top_lp = np.take_along_axis(logp, part, axis=1)
    order = np.argsort(-top_lp, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    top_lp = np.take_along_axis(top_lp, order, axis=1)
    target = logp[np.arange(rows), targets].astype(np.float32)
    id_dtype = np.uint16 if n_vocab <= 65536 else np.int32
    p_tail = np.exp(logp.astype(np.float64))
    np.put_along_axis(p_tail, top, 0.0, axis=1)
    cum = np.cumsum(p_tail, axis=1)
    mass = cum[:, -1]
    tail = np.log(np.maximum(mass, 1e-38)).astype(np.float32)
    pos = (np.arange(n_samples) + 0.5) / n_samples
    sids = np.empty((rows, n_samples), dtype=np.int64)
    for r in range(rows):
        sids[r] = np.searchsorted(cum[r], pos * mass[r], side="right")
    np.minimum(sids, n_vocab - 1, out=sids)
    slp = np.take_along_axis(logp, sids, axis=1)
    return (top.astype(id_dtype), top_lp.astype(np.float16), tail, target, sids.astype(id_dtype), slp.astype(np.float16))


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Cheap identity of a model file: resolved path, size, mtime (ns)."""
    p = Path(path).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cache_key(ref_identity: dict[str, Any], corpus_sha256: str, n_ctx: int, n_chunks: int, k: int) -> str:
    blob = json.dumps({"v": FORMAT_VERSION, "ref": ref_identity, "corpus": corpus_sha256, "ctx": n_ctx,
                       "chunks": n_chunks, "k": k}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def default_cache_dir() -> Path:
    env = os.environ.get("SIZEUP_QUALITY_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "quality-refs"


def _layout(meta: dict[str, Any]) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    n_tok = meta["n_chunks"] * meta["n_ctx"]
    n = meta["n_scored"]
    k = meta["k"]
    id_dtype = np.dtype(np.uint16) if meta["n_vocab"] <= 65536 else np.dtype("<i4")
    return [("tokens", np.dtype("<i4"), (n_tok,)), ("ids", id_dtype.newbyteorder("<"), (n, k)),
            ("logp", np.dtype("<f2"), (n, k)), ("tail", np.dtype("<f4"), (n,)), ("target", np.dtype("<f4"), (n,)),
            ("sids", id_dtype.newbyteorder("<"), (n, meta["n_samples"])), ("slogp", np.dtype("<f2"), (n, meta["n_samples"]))]


def save(ref: Reference, path: str | os.PathLike[str]) -> Path:
    """Write atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(ref.meta, format=FORMAT_VERSION, n_scored=ref.n_scored)
    header = json.dumps(meta, sort_keys=True).encode()
    if len(header) > MAX_HEADER:
        raise SizeupError("reference header too large")
    head = MAGIC + struct.pack("<I", len(header)) + header
    head += b"\0" * (-len(head) % 8)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
            for name, dt, shape in _layout(meta):
                a = np.ascontiguousarray(getattr(ref, name), dtype=dt)
                if a.shape != shape:
                    raise SizeupError(f"reference array {name} has shape {a.shape}, expected {shape}")
                f.write(a.tobytes())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    ref.path = path
    return path


def _int(meta: dict[str, Any], key: str, lo: int, hi: int, path: Path) -> int:
    v = meta.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise BadModelFile(path, f"reference header field {key!r} is missing or out of range ({v!r})")
    return v


def load(path: str | os.PathLike[str]) -> Reference:
    """Read and validate a reference file (raises :class:`BadModelFile` with one line if broken)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if f.read(8) != MAGIC:
                raise BadModelFile(path, "not a sizeup reference log-prob file (bad magic)")
            (hlen,) = struct.unpack("<I", f.read(4))
            if hlen > MAX_HEADER:
                raise BadModelFile(path, f"reference header of {hlen} bytes exceeds {MAX_HEADER}")
            try:
                meta = json.loads(f.read(hlen).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise BadModelFile(path, f"reference header is not valid JSON: {e}") from e
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
                raise BadModelFile(path, "unsupported reference format version")
            n_ctx = _int(meta, "n_ctx", 16, 1 << 20, path)
            n_chunks = _int(meta, "n_chunks", 1, MAX_TOKENS, path)
            _int(meta, "n_vocab", 2, MAX_VOCAB, path)
            _int(meta, "k", 1, MAX_K, path)
            _int(meta, "n_samples", 0, MAX_SAMPLES, path)
            n_scored = _int(meta, "n_scored", 1, MAX_TOKENS, path)
            if n_ctx * n_chunks > MAX_TOKENS or n_scored != n_chunks * (n_ctx - 1 - n_ctx // 2):
                raise BadModelFile(path, "reference header counts are inconsistent")
            off = 12 + hlen
            off += -off % 8
            layout = _layout(meta)
            expected = off + sum(dt.itemsize * int(np.prod(shape)) for _, dt, shape in layout)
            if expected != size:
                raise BadModelFile(path, f"reference file is {size} bytes, its header says {expected} (truncated?)")
            f.seek(off)
            arrays = {}
            for name, dt, shape in layout:
                count = int(np.prod(shape))
                arrays[name] = np.fromfile(f, dtype=dt, count=count).reshape(shape)
    except OSError as e:
        raise SizeupError(f"{path}: cannot read reference: {e.strerror or e}") from e
    for name in ("ids", "sids"):
        a = arrays[name]
        if a.size and (int(a.max()) >= meta["n_vocab"] or int(a.min()) < 0):
            raise BadModelFile(path, "reference token ids outside the vocabulary")
    if arrays["tokens"].size and (int(arrays["tokens"].max()) >= meta["n_vocab"] or int(arrays["tokens"].min()) < 0):
        raise BadModelFile(path, "reference corpus tokens outside the vocabulary")
    return Reference(meta=meta, path=path, **arrays)


def llama_cpp_base_file_bytes(n_vocab: int, n_ctx: int, n_chunks: int) -> int:
    """Size of llama-perplexity's ``--kl-divergence-base`` file for the same run.

    Source: perplexity.cpp writes "_logits_", n_ctx, n_vocab, n_chunk (4 bytes each), the tokens
    (int32), then per scored token ``nv = 2*((n_vocab+1)/2) + 4`` uint16 values.
    """
    nv = 2 * ((n_vocab + 1) // 2) + 4
    return 8 + 12 + 4 * n_ctx * n_chunks + 2 * nv * n_chunks * (n_ctx - 1 - n_ctx // 2)
