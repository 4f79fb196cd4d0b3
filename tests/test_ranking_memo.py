"""What a large catalog's ranking shares between entries and keeps between runs: catalog entries
with one config share one described shape, and a plan search read back from the disk cache ranks
exactly as one worked out afresh (and is only used for the very machine it was made for)."""

from __future__ import annotations

import copy
import json

import pytest

from sizeup import catalog
from sizeup import recommend as rec
from sizeup.catalog import describe_entry, load_catalog, parse_catalog
from sizeup.estimate import summary_cache
from sizeup.hardware import probe_hardware


def _hw(ram: str = "64G"):
    hw = probe_hardware(gpu="RTX 4090", ram=ram, bandwidth="off")
    return type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 80.0})


def _forget_shapes() -> None:
    catalog._ARCH_MEMO.clear()
    catalog._PARAMS_MEMO.clear()
    catalog._PARAMS_FAMILY.clear()


def _variants(n: int = 12) -> list:
    """Built-in entries re-published under new ids, some with a resized vocabulary (a new shape)."""
    doc = json.loads(catalog.CATALOG_PATH.read_text())
    out = []
    for i, e in enumerate(doc["models"][:n]):
        e = copy.deepcopy(e)
        e["id"] = f"variant-{i}/{e['id'].split('/', 1)[1]}"
        e["aliases"] = [f"{a}-v{i}" for a in e["aliases"]]
        e["ollama"] = None
        if i % 2 and isinstance(e["config"].get("vocab_size"), int):
            e["config"]["vocab_size"] += 256
        out.append(e)
    return parse_catalog(json.dumps({**doc, "models": out}))


def test_memoized_describe_equals_a_fresh_describe_for_every_entry():
    entries = load_catalog(str(catalog.CATALOG_PATH)) + _variants()
    shared = [describe_entry(e) for e in entries]  # later entries find their shape worked out
    try:
        for e, m in zip(entries, shared):
            _forget_shapes()
            assert describe_entry(e) == m, e.id
    finally:
        _forget_shapes()


def test_entries_with_one_config_share_their_shape_not_their_identity():
    base = load_catalog(str(catalog.CATALOG_PATH))[0]
    twin = _variants(1)[0]
    a, b = describe_entry(base), describe_entry(twin)
    assert a.arch is b.arch and a.params == b.params
    assert (a.extra["hf_id"], b.extra["hf_id"]) == (base.id, twin.id) and a.name == b.name == base.name


@pytest.fixture
def disk_cache(tmp_path, monkeypatch):
    """An empty summary cache file of this test's own, and nothing in memory, before and after."""
    monkeypatch.setenv("SIZEUP_SUMMARY_CACHE", str(tmp_path / "s.json"))
    _new_process()
    yield tmp_path / "s.json"
    _new_process()


def _models() -> list:
    return [describe_entry(e) for e in load_catalog(str(catalog.CATALOG_PATH))[::6]]


def _rows(hw, models) -> list[str]:
    return [json.dumps(c.to_dict(), sort_keys=True, default=str) for c in rec.recommend(models, hw, ctx=16384,
                                                                                         task="coding")]


def _new_process() -> None:
    """As a second process starts: nothing in memory, the disk cache read afresh."""
    summary_cache.reset()
    rec._PLAN_CACHE.clear()
    rec._EXACT_CACHE.clear()


def _count_searches(monkeypatch) -> list:
    calls = []
    orig = rec._plans
    monkeypatch.setattr(rec, "_plans", lambda *a: calls.append(1) or orig(*a))
    return calls


def _plan_entries(path) -> dict:
    return {k: v for k, v in json.loads(path.read_text())["entries"].items() if k.startswith("p:")}


def test_a_stored_plan_search_ranks_exactly_as_a_fresh_one(disk_cache, monkeypatch):
    models, hw = _models(), _hw()
    fresh = _rows(hw, models)
    stored = _plan_entries(disk_cache)
    assert stored  # the search was kept
    _new_process()
    calls = _count_searches(monkeypatch)
    assert _rows(hw, models) == fresh and not calls  # every shape's search read back, none redone
    assert _plan_entries(disk_cache) == stored


