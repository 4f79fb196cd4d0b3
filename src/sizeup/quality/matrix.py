"""``sizeup quality --matrix``: quantize one model to many types and measure what each costs.

For every requested type: the quantized file's size and bits per weight, its quality against the
input model as reference (mean KLD, PPL ratio, same-top-token rate; :mod:`.evaluate`), and its
generation speed (tg tok/s, through ``sizeup bench``'s worker so the number is the same one
``sizeup bench`` would report). The result is a table, a quality-vs-size chart with the Pareto
front, a one-line verdict per type, and a comparison with the rule of thumb users are usually
told. Every row is stored in the history DB (kind ``quality``).

The reference is the input file. When that is itself quantized (e.g. a Q4_K_M download), every
number is "relative to that quant", not to the original weights, and the output says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SizeupError
from .corpus import Corpus
from .evaluate import build_reference, score_against

GIB = 1024**3

# The rule of thumb from sizeup's seed docs, as data: family -> (claimed size vs F16, claimed
# PPL increase range). "Q8 minimal" is read as an increase under 1%.
RULE_OF_THUMB: dict[str, tuple[float | None, tuple[float, float], str]] = {
    "Q4": (0.50, (0.02, 0.05), "Q4: ~50% size, 2-5% quality drop"),
    "Q5": (None, (0.01, 0.03), "Q5: 1-3% quality drop"),
    "Q8": (None, (0.0, 0.01), "Q8: minimal quality drop"),
}

Progress = Callable[[str, str, int, int], None]  # (type, phase, done, total)


@dataclass
class MatrixRow:
    ftype: str
    ok: bool
    path: str = ""
    bytes: int = 0
    bpw: float = 0.0
    predicted_bytes: int = 0
    size_vs_ref: float = 0.0
    kl: dict[str, float] | None = None
    tg_tps: float | None = None
    tg_note: str = ""
    on_front: bool = False
    error: str = ""
    run_id: int | None = None

    @property
    def gib(self) -> float:
        return self.bytes / GIB

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["gib"] = self.gib
        d["kld_mean"] = self.kl["kld_mean"] if self.kl else None
        d["verdict"] = None
        return d


@dataclass
class MatrixResult:
    input: str
    input_label: str | None
    input_bytes: int
    reference_quantized: bool
    corpus: str
    n_ctx: int
    n_chunks: int
    ref_ppl: float
    f16_bytes: int = 0  # size of the 16-bit version of the model (2 bytes per parameter)
    rows: list[MatrixRow] = field(default_factory=list)
    chart: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "rows"}
        d["rows"] = []
        for r in self.rows:
            rd = r.to_dict()
            rd["verdict"] = verdict(r, self.input_label or "reference")
            d["rows"].append(rd)
        d["rule_of_thumb"] = rule_of_thumb_check(self.rows, self.f16_bytes)
        return d


def verdict(r: MatrixRow, ref_label: str) -> str:
    """Plain-language line: "Q4_K_M: 31% of F16 size, top token unchanged 92% of the time, ..."."""
    if not r.ok or not r.kl:
        return f"{r.ftype}: failed ({r.error})"
    k = r.kl
    ppl_pct = (k["ppl_ratio"] - 1) * 100
    return (f"{r.ftype}: {r.size_vs_ref * 100:.0f}% of {ref_label} size, top token unchanged "
            f"{k['same_top'] * 100:.0f}% of the time, mean KLD {k['kld_mean']:.3g}, "
            f"perplexity {ppl_pct:+.1f}%")


def rule_of_thumb_check(rows: list[MatrixRow], f16_bytes: int) -> list[dict[str, Any]]:
    """Compare measured PPL increase (and size vs a 16-bit file) with the rule of thumb, per family."""
    out = []
    for fam, (size_claim, (lo, hi), text) in RULE_OF_THUMB.items():
        for r in rows:
            if not (r.ok and r.kl and r.ftype.startswith(fam)):
                continue
            drop = r.kl["ppl_ratio"] - 1
            size = r.bytes / f16_bytes if f16_bytes else None
            where = "worse than" if drop > hi else ("better than" if drop < lo else "within")
            # "~50%" read as 40-60% of the 16-bit file
            size_ok = None if size_claim is None or size is None else abs(size - size_claim) <= 0.10
            out.append({"family": fam, "type": r.ftype, "rule": text, "measured_ppl_increase": drop,
                        "measured_size_vs_f16": size, "quality": where, "quality_matches": where == "within",
                        "size_matches": size_ok})
    return out


def run_matrix(in_path: str, types: list[str], out_dir: Path, corpus: Corpus, *, n_ctx: int = 512,
               chunks: int | None = None, threads: int | None = None, imatrix: str | None = None,
               measure_speed: bool = True, chart: bool = True, history: bool = True, history_db: Path | None = None,
               cache_dir: Path | None = None, progress: Progress | None = None) -> MatrixResult:
    from .. import quantize as qz

    desc, plans = qz.plan(in_path, types, out_dir, imatrix=imatrix)
    label = desc.quant.label if desc.quant else None
    n_params = desc.params.total if desc.params else 0
    res = MatrixResult(str(in_path), label, desc.file_size, qz.is_quantized(desc), corpus.name, n_ctx, 0, 0.0,
                       f16_bytes=2 * n_params)
    if res.reference_quantized:
        res.notes.append(f"the reference is itself quantized ({label}): every quality number is relative to "
                         f"that {label} file, not to the original weights")
    ref, _ = build_reference(str(in_path), corpus, n_ctx, chunks, threads=threads, cache_dir=cache_dir,
                             progress=(lambda ph, d, t: progress("reference", ph, d, t)) if progress else None)
    res.n_chunks = ref.meta["n_chunks"]
    res.ref_ppl = float(ref.meta.get("ppl", 0.0))
    for p in plans:
        cb = (lambda ft, d, t: progress(ft, "quantize", d, t)) if progress else None
        out = qz.quantize_one(in_path, p, imatrix=imatrix, threads=threads, allow_requantize=True, progress=cb)
        row = MatrixRow(p.ftype, out.ok, out.path, out.bytes, out.bits_per_weight, out.predicted_bytes,
                        out.bytes / desc.file_size if desc.file_size else 0.0, error=out.error)
        if out.ok:
            try:
                stats, _, _ = score_against(out.path, ref, threads=threads,
                                            progress=(lambda ph, d, t: progress(p.ftype, "quality", d, t)) if progress else None)
                row.kl = stats.to_dict()
            except SizeupError as e:
                row.ok, row.error = False, str(e)
        if row.ok and measure_speed:
            if progress:
                progress(p.ftype, "speed", 0, 1)
            row.tg_tps, row.tg_note = measure_tg(out.path, threads)
        res.rows.append(row)
    ok = [r for r in res.rows if r.ok and r.kl]
    from .chart import pareto_front

    front = pareto_front([(r.bytes, r.kl["kld_mean"]) for r in ok])
    for i in front:
        ok[i].on_front = True
    if chart and ok:
        from .chart import write_chart

        stem = out_dir / f"{qz._stem(Path(in_path))}.quality"
        title = f"{Path(in_path).name}: quality vs size (reference {label or 'input'}, {corpus.name}, ctx {n_ctx})"
        res.chart = [str(p) for p in write_chart([r.to_dict() for r in ok], stem, title)]
    if history:
        record_history(res, in_path, history_db)
    return res


def measure_tg(path: str, threads: int | None) -> tuple[float | None, str]:
    """Generation speed (tok/s) through sizeup bench's worker: short prompt, 32 tokens, 2 repetitions."""
    try:
        from ..bench.config import BenchConfig
        from ..bench.runner import WorkerFailed, run_worker, summaries_from_result
    except ImportError:
        return None, "sizeup.bench not available"
    cfg = BenchConfig(n_prompt=16, n_gen=32, reps=2, n_ctx=256, n_batch=256, n_ubatch=256,
                      n_threads=threads or BenchConfig.n_threads)
    try:
        res = run_worker(path, cfg, timeout=300)
    except WorkerFailed as e:
        return None, str(e)
    summ, _ = summaries_from_result(cfg, res)
    tg = summ.get("tg")
    return (float(tg["mean"]), "") if tg else (None, "no tg samples")


