"""One quality run: perplexity of a model, and with a reference its KL divergence and friends.

Flow (each step a module of its own): corpus text -> tokens (the reference's tokenizer, or the
model's) -> reference log-probs (from the cache, or computed once and saved) -> the model's
log-probs on the same token stream -> per-token arrays -> :mod:`.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SizeupError
from . import metrics, reference
from .corpus import Corpus
from .logits import ChunkEvaluator, LlamaModel, scored_per_chunk

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class QualityResult:
    model: str
    reference: str | None
    corpus: str
    n_ctx: int
    n_chunks: int
    n_tokens_scored: int
    ppl: metrics.Perplexity
    kl: metrics.KLStats | None = None
    reference_cached: bool = False
    reference_file: str | None = None
    reference_file_bytes: int = 0
    seconds_model: float = 0.0  # wall time of the model's own evaluation (excludes the reference)
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        """Evaluated (not just scored) tokens per second of the model's pass, llama-perplexity's unit."""
        return self.n_chunks * self.n_ctx / self.seconds_model if self.seconds_model > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = {k: v for k, v in self.__dict__.items() if k not in ("ppl", "kl")}
        d["ppl"] = asdict(self.ppl)
        d["kl"] = self.kl.to_dict() if self.kl else None
        d["tokens_per_s"] = self.tokens_per_s
        return d


def check_same_vocab(model_path: str, ref_path: str) -> tuple[int, str]:
    """Refuse two models whose vocabularies differ (size or token list); returns (n_vocab, hash)."""
    with LlamaModel(model_path, vocab_only=True) as m, LlamaModel(ref_path, vocab_only=True) as r:
        if m.n_vocab != r.n_vocab:
            raise SizeupError(f"vocabularies differ: {Path(model_path).name} has {m.n_vocab:,} tokens, "
                              f"reference {Path(ref_path).name} has {r.n_vocab:,}; KL divergence needs the same tokenizer")
        hm, hr = m.vocab_hash(), r.vocab_hash()
        if hm != hr:
            raise SizeupError(f"vocabularies differ: same size ({m.n_vocab:,}) but different token lists "
                              f"({Path(model_path).name} vs {Path(ref_path).name}); KL divergence needs the same tokenizer")
        return m.n_vocab, hm


def _chunks_for(n_tokens: int, n_ctx: int, chunks: int | None, corpus: Corpus) -> int:
    if n_tokens < 2 * n_ctx:
        raise SizeupError(f"corpus '{corpus.name}' is {n_tokens:,} tokens; perplexity with --ctx {n_ctx} "
                          f"needs at least {2 * n_ctx:,} (a longer text or a smaller --ctx)")
    n_max = n_tokens // n_ctx
    if chunks is not None and chunks < 1:
        raise SizeupError("--chunks must be at least 1")
    return n_max if chunks is None else min(chunks, n_max)


def build_reference(ref_path: str, corpus: Corpus, n_ctx: int, chunks: int | None, *, k: int = reference.DEFAULT_K,
                    threads: int | None = None, cache_dir: Path | None = None, use_cache: bool = True,
                    progress: Progress | None = None) -> tuple[reference.Reference, bool]:
    """The reference's compact log-probs for this corpus/ctx/chunks: from cache, else computed and saved.

    Returns (reference, was_cached). The cache key covers the reference file's identity (path,
    size, mtime), the corpus text's sha256, ctx, chunks and k.
    """
    cache_dir = cache_dir or reference.default_cache_dir()
    ident = reference.file_identity(ref_path)
    key = reference.cache_key(ident, corpus.sha256, n_ctx, -1 if chunks is None else chunks, k)
    path = cache_dir / f"{key}.szref"
    if use_cache and path.is_file():
        try:
            return reference.load(path), True
        except SizeupError:
            pass  # broken cache entry: recompute and overwrite
    with LlamaModel(ref_path) as m:
        tokens = m.tokenize(corpus.text)
        n_chunks = _chunks_for(tokens.size, n_ctx, chunks, corpus)
        tokens = tokens[: n_chunks * n_ctx]
        parts: list[tuple[np.ndarray, ...]] = []
        nll: list[np.ndarray] = []
        with ChunkEvaluator(m, n_ctx, threads=threads) as ev:
            cb = (lambda d, t: progress("reference", d, t)) if progress else None
            for ch in ev.run(tokens, n_chunks, cb):
                parts.append(reference.compress_logp(ch.logp, ch.targets, k))
                nll.append(-ch.logp[np.arange(ch.targets.size), ch.targets])
        ppl = metrics.perplexity(np.concatenate(nll))
        meta = {"n_vocab": m.n_vocab, "vocab_hash": m.vocab_hash(), "k": max(1, min(k, m.n_vocab - 1)),
                "n_samples": reference.DEFAULT_SAMPLES, "n_ctx": n_ctx,
                "n_chunks": n_chunks, "add_bos": m.add_bos, "ref": ident, "corpus": corpus.name,
                "corpus_sha256": corpus.sha256, "ppl": ppl.ppl, "ppl_err": ppl.ppl_err}
    ref = reference.Reference(
        meta=meta, tokens=tokens.astype(np.int32),
        ids=np.concatenate([p[0] for p in parts]), logp=np.concatenate([p[1] for p in parts]),
        tail=np.concatenate([p[2] for p in parts]), target=np.concatenate([p[3] for p in parts]),
        sids=np.concatenate([p[4] for p in parts]), slogp=np.concatenate([p[5] for p in parts]))
    if use_cache:
        reference.save(ref, path)
    return ref, False


def score_against(model_path: str, ref: reference.Reference, *, threads: int | None = None,
                  progress: Progress | None = None) -> tuple[metrics.KLStats, np.ndarray, float]:
    """Evaluate a model on the reference's tokens; returns (stats, per-token KLD, seconds)."""
    n_ctx, n_chunks = ref.meta["n_ctx"], ref.meta["n_chunks"]
    n_sc = scored_per_chunk(n_ctx)
    nll, kld, p_diff, same = [], [], [], []
    with LlamaModel(model_path) as m:
        if m.n_vocab != ref.meta["n_vocab"] or m.vocab_hash() != ref.meta["vocab_hash"]:
            raise SizeupError(f"{Path(model_path).name}: its vocabulary differs from the reference's; "
                              "KL divergence needs the same tokenizer")
        with ChunkEvaluator(m, n_ctx, threads=threads) as ev:
            t0 = time.perf_counter()
            cb = (lambda d, t: progress("model", d, t)) if progress else None
            for ch in ev.run(ref.tokens, n_chunks, cb):
                sl = slice(ch.index * n_sc, (ch.index + 1) * n_sc)
                lq = ch.logp
                rows = np.arange(ch.targets.size)
                n_q = -lq[rows, ch.targets].astype(np.float64)
                nll.append(n_q)
                kld.append(metrics.kld_compact(ref.ids[sl], ref.logp[sl], ref.tail[sl], ref.sids[sl], ref.slogp[sl], lq))
                p_diff.append(np.exp(-n_q) - np.exp(ref.target[sl].astype(np.float64)))
                same.append(lq.argmax(axis=1) == ref.ids[sl, 0])
            seconds = time.perf_counter() - t0
    nll_a = np.concatenate(nll)
    kld_a = np.concatenate(kld)
    stats = metrics.kl_stats(nll_a, -ref.target.astype(np.float64), kld_a, np.concatenate(p_diff), np.concatenate(same))
    return stats, kld_a, seconds


