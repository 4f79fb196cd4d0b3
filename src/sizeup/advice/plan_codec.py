"""A ranking's plan searches as JSON, and back: how the forked helper hands searches over
(:mod:`sizeup.estimate.parallel_warm`) and how the summary cache stores them between runs.

Both readers get bytes another process wrote, so decoding trusts nothing: every value is checked
to be of the exact type it must have (a bool is not a number here), counts are bounded, and
anything malformed decodes to None - the ranking then works that search out itself. Numbers keep
their type (an int stays an int), so a row read back prints as it did when it was worked out.
Weight summaries are not part of a stored plan: they live in the summary cache's own entries and
are looked up when a row needs one.
"""

from __future__ import annotations

import functools
from dataclasses import fields

# A plan as stored: one row of these, the speed as its fields' values (a catalog's searches are
# read back on every run: rows keep the file and its parsing small). The summaries plans point to
# are the summary cache's own entries.
_PLAN_ROW = ("quant", "where", "ngl", "n_cpu_moe", "totals", "busiest", "plan_score", "components")


def encode_plans(s) -> dict:
    """A plan search (``plans``, ``miss``) as JSON (see _PLAN_ROW)."""
    rows = [[p[k] for k in _PLAN_ROW] + [_encode_speed(p["speed"])] for p in s.plans]
    return {"plans": rows, "miss": {k: v for k, v in s.miss.items() if k != "summary"} if s.miss else None}


def _encode_speed(sp) -> list | None:
    return None if sp is None else [getattr(sp, k) for k in _speed_fields()]


MAX_PLANS = 512  # plans in one decoded search at most (types x placements is a few dozen)
# Checked by exact type (a bool is not a number here), and kept as they are: an int stays an int,
# so a row read back prints as it did when it was worked out.
_NUMBER = frozenset({int, float})
_SCALAR = frozenset({int, float, bool, type(None)})


def _numbers(values, limit: int) -> bool:
    return len(values) <= limit and all(type(v) in _NUMBER for v in values)


def _quant(v, types: list[str]) -> str:
    if v not in types:  # only a type this search tries can have a summary looked up later
        raise ValueError("unexpected quant")
    return v


def _speed_value(v):
    """A PlanSpeed field as JSON holds it: a number, flag, short label or None, or a small
    {name: number} table; anything else is refused."""
    t = type(v)
    if t in _SCALAR or (t is str and len(v) <= 64):
        return v
    if t is dict and all(type(k) is str and len(k) <= 64 for k in v) and _numbers(v.values(), 64):
        return v
    raise TypeError("speed field")


@functools.cache
def _speed_fields() -> tuple[str, ...]:
    from ..estimate.plan_speed import PlanSpeed

    return tuple(f.name for f in fields(PlanSpeed) if f.init)


def _decode_speed(sp):
    """A PlanSpeed back from its fields' values (whatever fields it has: the speed model grows;
    the stored search's fingerprint holds the source it was made with)."""
    from ..estimate.plan_speed import PlanSpeed

    if sp is None:
        return None
    names = _speed_fields()
    if type(sp) is not list or len(sp) != len(names):
        raise ValueError("speed")
    return PlanSpeed(**{k: _speed_value(v) for k, v in zip(names, sp)})


def _decode_plan(row, types: list[str], wheres: frozenset[str]) -> dict:
    if type(row) is not list or len(row) != len(_PLAN_ROW) + 1:
        raise ValueError("plan")
    q, where, ngl, ncmoe, totals, busiest, score, comps, sp = row
    if (where not in wheres or type(ngl) is not int or type(ncmoe) is not int or type(totals) is not list
            or len(totals) > 65 or not all(type(x) is int for x in totals) or type(busiest) not in _NUMBER
            or type(score) not in _NUMBER or type(comps) is not dict or not _numbers(comps.values(), 16)
            or not all(type(k) is str for k in comps)):
        raise ValueError("plan")
    return {"quant": _quant(q, types), "where": where, "ngl": ngl, "n_cpu_moe": ncmoe, "totals": tuple(totals),
            "busiest": busiest, "speed": _decode_speed(sp), "components": comps, "plan_score": score,
            "summary": None}


def decode_plans(data, types: list[str], wheres: frozenset[str]) -> tuple[list[dict], dict | None] | None:
    """:func:`encode_plans` undone, every value checked to be of the type it must have; None for
    anything malformed (a helper's reply or a disk entry: the ranking then works it out itself).
    Summaries are left to :func:`_plan_summary`."""
    try:
        if not isinstance(data["plans"], list) or len(data["plans"]) > MAX_PLANS:
            return None
        plans = [_decode_plan(p, types, wheres) for p in data["plans"]]
        miss = data["miss"]
        if miss is not None:
            needed, avail = miss["needed"], miss["available"]
            if type(needed) is not int or type(avail) is not int:
                raise ValueError("miss")
            miss = {"quant": _quant(miss["quant"], types), "needed": needed, "available": avail, "summary": None}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return plans, miss
