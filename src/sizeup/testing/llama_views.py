"""Test oracles that need llama.cpp itself, run through :func:`sizeup.llamacpp.child.call_in_child`.

Tests compare sizeup's readings with what llama.cpp reports. Loading llama.cpp in the pytest
process would let one native crash (an AMX kernel, a bad build) kill the whole run without a
summary, so each oracle here is a plain function the test calls in a child process::

    view = call_in_child("sizeup.testing.llama_views:model_view", {"path": str(p)})

A crash then fails that one test with the signal, the probable cause and llama.cpp's last log line.
"""

from __future__ import annotations

from typing import Any


def model_view(path: str, n_ctx: int = 256) -> dict[str, Any]:
    """What llama.cpp reports after loading the model (metadata values come back as strings)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
    m = llm._model.model
    out = {
        "meta": dict(llm.metadata),
        "n_vocab": llm.n_vocab(),
        "n_params": int(llama_cpp.llama_model_n_params(m)),
        "size": int(llama_cpp.llama_model_size(m)),
        "n_layer": llama_cpp.llama_model_n_layer(m),
        "n_embd": llama_cpp.llama_model_n_embd(m),
        "n_head": llama_cpp.llama_model_n_head(m),
        "n_head_kv": llama_cpp.llama_model_n_head_kv(m),
        "n_swa": llama_cpp.llama_model_n_swa(m),
        "n_ctx_train": llama_cpp.llama_model_n_ctx_train(m),
        "recurrent": bool(llama_cpp.llama_model_is_recurrent(m)),
        "hybrid": bool(llama_cpp.llama_model_is_hybrid(m)),
    }
    llm.close()
    return out


def token_counts(path: str, texts: list[str], add_bos: bool = False, special: bool = False) -> list[int]:
    """Token counts of ``texts`` in the model's own tokenizer (vocabulary-only load)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    return [len(llm.tokenize(t.encode("utf-8"), add_bos=add_bos, special=special)) for t in texts]


def system_info() -> str:
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)


def exact_kld_mean(ref_model: str, q_model: str, reference_file: str, n_ctx: int, n_chunks: int,
                   threads: int = 2) -> float:
    """Mean full-vocabulary KLD of ``q_model`` against ``ref_model`` on a compact reference's tokens
    (both models' complete log-probs: the oracle for the compact reference's estimate)."""
    import numpy as np

    from ..quality import metrics, reference
    from ..quality.logits import ChunkEvaluator, LlamaModel

    ref = reference.load(reference_file)
    full = {}
    for name, path in (("ref", ref_model), ("q", q_model)):
        with LlamaModel(path) as m, ChunkEvaluator(m, n_ctx, threads=threads) as ev:
            full[name] = np.concatenate([c.logp for c in ev.run(ref.tokens, n_chunks)])
    return float(metrics.kld_exact(full["ref"], full["q"]).mean())


def crash_natively() -> None:
    """Die the way a broken llama.cpp kernel does (SIGSEGV after loading the library): for the tests
    of the crash path of :func:`sizeup.llamacpp.child.call_in_child`."""
    import ctypes

    import llama_cpp  # noqa: F401  (the library is loaded, as in a real crash)

    ctypes.string_at(0)  # reads address 0: a real segmentation fault, not a raised signal


def sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def eval_last_logits(path: str, prompt: str = "hello world") -> dict[str, Any]:
    """Load with llama.cpp, evaluate ``prompt``: n_params, the tokens and the last token's logits."""
    import llama_cpp

    # logits_all: llama-cpp-python copies logits into .scores only in that mode.
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False)
    try:
        tokens = llm.tokenize(prompt.encode("utf-8"))
        llm.eval(tokens)
        logits = [float(x) for x in llm.scores[len(tokens) - 1]]
        return {"n_params": int(llama_cpp.llama_model_n_params(llm._model.model)), "tokens": list(map(int, tokens)),
                "logits": logits}
    finally:
        llm.close()


def quantize_with_llama_cpp(src: str, dst: str, ftype_id: int, allow_requantize: bool = True,
                            nthread: int = 0) -> int:
    """``llama_model_quantize`` with its default params but ``ftype``: the oracle for quant mixes."""
    import ctypes

    import llama_cpp

    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = int(ftype_id)
    p.allow_requantize = bool(allow_requantize)
    p.nthread = int(nthread)
    return int(llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)))


def span_bits(models: list[str], pairs: list[list[str]]) -> dict[str, list[dict[str, Any]]]:
    """Bits of each ``(context, span)`` pair's span tokens, summed directly from llama-cpp-python's
    high-level ``Llama`` logits (log-softmax by hand): the independent oracle for ``sizeup try``'s
    bits per byte, a separate code path from sizeup's own scorer."""
    import math

    import numpy as np
    from llama_cpp import Llama

    out: dict[str, list[dict[str, Any]]] = {}
    for path in models:
        llm = Llama(model_path=path, n_ctx=256, n_batch=256, logits_all=True, verbose=False, n_threads=1)
        res = []
        for context, span in pairs:
            ctx = llm.tokenize(context.encode(), add_bos=True, special=False)
            sp = llm.tokenize(span.encode(), add_bos=False, special=False)
            llm.reset()
            llm.eval(ctx + sp)
            logits = np.array(llm.scores[: len(ctx) + len(sp)], dtype=np.float64)
            bits = 0.0
            for j, t in enumerate(sp):
                row = logits[len(ctx) + j - 1]
                m = row.max()
                lse = m + math.log(np.exp(row - m).sum())
                bits -= (row[t] - lse) / math.log(2)
            res.append({"bits": bits, "tokens": len(sp)})
        out[path] = res
        del llm
    return out
