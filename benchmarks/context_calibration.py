"""Measure bytes per token of real tokenizers on code and prose; prints the table that
``src/sizeup/data/token_ratios.py`` stores.

Corpora: the CPython standard library's own ``.py`` sources (code) and ``pydoc_data.topics``
(English prose), both shipped with Python, so the measurement needs no download. Tokenizers: the
two real test models' vocabularies, loaded by llama.cpp with ``vocab_only`` (no weights).

    python benchmarks/context_calibration.py
"""

from __future__ import annotations

import sysconfig
import time
from pathlib import Path

from sizeup.context_size import LlamaTokenizer
from sizeup.testmodels import fetch


def code_corpus(limit_bytes: int = 4_000_000) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out, total = [], 0
    for p in sorted(root.glob("*.py")):
        t = p.read_text("utf-8", "replace")
        out.append(t)
        total += len(t.encode())
        if total > limit_bytes:
            break
    return out


def prose_corpus() -> list[str]:
    from pydoc_data.topics import topics

    return [topics[k] for k in sorted(topics)]


def main() -> None:
    corpora = {"code": code_corpus(), "prose": prose_corpus()}
    print(f"{'tokenizer':<34} {'kind':<6} {'MB':>6} {'tokens':>10} {'bytes/token':>12} {'time s':>7}")
    for key in ("smollm2", "gemma3"):
        path = fetch(key)
        tok = LlamaTokenizer(path)
        for kind, texts in corpora.items():
            t0 = time.perf_counter()
            n_bytes = sum(len(t.encode()) for t in texts)
            n_tok = sum(tok(t) for t in texts)
            print(f"{path.name:<34} {kind:<6} {n_bytes / 1e6:>6.2f} {n_tok:>10} {n_bytes / n_tok:>12.3f} {time.perf_counter() - t0:>7.1f}")


if __name__ == "__main__":
    main()