def record_history(res: MatrixResult, in_path: str, db_path: Path | None = None) -> None:
    """One history row per measured type (kind "quality"); a missing history module is not fatal."""
    try:
        from ..history import HistoryDB, model_identity
    except ImportError:
        res.notes.append("history DB not available: results not stored")
        return
    try:
        ref_id = model_identity(in_path, quant=res.input_label)
        with HistoryDB(db_path) as db:
            for r in res.rows:
                if not (r.ok and r.kl):
                    continue
                metrics: dict[str, Any] = {k: r.kl[k] for k in ("kld_mean", "kld_p99", "ppl", "ppl_ratio", "same_top", "rms_dp")}
                metrics["bytes"] = r.bytes
                if r.tg_tps:
                    metrics["tg"] = {"values": [r.tg_tps], "unit": "tok/s"}
                r.run_id = db.record_result(
                    "quality", model_identity(r.path, quant=r.ftype),
                    {"corpus": res.corpus, "ctx": res.n_ctx, "chunks": res.n_chunks, "matrix": True},
                    metrics, {"reference": ref_id, "reference_quantized": res.reference_quantized, "kl": r.kl})
    except SizeupError as e:
        res.notes.append(f"history DB not written: {e}")


# --- the same, in a child process ----------------------------------------------------------------