def test_another_machine_searches_again_and_replaces_the_stored_search(disk_cache, monkeypatch):
    models = _models()
    _rows(_hw("64G"), models)
    before = _plan_entries(disk_cache)
    _new_process()
    calls = _count_searches(monkeypatch)
    other = _rows(_hw("48G"), models)  # less free RAM: every search depends on it
    assert calls
    # nothing else was new: the file is not rewritten just for searches (a machine probed live has
    # different free memory on every run, and would rewrite it every time)
    assert _plan_entries(disk_cache) == before
    _new_process()
    newcomer = describe_entry(_variants(2)[1])  # a resized vocabulary: a new summary makes a save happen
    _rows(_hw("48G"), models + [newcomer])
    after = _plan_entries(disk_cache)
    assert before.keys() < after.keys() and len(after) == len(before) + 1  # one search per slot, not per run
    assert all(after[k]["fp"] != v["fp"] for k, v in before.items())
    _new_process()
    calls.clear()
    assert _rows(_hw("48G"), models) == other and not calls  # now read back


def test_malformed_stored_searches_are_searched_again(disk_cache, monkeypatch):
    models, hw = _models(), _hw()
    fresh = _rows(hw, models)
    doc = json.loads(disk_cache.read_text())
    bad = [None, "x", {"plans": "x", "miss": None}, {"plans": [{"quant": "Q4_K_M"}], "miss": None},
           {"plans": [], "miss": {"quant": "NOT_A_TYPE", "needed": 1, "available": 1}}]
    for i, k in enumerate(k for k in doc["entries"] if k.startswith("p:")):
        doc["entries"][k]["data"] = bad[i % len(bad)]
    disk_cache.write_text(json.dumps(doc))
    _new_process()
    calls = _count_searches(monkeypatch)
    assert _rows(hw, models) == fresh and calls


def test_decoding_refuses_what_a_plan_cannot_hold():
    from sizeup.advice import plan_codec as codec
    from sizeup.estimate.plan_speed import plan_speed
    from sizeup.estimate.speed import DeviceSpec
    from sizeup.estimate.weight_summary import predicted_summary

    arch = describe_entry(catalog.get_entry("Qwen/Qwen2.5-0.5B-Instruct")).arch
    sp = plan_speed(predicted_summary(arch, "Q4_K_M"), arch, DeviceSpec("cpu", 40e9, 2e11), None, 0)
    speed = json.loads(json.dumps(codec._encode_speed(sp)))
    good = dict(quant="Q4_K_M", where=rec.FIT_GPU, ngl=33, n_cpu_moe=0, totals=[1, 2], busiest=0.5, plan_score=1.0,
                components={"quant": -0.1, "fit": 0})

    def row(**change):
        d = {**good, **change}
        return [d[k] for k in codec._PLAN_ROW] + [d.get("speed", speed)]

    ok = codec.decode_plans({"plans": [row()], "miss": None}, ["Q4_K_M"], rec._WHERE)
    assert ok is not None and ok[0][0]["speed"] == sp
    assert ok[0][0]["components"]["fit"] == 0 and type(ok[0][0]["components"]["fit"]) is int  # kept as it was
    for change in ({"where": "somewhere"}, {"ngl": True}, {"ngl": "33"}, {"totals": [1.5]}, {"busiest": "0.5"},
                   {"quant": "Q8_0"}, {"components": {"quant": None}}, {"speed": speed[:-1]},
                   {"speed": [1.0, 2.0, "memory", [], False]}, {"speed": {"decode_tps": 1.0}}):
        assert codec.decode_plans({"plans": [row(**change)], "miss": None}, ["Q4_K_M"], rec._WHERE) is None, change
    assert codec.decode_plans({"plans": [row()[:-1]], "miss": None}, ["Q4_K_M"], rec._WHERE) is None
    assert codec.decode_plans({"plans": [row()] * (codec.MAX_PLANS + 1), "miss": None}, ["Q4_K_M"], rec._WHERE) is None
    assert codec.decode_plans({"plans": [], "miss": {"quant": "Q4_K_M", "needed": 1.5, "available": 1}},
                              ["Q4_K_M"], rec._WHERE) is None
    assert codec.decode_plans(["not", "a", "dict"], ["Q4_K_M"], rec._WHERE) is None


