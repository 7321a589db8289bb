"""Merchant risk score: severity, repeat offences and recency, as the basis for 行政约谈.

The score is a transparent sum an inspector can explain to a merchant:

    score = Σ over hits  severity weight × verdict weight × recency   (recency halves every 90 days)
            × repeat factor (1 + 0.2 per further day with confirmed violations, at most 2)
            + lead weight (filed, decided and closed cases count again)

Dismissed hits (误报, 跳过) count for nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

SEVERITY_WEIGHT = {"high": 5.0, "medium": 3.0, "low": 1.0}
VERDICT_WEIGHT = {"confirmed": 1.0, "promoted": 1.0, "triaged": 0.5, "new": 0.3}
HALF_LIFE_DAYS = 90
LEAD_WEIGHT = {"filed": 10.0, "investigating": 10.0, "decided": 15.0, "closed": 10.0, "transferred": 10.0}
CONFIRMED = ("confirmed", "promoted")


def recency(day: str, today: dt.date) -> float:
    try:
        age = max(0, (today - dt.date.fromisoformat(day)).days)
    except ValueError:
        return 0.0
    return math.pow(0.5, age / HALF_LIFE_DAYS)


def scores(rows: list[dict], leads: dict[int, dict[str, int]], today: dt.date) -> dict[int, dict]:
    """Per merchant id: {"score", "weighted", "repeat", "lead_points", "hits", "confirmed", "last_seen"}."""
    weighted: dict[int, float] = defaultdict(float)
    hits: dict[int, int] = defaultdict(int)
    confirmed: dict[int, int] = defaultdict(int)
    confirmed_days: dict[int, set] = defaultdict(set)
    last_seen: dict[int, str] = {}
    for r in rows:
        m = r["merchant_id"]
        verdict = VERDICT_WEIGHT.get(r["state"], 0.0)
        if verdict == 0.0:
            continue
        weighted[m] += SEVERITY_WEIGHT.get(r["severity"], 1.0) * verdict * recency(r["day"], today) * r["n"]
        hits[m] += r["n"]
        last_seen[m] = max(last_seen.get(m, ""), r["day"])
        if r["state"] in CONFIRMED:
            confirmed[m] += r["n"]
            confirmed_days[m].add(r["day"])
    out = {}
    for m in set(weighted) | set(leads):
        repeat = min(2.0, 1.0 + 0.2 * max(0, len(confirmed_days[m]) - 1))
        lead_points = sum(LEAD_WEIGHT.get(state, 0.0) * n for state, n in leads.get(m, {}).items())
        out[m] = {
            "score": round(weighted[m] * repeat + lead_points, 1),
            "weighted": round(weighted[m], 1),
            "repeat": round(repeat, 1),
            "lead_points": lead_points,
            "hits": hits[m],
            "confirmed": confirmed[m],
            "last_seen": last_seen.get(m),
        }
    return out


def weekly(rows: list[dict], today: dt.date, weeks: int = 26) -> list[dict]:
    """Hits per week (Monday start) over the last `weeks` weeks, dismissed hits left out, for a bar chart."""
    start = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    counts = [0] * weeks
    for r in rows:
        if VERDICT_WEIGHT.get(r["state"], 0.0) == 0.0:
            continue
        try:
            day = dt.date.fromisoformat(r["day"])
        except ValueError:
            continue
        index = (day - start).days // 7
        if 0 <= index < weeks:
            counts[index] += r["n"]
    top = max(counts) or 1
    return [{"week": (start + dt.timedelta(weeks=i)).isoformat(), "n": n, "height": round(80 * n / top)}
            for i, n in enumerate(counts)]  # fmt: skip