def perplexity_only(model_path: str, corpus: Corpus, n_ctx: int, chunks: int | None, *, threads: int | None = None,
                    progress: Progress | None = None) -> tuple[metrics.Perplexity, int, float]:
    with LlamaModel(model_path) as m:
        tokens = m.tokenize(corpus.text)
        n_chunks = _chunks_for(tokens.size, n_ctx, chunks, corpus)
        nll = []
        with ChunkEvaluator(m, n_ctx, threads=threads) as ev:
            t0 = time.perf_counter()
            cb = (lambda d, t: progress("model", d, t)) if progress else None
            for ch in ev.run(tokens, n_chunks, cb):
                nll.append(-ch.logp[np.arange(ch.targets.size), ch.targets].astype(np.float64))
            seconds = time.perf_counter() - t0
    return metrics.perplexity(np.concatenate(nll)), n_chunks, seconds


def run_quality(model_path: str, corpus: Corpus, *, ref_path: str | None = None, n_ctx: int = 512,
                chunks: int | None = None, threads: int | None = None, k: int = reference.DEFAULT_K,
                cache_dir: Path | None = None, progress: Progress | None = None) -> QualityResult:
    """``sizeup quality``: perplexity of ``model_path``; with ``ref_path`` also the KLD statistics."""
    if ref_path is None:
        ppl, n_chunks, secs = perplexity_only(model_path, corpus, n_ctx, chunks, threads=threads, progress=progress)
        return QualityResult(str(model_path), None, corpus.name, n_ctx, n_chunks, ppl.n_tokens, ppl,
                             seconds_model=secs)
    check_same_vocab(model_path, ref_path)
    ref, cached = build_reference(ref_path, corpus, n_ctx, chunks, k=k, threads=threads, cache_dir=cache_dir,
                                  progress=progress)
    stats, _, secs = score_against(model_path, ref, threads=threads, progress=progress)
    ppl = metrics.Perplexity(stats.ppl, stats.ppl_err, float(np.log(stats.ppl)), stats.ppl_err / stats.ppl, stats.n_tokens)
    size = ref.path.stat().st_size if ref.path else ref.nbytes()
    return QualityResult(str(model_path), str(ref_path), corpus.name, n_ctx, ref.meta["n_chunks"], stats.n_tokens, ppl,
                         kl=stats, reference_cached=cached, reference_file=str(ref.path) if ref.path else None,
                         reference_file_bytes=size, seconds_model=secs)


