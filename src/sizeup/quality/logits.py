"""Run llama.cpp over a token stream the way ``llama-perplexity`` does, yielding log-probabilities.

Why a copy of llama-perplexity's loop rather than calling the tool: it gives sizeup the per-token
log-probabilities in memory (to store a compact reference and to compute KLD against it), needs no
separately built binary, and lets the numbers match llama.cpp's because the evaluation protocol is
the same (source: ``tools/perplexity/perplexity.cpp``, ``perplexity()`` and ``kl_divergence()``):

* the corpus is tokenized once with ``add_special = true`` (BOS prepended when the vocabulary
  says so), then cut into non-overlapping chunks of ``n_ctx`` tokens;
* each chunk is evaluated from an empty KV cache; when the model adds BOS, the chunk's first
  token is *replaced* by BOS (not shifted);
* only the second half is scored: positions ``n_ctx/2 .. n_ctx-2`` predict tokens
  ``n_ctx/2+1 .. n_ctx-1``, i.e. ``n_ctx - 1 - n_ctx/2`` tokens per chunk, so every prediction
  has at least half a window of context;
* several chunks share one batch as separate sequences when they fit (llama-perplexity's
  ``n_seq = n_batch / n_ctx``), which keeps matrix multiplies large.

Only the scored positions request logits, and logits are read straight out of llama.cpp's output
buffer into numpy (no per-token Python work).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import SizeupError

MAX_CORPUS_TOKENS = 20_000_000  # 80 MB of int32; a corpus beyond this is a mistake, not an eval
MAX_BATCH_TOKENS = 2048  # llama-perplexity's default n_batch
LOGITS_BUDGET_BYTES = 256 * 1024 * 1024  # float32 logits held per batch of chunks
MAX_LOG_CHARS = 1 << 20

_log: list = []  # the process-wide LogCapture (llama.cpp's logger is global), installed once


def _install_quiet_log(L) -> None:
    """Route llama.cpp's log into a bounded capture of its errors (stderr stays ours)."""
    if _log:
        return
    from ..llamacpp.native import LOG_ERROR, LogCapture

    _log.append(LogCapture(L, LOG_ERROR, MAX_LOG_CHARS))
    L.llama_backend_init()


def _last_error() -> str:
    return _log[0].last_error() if _log else ""


def _import_llama():
    try:
        import llama_cpp
    except ImportError as e:  # pragma: no cover - depends on the install
        raise SizeupError("quality measurements need llama-cpp-python: sizeup engine install") from e
    _install_quiet_log(llama_cpp)
    return llama_cpp


@dataclass(frozen=True)
class ChunkLogits:
    """One evaluated chunk: the true next tokens and the model's log-softmax at each scored position."""

    index: int
    targets: np.ndarray  # (n_scored,) int32
    logp: np.ndarray  # (n_scored, n_vocab) float32, log-softmax


def scored_per_chunk(n_ctx: int) -> int:
    """Tokens llama-perplexity scores per chunk: ``n_ctx - 1 - n_ctx/2``."""
    return n_ctx - 1 - n_ctx // 2