def run_matrix_job(in_path: str, types: list[str], out_dir: str, corpus_spec: str, n_ctx: int = 512,
                   chunks: int | None = None, threads: int | None = None, imatrix: str | None = None,
                   measure_speed: bool = True, cache_dir: str | None = None, history_db: str | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Child-side entry point of :func:`run_matrix_isolated`."""
    from .corpus import load_corpus

    res = run_matrix(in_path, types, Path(out_dir), load_corpus(corpus_spec), n_ctx=n_ctx, chunks=chunks,
                     threads=threads, imatrix=imatrix, measure_speed=measure_speed, progress=progress,
                     cache_dir=Path(cache_dir) if cache_dir else None,
                     history_db=Path(history_db) if history_db else None)
    return res.to_dict()


def matrix_from_dict(d: dict[str, Any]) -> MatrixResult:
    from dataclasses import fields

    row_names = {f.name for f in fields(MatrixRow)}
    rows = [MatrixRow(**{k: v for k, v in r.items() if k in row_names}) for r in d.get("rows", [])]
    names = {f.name for f in fields(MatrixResult)} - {"rows"}
    return MatrixResult(**{k: d[k] for k in names if k in d}, rows=rows)


def run_matrix_isolated(in_path: str, types: list[str], out_dir: Path, corpus_spec: str, *, n_ctx: int = 512,
                        chunks: int | None = None, threads: int | None = None, imatrix: str | None = None,
                        measure_speed: bool = True, cache_dir: Path | None = None, history_db: Path | None = None,
                        progress: Progress | None = None, timeout: float = 24 * 3600.0) -> MatrixResult:
    """:func:`run_matrix` in a child process (quantization and each speed run are children of it)."""
    from ..llamacpp.child import call_in_child

    d = call_in_child("sizeup.quality.matrix:run_matrix_job",
                      {"in_path": str(in_path), "types": list(types), "out_dir": str(out_dir), "corpus_spec": corpus_spec,
                       "n_ctx": n_ctx, "chunks": chunks, "threads": threads, "imatrix": imatrix,
                       "measure_speed": measure_speed, "cache_dir": str(cache_dir) if cache_dir else None,
                       "history_db": str(history_db) if history_db else None}, progress=progress, timeout=timeout)
    return matrix_from_dict(d)
