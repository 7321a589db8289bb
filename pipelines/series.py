"""Evaluate series rules over the store's price observations and store the hits with their proof.

After a crawl (or on demand), every product page with price observations is read back from the
store as one observation series (`Store.price_observations`: captures and re-observations of
unchanged pages), the pack's series rules (`rules/series.py`) run over it, and each hit is stored
by `Store.save_series_hit`: a hit in the ordinary review queue, hung on a chained series record,
with every proving capture linked in `hit_captures` (what the evidence bundle must include).

    from pipelines.series import evaluate
    new_hit_ids = evaluate(store)                   # the packs under rules/packs/
    new_hit_ids = evaluate(store, engine)           # the packs a rules.Engine was loaded from
    new_hit_ids = evaluate(store, series_rules, now="2026-11-09T02:00:00Z")

An episode (rule, product, first day of the claim) is stored once: evaluating again after the
next crawl returns only hits that are new.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from typing import Any

from rules import series as rules_series

PLAN = "series"


def series_rules_for(engine_or_rules: Any = None) -> list[rules_series.SeriesRule]:
    """Series rules from None (every pack), a list of SeriesRule, pack folders, or a rules.Engine."""
    if engine_or_rules is None:
        return rules_series.load_series_rules()
    packs = getattr(engine_or_rules, "packs", None)
    if packs is not None:
        return rules_series.load_series_rules([p.path for p in packs])
    items = list(engine_or_rules)
    if all(isinstance(r, rules_series.SeriesRule) for r in items):
        return items
    return rules_series.load_series_rules([str(f) for f in items])


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def evaluate(
    store,
    engine_or_rules: Any = None,
    now: str | None = None,
    *,
    products: Iterable[str] | None = None,
    since: str | None = None,
    operator: str | None = None,
) -> list[int]:
    """Run the series rules over every product (or the given product URLs); return the ids of new hits.

    `since` (ISO time) limits the products to those observed at or after it — after a crawl, its
    start time, so only the products it saw are evaluated (each over its whole series). `now` is
    the time recorded for the series records (default: the current time). The evaluation is one
    `crawl_runs` row with plan "series", opened only when a hit is found.
    """
    rules = series_rules_for(engine_or_rules)
    run_id = None
    new_ids: list[int] = []
    stats = {"products": 0, "hits": 0, "new_hits": 0}
    try:
        for url in store.series_products(since) if products is None else products:
            stats["products"] += 1
            observations = store.price_observations(url)
            for hit in rules_series.evaluate(rules, url, observations):
                stats["hits"] += 1
                if run_id is None:
                    run_id = store.start_run(
                        PLAN, operator or _operator(), {"series_rules": [r.id for r in rules], "now": now}
                    )
                hit_id, new = store.save_series_hit(run_id, hit.to_dict(), now=now)
                if new:
                    new_ids.append(hit_id)
                    stats["new_hits"] += 1
    except BaseException:
        if run_id is not None:
            store.finish_run(run_id, "failed", stats)
        raise
    if run_id is not None:
        store.finish_run(run_id, "finished", stats)
    return new_ids