class LlamaModel:
    """A GGUF model loaded through llama-cpp-python's low-level API (vocabulary only, or weights too)."""

    def __init__(self, path: str | os.PathLike[str], *, vocab_only: bool = False) -> None:
        L = self.L = _import_llama()
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise SizeupError(f"{self.path}: no such file")
        mp = L.llama_model_default_params()
        mp.vocab_only = vocab_only
        self.model = L.llama_model_load_from_file(self.path.encode(), mp)
        if not self.model:
            raise SizeupError(f"{self.path}: llama.cpp could not load it ({_last_error() or 'unknown reason'})")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = int(L.llama_vocab_n_tokens(self.vocab))
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(L.llama_vocab_bos(self.vocab))
        if L.llama_vocab_get_add_eos(self.vocab):
            # llama-perplexity asserts the same: an appended EOS would be scored as corpus text.
            raise SizeupError(f"{self.path}: its tokenizer appends EOS to every text; perplexity is not defined for it")

    def vocab_hash(self) -> str:
        """sha256 over every token's text (NUL-separated): equal hashes = same token list."""
        h = hashlib.sha256()
        get = self.L.llama_vocab_get_text
        for i in range(self.n_vocab):
            h.update(get(self.vocab, i) or b"")
            h.update(b"\0")
        return h.hexdigest()

    def tokenize(self, text: str) -> np.ndarray:
        """Tokens of ``text`` as llama-perplexity gets them (``add_special=true``, no special parsing)."""
        data = text.encode("utf-8")
        n_max = len(data) + 8
        if n_max > MAX_CORPUS_TOKENS:
            raise SizeupError(f"corpus is too large to evaluate ({len(data):,} bytes; limit {MAX_CORPUS_TOKENS:,})")
        buf = (self.L.llama_token * n_max)()
        n = self.L.llama_tokenize(self.vocab, data, len(data), buf, n_max, True, False)
        if n < 0:
            raise SizeupError(f"{self.path}: tokenizer needs {-n} tokens for the corpus (buffer {n_max})")
        return np.ctypeslib.as_array(buf)[:n].astype(np.int32, copy=True)

    def close(self) -> None:
        if getattr(self, "model", None):
            self.L.llama_model_free(self.model)
            self.model = None

    def __enter__(self) -> LlamaModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def seqs_per_batch(n_ctx: int, n_vocab: int) -> int:
    """Chunks evaluated together: llama-perplexity's n_batch / n_ctx, bounded by a logits budget."""
    by_batch = max(1, MAX_BATCH_TOKENS // n_ctx)
    by_mem = max(1, LOGITS_BUDGET_BYTES // max(1, scored_per_chunk(n_ctx) * n_vocab * 4))
    return max(1, min(by_batch, by_mem))


class ChunkEvaluator:
    """A context on a loaded model that evaluates corpus chunks and returns scored log-probs."""

    def __init__(self, model: LlamaModel, n_ctx: int, *, threads: int | None = None) -> None:
        if n_ctx < 16:
            raise SizeupError(f"--ctx {n_ctx} is too small (minimum 16)")
        L = self.L = model.L
        self.m = model
        self.n_ctx = n_ctx
        self.n_seq = seqs_per_batch(n_ctx, model.n_vocab)
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx * self.n_seq
        cp.n_batch = n_ctx * self.n_seq
        cp.n_ubatch = min(512, cp.n_batch)
        cp.n_seq_max = self.n_seq
        if threads:
            cp.n_threads = cp.n_threads_batch = int(threads)
        self.ctx = L.llama_init_from_model(model.model, cp)
        if not self.ctx:
            raise SizeupError(f"{model.path}: llama.cpp could not create a context of {n_ctx} tokens "
                              f"({_last_error() or 'unknown reason'})")
        self.batch = L.llama_batch_init(cp.n_batch, 0, self.n_seq)

    def close(self) -> None:
        if getattr(self, "ctx", None):
            self.L.llama_batch_free(self.batch)
            self.L.llama_free(self.ctx)
            self.ctx = None

    def __enter__(self) -> ChunkEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, tokens: np.ndarray, n_chunks: int,
            progress: Callable[[int, int], None] | None = None) -> Iterator[ChunkLogits]:
        """Evaluate chunks ``0..n_chunks-1`` of ``tokens``; yields one :class:`ChunkLogits` each."""
        L, n_ctx = self.L, self.n_ctx
        first = n_ctx // 2
        n_scored = scored_per_chunk(n_ctx)
        n_vocab = self.m.n_vocab
        if n_chunks * n_ctx > tokens.size:
            raise SizeupError(f"{n_chunks} chunks of {n_ctx} need {n_chunks * n_ctx} tokens; the corpus has {tokens.size}")
        b = self.batch
        mem = L.llama_get_memory(self.ctx)
        done = 0
        for i in range(0, n_chunks, self.n_seq):
            n_seq_batch = min(self.n_seq, n_chunks - i)
            L.llama_memory_clear(mem, True)
            n = 0
            for s in range(n_seq_batch):
                chunk = tokens[(i + s) * n_ctx:(i + s + 1) * n_ctx].tolist()
                if self.m.add_bos:
                    chunk[0] = self.m.bos
                for pos, tok in enumerate(chunk):
                    b.token[n] = tok
                    b.pos[n] = pos
                    b.n_seq_id[n] = 1
                    b.seq_id[n][0] = s
                    # llama-perplexity asks for pos >= first; the last position predicts nothing scored.
                    b.logits[n] = 1 if first <= pos < n_ctx - 1 else 0
                    n += 1
            b.n_tokens = n
            rc = L.llama_decode(self.ctx, b)
            if rc != 0:
                raise SizeupError(f"{self.m.path}: llama_decode failed with code {rc} ({_last_error() or 'no log'})")
            ptr = L.llama_get_logits(self.ctx)
            raw = np.ctypeslib.as_array(ptr, shape=(n_seq_batch * n_scored, n_vocab))
            from .metrics import log_softmax

            for s in range(n_seq_batch):
                c = i + s
                rows = raw[s * n_scored:(s + 1) * n_scored]
                targets = tokens[c * n_ctx + first + 1:(c + 1) * n_ctx].astype(np.int32)
                yield ChunkLogits(c, targets, log_softmax(rows))
                done += 1
                if progress:
                    progress(done, n_chunks)
