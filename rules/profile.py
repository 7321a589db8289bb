"""Where check time goes, rule by rule (`fangxin bench rules --profile`), and which trigger literals
open regex windows or make candidates (`fangxin rules lint`, rules.lint.ordinary_load).

A rule costs in two places: running its trigger regexes around their anchors, and evaluating its
condition for each candidate. Both are timed here with a subclass of the engine's per-check state,
so the engine itself carries no timing code.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable

from rules.engine import Engine, _Check


def count_candidates(engine: Engine, docs: Iterable[dict]) -> Counter:
    """Check every document; count, per (id(selection), literal, what), each regex window a
    trigger's anchor opens ("opens a regex window") and each candidate a literal trigger term
    makes ("makes a candidate"). Scopes, document gates and anchor filters count as in a crawl."""
    counts: Counter = Counter()

    class Counting(_Check):
        def regex_around(self, text, sel, anchors):
            for s, e in anchors:
                counts[(id(sel), text[s:e], "opens a regex window")] += 1
            return super().regex_around(text, sel, anchors)

        def evaluate_rule(self, f, rule, ri, out):
            for t in rule.triggers:
                if rule.selections[t].regex is None:
                    for s, e in f.cands.get((ri, t), ()):
                        counts[(id(rule.selections[t]), f.text[s:e], "makes a candidate")] += 1
            return super().evaluate_rule(f, rule, ri, out)

    for doc in docs:
        engine.check_with(Counting, doc)
    return counts


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

    t0 = clock()
    for doc in docs:
        engine.check_with(Timed, doc)
    total = clock() - t0
    ranked = sorted(((rid, sec, count[rid]) for rid, sec in spent.items()), key=lambda x: -x[1])
    return total, ranked
