"""Where check time goes, rule by rule (`fangxin bench rules --profile`).

A rule costs in two places: running its trigger regexes around their anchors, and evaluating its
condition for each candidate. Both are timed here with a subclass of the engine's per-check state,
so the engine itself carries no timing code.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from rules.engine import Engine, _Check


def profile_rules(engine: Engine, docs: Iterable[dict]) -> tuple[float, list[tuple[str, float, int]]]:
    """Check every document; return (total seconds, [(rule id, seconds, candidate windows), …])
    sorted by seconds, largest first. Timing adds overhead: compare shares, not totals."""
    owner = {id(sel): r.id for r in engine.rules for sel in r.selections.values()}
    spent: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    clock = time.perf_counter

    class Timed(_Check):
        def regex_around(self, text, sel, anchors):
            t0 = clock()
            try:
                return super().regex_around(text, sel, anchors)
            finally:
                rid = owner.get(id(sel), "?")
                spent[rid] += clock() - t0
                count[rid] += len(anchors)

        def evaluate_rule(self, f, rule, ri, out):
            t0 = clock()
            try:
                super().evaluate_rule(f, rule, ri, out)
            finally:
                spent[rule.id] += clock() - t0

    engine._check_cls = Timed
    try:
        t0 = clock()
        for doc in docs:
            engine.check(doc)
        total = clock() - t0
    finally:
        del engine._check_cls  # back to the class attribute
    ranked = sorted(((rid, sec, count[rid]) for rid, sec in spent.items()), key=lambda x: -x[1])
    return total, ranked
