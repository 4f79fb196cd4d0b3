"""The child side of ``sizeup try``: one candidate, one process, every measurement on one load.

Runs only inside a child process (:func:`sizeup.llamacpp.child.call_in_child` with target
``sizeup.experiment.measure:measure_candidate``): llama.cpp is native code and a crash, an OOM
kill or a timeout must cost this candidate's row only. In order:

1. load the model and create the context (:class:`sizeup.bench.worker.Bench`: the same load, the
   same timers as ``sizeup bench``);
2. speed as ``sizeup bench`` measures it (llama-bench's pp / tg protocol on pseudo-random
   tokens, one warm-up, ``reps`` repetitions), then the peak RSS (and VRAM) - read here, before
   scoring, so the figure is the model's footprint while it serves a prompt, the one sizeup
   estimates;
3. time to first token on a realistic prompt (corpus text): prompt decode + the first generated
   token, ``reps`` times from an empty cache;
4. bits per byte over the given spans (:mod:`.bpb`);
5. greedy completions of the function-completion tasks with the stop rule
   (:func:`sizeup.experiment.tasks.truncate_completion`). The completions are returned as text:
   they are *run* by the parent, in the sandbox, never here.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

MAX_COMPLETION_CHARS = 8000


class Scorer:
    """Token-level log-probabilities and greedy decoding on a loaded :class:`Bench` model."""

    OUT_ROWS = 32  # logits rows requested per decode: bounds llama.cpp's output buffer (rows x n_vocab)

    def __init__(self, b: Any) -> None:
        self.b = b
        self.L = b.L
        L = self.L
        self.vocab = L.llama_model_get_vocab(b.model)
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(L.llama_vocab_bos(self.vocab))
        self.n_ctx = int(L.llama_n_ctx(b.ctx))
        self.n_batch = b.n_batch
        self.batch = L.llama_batch_init(max(self.n_batch, 1), 0, 1)

    def close(self) -> None:
        if self.batch is not None:
            self.L.llama_batch_free(self.batch)
            self.batch = None

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        L = self.L
        data = text.encode("utf-8")
        n_max = len(data) + 16
        buf = (L.llama_token * n_max)()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, n_max, add_special, False)
        if n < 0:
            raise RuntimeError(f"tokenizer needs {-n} tokens (buffer {n_max})")
        return list(buf[:n])

    def piece(self, tok: int) -> bytes:
        """The bytes of one token as llama.cpp detokenizes it (special tokens render as empty)."""
        import ctypes

        L = self.L
        size = 256
        for _ in range(2):
            buf = (ctypes.c_char * size)()
            n = L.llama_token_to_piece(self.vocab, tok, buf, size, 0, False)
            if n >= 0:
                return bytes(buf[:n])
            size = -n
        return b""

    def _decode(self, toks: list[int], pos0: int, want: list[bool]) -> None:
        L, b = self.L, self.batch
        for i, t in enumerate(toks):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if want[i] else 0
        b.n_tokens = len(toks)
        rc = L.llama_decode(self.b.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}" + (" (context too small)" if rc == 1 else ""))

    def _row(self, i: int):
        import numpy as np

        ptr = self.L.llama_get_logits_ith(self.b.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.b.n_vocab,))

    @staticmethod
    def _logp(row, target: int) -> float:
        import numpy as np

        r = row.astype(np.float64)
        m = r.max()
        return float(r[target] - m - math.log(np.exp(r - m).sum()))

    def feed(self, toks: list[int], pos0: int) -> None:
        """Decode ``toks`` from position ``pos0`` with logits for the last token only."""
        step = self.n_batch
        for s in range(0, len(toks), step):
            part = toks[s:s + step]
            want = [False] * len(part)
            if s + step >= len(toks):
                want[-1] = True
            self._decode(part, pos0 + s, want)

    def span_logprob(self, context: str, span: str) -> dict[str, Any]:
        """Sum of log2 p over the span's tokens given the context: the BOS (when the model adds
        one) and the context's tokens come first; the span is tokenized on its own, so every
        model scores exactly the span's bytes."""
        ctx_t = self.tokenize(context, True) if context else ([self.bos] if self.add_bos else [])
        span_t = self.tokenize(span, False)
        if not ctx_t:
            raise RuntimeError("a span needs a context (or a BOS token) to be predicted from")
        if not span_t:
            return {"bits": 0.0, "tokens": 0, "roundtrip": span == ""}
        total = len(ctx_t) + len(span_t)
        if total > self.n_ctx:  # keep the end of the context: the span always fits whole
            keep = self.n_ctx - len(span_t)
            if keep < 1:
                raise RuntimeError(f"a span of {len(span_t)} tokens does not fit the {self.n_ctx}-token context")
            ctx_t = ([self.bos] if self.add_bos else []) + ctx_t[len(ctx_t) - keep + (1 if self.add_bos else 0):]
        self.L.llama_memory_clear(self.b.mem, True)
        self.feed(ctx_t, 0)
        ln2 = math.log(2.0)
        bits = -self._logp(self._row(-1), span_t[0]) / ln2
        pos = len(ctx_t)
        # span tokens t[0..n-2] each predict the next one; feed them in slices of OUT_ROWS outputs
        rest = span_t[:-1]
        for s in range(0, len(rest), self.OUT_ROWS):
            part = rest[s:s + self.OUT_ROWS]
            self._decode(part, pos + s, [True] * len(part))
            for j in range(len(part)):
                bits -= self._logp(self._row(j), span_t[s + j + 1]) / ln2
        roundtrip = b"".join(self.piece(t) for t in span_t) == span.encode("utf-8")
        return {"bits": bits, "tokens": len(span_t), "roundtrip": roundtrip}

    def greedy(self, prompt: str, max_new: int, deadline: float) -> dict[str, Any]:
        """Greedy continuation of ``prompt`` until the stop rule, an end-of-generation token,
        ``max_new`` tokens or the deadline."""
        from .tasks import truncate_completion

        L = self.L
        # The prompt's final newline is left for the model to write: tokenizers merge "\n" with the
        # next line's indentation, so a prompt cut after "\n" would force an unnatural token split.
        fed = prompt[:-1] if prompt.endswith("\n") else prompt
        strip = len(prompt) - len(fed)
        toks = self.tokenize(fed, True)
        if len(toks) + max_new > self.n_ctx:
            max_new = max(0, self.n_ctx - len(toks))
        self.L.llama_memory_clear(self.b.mem, True)
        self.feed(toks, 0)
        pos = len(toks)
        out = b""
        n = 0
        stopped = "max_tokens"
        while n < max_new:
            row = self._row(-1)
            tok = int(row.argmax())
            if L.llama_vocab_is_eog(self.vocab, tok):
                stopped = "eos"
                break
            out += self.piece(tok)
            n += 1
            text = self._body(out, strip)
            if "\n" in text:
                kept, hit = truncate_completion(text)
                if hit:
                    return {"text": kept[:MAX_COMPLETION_CHARS], "n_tokens": n, "stopped": "stop_rule"}
            if len(out) > MAX_COMPLETION_CHARS:
                stopped = "too_long"
                break
            if time.monotonic() > deadline:
                stopped = "deadline"
                break
            self._decode([tok], pos, [True])
            pos += 1
        text = truncate_completion(self._body(out, strip))[0]
        return {"text": text[:MAX_COMPLETION_CHARS], "n_tokens": n, "stopped": stopped}

    @staticmethod
    def _body(out: bytes, strip: int) -> str:
        """The generated text after the prompt's own final newline (which the model re-wrote)."""
        text = out.decode("utf-8", "replace")
        if strip and text.startswith("\n"):
            return text[1:]
        return text