# --- the same, in a child process (what the CLI and library callers should use) ------------------

def run_quality_job(model_path: str, corpus_spec: str, ref_path: str | None = None, n_ctx: int = 512,
                    chunks: int | None = None, threads: int | None = None,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Child-side entry point of :func:`run_quality_isolated` (JSON in, JSON out)."""
    from .corpus import load_corpus

    return run_quality(model_path, load_corpus(corpus_spec), ref_path=ref_path, n_ctx=n_ctx, chunks=chunks,
                       threads=threads, progress=progress).to_dict()


def result_from_dict(d: dict[str, Any]) -> QualityResult:
    from dataclasses import fields

    names = {f.name for f in fields(QualityResult)} - {"ppl", "kl"}
    kl = d.get("kl")
    return QualityResult(**{k: d[k] for k in names if k in d}, ppl=metrics.Perplexity(**d["ppl"]),
                         kl=metrics.KLStats(**kl) if kl else None)


def run_quality_isolated(model_path: str, corpus_spec: str, *, ref_path: str | None = None, n_ctx: int = 512,
                         chunks: int | None = None, threads: int | None = None,
                         progress: Progress | None = None, timeout: float = 6 * 3600.0) -> QualityResult:
    """:func:`run_quality` in a child process: a native crash of llama.cpp becomes a one-line
    :class:`~sizeup.errors.SizeupError` naming the probable cause instead of killing the caller."""
    from ..llamacpp.child import call_in_child

    d = call_in_child("sizeup.quality.evaluate:run_quality_job",
                      {"model_path": str(model_path), "corpus_spec": corpus_spec,
                       "ref_path": str(ref_path) if ref_path else None, "n_ctx": n_ctx, "chunks": chunks,
                       "threads": threads}, progress=progress, timeout=timeout)
    return result_from_dict(d)


def build_reference_job(ref_path: str, corpus_spec: str, n_ctx: int, chunks: int | None, k: int = reference.DEFAULT_K,
                        threads: int | None = None, cache_dir: str | None = None,
                        progress: Progress | None = None) -> dict[str, Any]:
    """Child-side entry point of :func:`build_reference_isolated`: builds (or finds) the cached file."""
    from .corpus import load_corpus

    cdir = Path(cache_dir) if cache_dir else reference.default_cache_dir()
    corpus = load_corpus(corpus_spec)
    ref, cached = build_reference(ref_path, corpus, n_ctx, chunks, k=k, threads=threads, cache_dir=cdir,
                                  progress=progress)
    ident = reference.file_identity(ref_path)
    key = reference.cache_key(ident, corpus.sha256, n_ctx, -1 if chunks is None else chunks, k)
    return {"path": str(cdir / f"{key}.szref"), "cached": cached}


def build_reference_isolated(ref_path: str, corpus_spec: str, n_ctx: int, chunks: int | None, *,
                             k: int = reference.DEFAULT_K, threads: int | None = None, cache_dir: Path | None = None,
                             progress: Progress | None = None,
                             timeout: float = 6 * 3600.0) -> tuple[reference.Reference, bool]:
    """:func:`build_reference` in a child process; the reference comes back through its cache file."""
    from ..llamacpp.child import call_in_child

    d = call_in_child("sizeup.quality.evaluate:build_reference_job",
                      {"ref_path": str(ref_path), "corpus_spec": corpus_spec, "n_ctx": n_ctx, "chunks": chunks, "k": k,
                       "threads": threads, "cache_dir": str(cache_dir) if cache_dir else None},
                      progress=progress, timeout=timeout)
    return reference.load(d["path"]), bool(d["cached"])
