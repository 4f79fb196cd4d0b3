"""Hand-built :class:`~sizeup.model.Architecture` values for tests and benchmarks.

Writing the per-layer tuples out by hand is noisy; :func:`dense` builds the common case (every
layer the same) from the handful of numbers a config.json or GGUF header gives.
"""

from __future__ import annotations

from ..model import Architecture


def dense(name: str, L: int, E: int, H: int, KV: int, hd: int, ff: int, V: int, tie: bool, **kw) -> Architecture:
    """``L`` identical layers: width ``E``, ``H`` heads and ``KV`` KV heads of size ``hd``, FFN ``ff``,
    vocabulary ``V``, tied embeddings when ``tie``; other Architecture fields via ``kw``."""
    P = Architecture.per_layer
    return Architecture(name=name, n_layer=L, n_embd=E, n_head=P(H, L), n_head_kv=P(KV, L), head_dim_k=hd,
                        head_dim_v=hd, n_ff=P(ff, L), n_vocab=V, n_ctx_train=4096, tie_embeddings=tie, **kw)


def catalog_architectures() -> list[Architecture]:
    """Every distinct architecture of the built-in catalog, in catalog order (the widest real
    sample of shapes sizeup has: dense, MoE, hybrid, MLA, MTP, per-layer heads)."""
    from ..catalog import describe_entry, load_catalog

    seen: dict[Architecture, None] = {}
    for e in load_catalog():
        seen.setdefault(describe_entry(e).arch, None)
    return list(seen)