def test_the_shipped_seed_is_current(disk_cache, tmp_path, monkeypatch):
    """The seed holds exactly what scripts/build_summary_seed.py makes from these rules and this
    catalog; when this fails, rerun that script."""
    from sizeup.estimate import summary_seed

    shipped = json.loads(summary_cache.SEED_PATH.read_text())
    assert shipped["version"] == summary_cache._version(), "stale seed: run scripts/build_summary_seed.py"
    monkeypatch.setattr(summary_cache, "SEED_PATH", tmp_path / "no-seed.json")
    assert summary_seed.build() == shipped, "stale seed: run scripts/build_summary_seed.py"
    assert set(shipped["entries"]) <= summary_seed.wanted_keys()


def test_a_first_run_starts_from_the_seed_and_a_stale_seed_is_ignored(disk_cache, tmp_path, monkeypatch):
    from sizeup.estimate.weight_summary import _disk_key, _register, predicted_summary

    m = describe_entry(load_catalog(str(catalog.CATALOG_PATH))[0])
    key = _disk_key(_register(m.arch), "Q4_K_M")
    assert summary_cache.get(key) == predicted_summary(m.arch, "Q4_K_M")  # from the seed
    doc = json.loads(summary_cache.SEED_PATH.read_text())
    (tmp_path / "seed.json").write_text(json.dumps({**doc, "version": "edited-rules"}))
    monkeypatch.setattr(summary_cache, "SEED_PATH", tmp_path / "seed.json")
    summary_cache.reset()
    assert summary_cache.get(key) is None


def test_a_resized_vocabulary_derives_from_a_stored_member_exactly(disk_cache):
    """A fine-tune whose base model's summaries come from the disk cache (not predicted in this
    process) is still derived by vocabulary family, and equals a full prediction."""
    from dataclasses import replace

    from sizeup.estimate import weight_summary as wsm

    for mid in ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-30B-A3B", "google/gemma-3-4b-it"):
        m = describe_entry(catalog.get_entry(mid))
        base = m.arch
        for q in rec._model_types(m)[0]:
            wsm._FAMILY.clear()
            wsm.vocab_family(base)  # the base model seen in this process, its summary on disk only
            assert summary_cache.get(wsm._disk_key(wsm._register(base), q)) is not None
            variant = replace(base, n_vocab=base.n_vocab + 1000)
            got = wsm.predicted_summary(variant, q)
            assert (wsm.vocab_family(variant), q) in wsm._FAMILY  # derived, not predicted
            assert got == wsm._predicted(wsm._register(variant), q), (mid, q)


def test_a_resized_vocabulary_of_a_seeded_shape_reads_its_row_costs_from_the_seed(disk_cache, monkeypatch):
    """The seed ships each built-in shape's vocabulary row costs beside its summaries, so a
    fine-tune with a resized vocabulary is derived without grouping the base shape's tensors, and
    equals a full prediction; row costs a cache cannot vouch for are worked out again."""
    from dataclasses import replace

    from sizeup.estimate import weight_summary as wsm

    m = describe_entry(catalog.get_entry("Qwen/Qwen2.5-0.5B-Instruct"))
    base, q = m.arch, "Q4_K_M"
    key = wsm._register(base)
    wsm.vocab_family(base)
    assert summary_cache.get_rows(wsm._disk_key(key, q)) not in (False, None)  # shipped
    real_rows = wsm._vocab_rows
    monkeypatch.setattr(wsm, "_vocab_rows", lambda *a: pytest.fail("row costs worked out again"))
    variant = replace(base, n_vocab=base.n_vocab + 512)
    got = wsm.predicted_summary(variant, q)
    monkeypatch.setattr(wsm, "_vocab_rows", real_rows)
    assert got == wsm._predicted(wsm._register(variant), q)
    for bad in ([True, 1], [-1, 5], [1, 2, 3], "12", [1.5, 2], {"a": 1}):
        summary_cache._state["entries"]["r:" + wsm._disk_key(key, q)] = bad
        assert summary_cache.get_rows(wsm._disk_key(key, q)) is False
        assert wsm.stored_vocab_rows(key, q) == real_rows(key, q)  # recomputed, and stored again
        assert summary_cache.get_rows(wsm._disk_key(key, q)) == real_rows(key, q)


def test_searches_from_a_helper_do_not_make_a_save_happen(disk_cache):
    assert summary_cache.merge({"p:" + "a" * 40: {"fp": "x", "data": None}}) == 1
    assert not summary_cache._state["dirty"]
    assert summary_cache.merge({"b:" + "a" * 40: {"cpu": None}}) == 1
    assert summary_cache._state["dirty"]