def measure_candidate(spec: dict[str, Any], progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """Measure one candidate (see the module docstring); returns plain JSON data."""
    from ..bench.worker import Bench, LogCapture, VramPeak, prepare_file, rss_now, rss_peak
    from ..llamacpp.native import LOG_WARN

    def prog(phase: str, done: int, total: int) -> None:
        if progress:
            progress(phase, done, total)

    from ..bench.worker import apply_test_fault

    apply_test_fault(spec)
    path = str(spec["path"])
    cfg = dict(spec["config"])
    spans = list(spec.get("spans") or [])
    tasks = list(spec.get("tasks") or [])
    reps = int(cfg.get("reps", 1))
    rss_base = rss_now()
    load_state = prepare_file(path, False)
    vram = VramPeak() if int(cfg.get("n_gpu_layers", 0)) != 0 else None
    import llama_cpp as L

    log = LogCapture(L, LOG_WARN, 256 * 1024)
    L.llama_backend_init()
    prog("load", 0, 1)
    b = Bench(L, path, cfg, log)
    sc = None
    try:
        out: dict[str, Any] = {
            "load_state": load_state, "load_s": b.t_load_model, "ctx_init_s": b.t_init_ctx,
            "model_bytes": int(L.llama_model_size(b.model)), "n_params": int(L.llama_model_n_params(b.model)),
            "n_ctx": int(L.llama_n_ctx(b.ctx)),
            "system_info": L.llama_print_system_info().decode("utf-8", "replace").strip(),
            "rss_base": rss_base, "seconds": {},
        }
        # 2. speed, as sizeup bench measures it
        t_phase = time.perf_counter()
        n_p, n_g = int(cfg["n_prompt"]), int(cfg["n_gen"])
        prog("warmup", 0, reps)
        if n_p:
            b.prompt(n_p)
        if n_g:
            b.gen(1)
        b.clear()
        pp_s: list[float] = []
        tg_s: list[float] = []
        for rep in range(reps):
            prog("pp", rep, reps)
            b.clear()
            t0 = time.perf_counter_ns()
            b.prompt(n_p)
            pp_s.append((time.perf_counter_ns() - t0) / 1e9)
        for rep in range(reps):
            prog("tg", rep, reps)
            b.clear()
            t0 = time.perf_counter_ns()
            b.gen(n_g)
            tg_s.append((time.perf_counter_ns() - t0) / 1e9)
        out["rss_peak"] = rss_peak()
        out["vram_peak"] = vram.stop() if vram else None
        out["seconds"]["speed"] = time.perf_counter() - t_phase
        sc = Scorer(b)
        if spec.get("out_rows"):  # logits rows per decode (tests compare batch shapes)
            sc.OUT_ROWS = max(1, min(int(spec["out_rows"]), sc.n_batch))
        # 3. time to first token on corpus text
        t_phase = time.perf_counter()
        ttft_s: list[float] = []
        ptoks = sc.tokenize(str(spec.get("ttft_prompt") or ""), True)[: max(1, n_p)]
        if len(ptoks) > 1:
            for rep in range(reps):
                prog("ttft", rep, reps)
                L.llama_memory_clear(b.mem, True)
                t0 = time.perf_counter_ns()
                sc.feed(ptoks, 0)
                tok = int(sc._row(-1).argmax())
                sc._decode([tok], len(ptoks), [True])
                L.llama_synchronize(b.ctx)
                ttft_s.append((time.perf_counter_ns() - t0) / 1e9)
        out["samples"] = {"pp_s": pp_s, "tg_s": tg_s, "ttft_s": ttft_s}
        out["ttft_prompt_tokens"] = len(ptoks)
        out["seconds"]["ttft"] = time.perf_counter() - t_phase
        # 4. bits per byte
        t_phase = time.perf_counter()
        chunks = []
        for i, (context, span) in enumerate(spans):
            prog("bpb", i, len(spans))
            r = sc.span_logprob(str(context), str(span))
            r["bytes"] = len(str(span).encode("utf-8"))
            chunks.append(r)
        out["chunks"] = chunks
        out["seconds"]["bpb"] = time.perf_counter() - t_phase
        # 5. completions (run later, in the sandbox, by the parent)
        t_phase = time.perf_counter()
        comps = []
        max_new = int(spec.get("max_new_tokens", 192))
        per_task = float(spec.get("task_timeout_s", 120.0))
        for i, t in enumerate(tasks):
            prog("tasks", i, len(tasks))
            c = sc.greedy(str(t["prompt"]), max_new, time.monotonic() + per_task)
            c["id"] = str(t["id"])
            comps.append(c)
        out["completions"] = comps
        out["seconds"]["generate"] = time.perf_counter() - t_phase
        return out
    finally:
        if sc is not None:
            sc.close()
        b.close()
