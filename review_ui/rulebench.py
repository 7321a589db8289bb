"""The rule authors' workbench: rules with their precision from verdicts, a text tester, false-positive examples.

The tester runs the same engine as the crawl (`rules.engine`), so a hit here
means the same as a hit in the queue.
"""

from __future__ import annotations

import json
import re
import threading

CONFIRMED = ("confirmed", "promoted")
SENTENCE_END = re.compile(r"[。！？!?；;\n]")
EXAMPLE_CHARS = 80

_holder = None
_holder_lock = threading.Lock()


def engine():
    """The shared engine, reloaded when a pack file changes (a broken pack keeps the last good engine)."""
    global _holder
    from rules.engine import EngineHolder

    with _holder_lock:
        if _holder is None:
            _holder = EngineHolder()
        else:
            _holder.reload_if_changed()
        return _holder


def precision(counts: dict[str, int]) -> dict:
    confirmed = sum(counts.get(s, 0) for s in CONFIRMED)
    dismissed = counts.get("false_positive", 0)
    decided = confirmed + dismissed
    return {
        "confirmed": confirmed,
        "false_positive": dismissed,
        "open": counts.get("new", 0) + counts.get("triaged", 0),
        "precision": round(confirmed / decided, 2) if decided else None,
    }


def rule_rows(eng, verdicts: dict[str, dict[str, int]]) -> list[dict]:
    """Every loaded rule with its tests and its precision from reviewers' verdicts."""
    rows = []
    for pack in eng.packs:
        for rule in pack.rules:
            rows.append({
                "id": rule.id, "title": rule.title, "category": rule.category, "severity": rule.severity,
                "status": rule.status, "law": rule.law, "pack": pack.id, "pack_version": pack.version,
                "must_match": len(rule.must_match), "must_not_match": len(rule.must_not_match),
                **precision(verdicts.get(rule.id, {})),
            })  # fmt: skip
    return rows


def try_text(eng, text: str, field: str = "body") -> list[dict]:
    """Hits of the engine on a text, each with (before, match, after) for marking in escaped HTML."""
    out = []
    for hit in eng.check_text(text, field=field):
        d = hit.to_dict()
        d["before"] = text[max(0, d["start"] - 40):d["start"]]
        d["after"] = text[d["end"]:d["end"] + 40]
        out.append(d)
    return out


def example_sentence(text: str | None, start: int | None, end: int | None, match: str, excerpt: str | None) -> str:
    """The sentence around a dismissed match: the must_not_match example proposed to the rule's author."""
    if text and start is not None and end is not None and 0 <= start <= end <= len(text):
        lo = start
        while lo > 0 and not SENTENCE_END.match(text[lo - 1]) and start - lo < EXAMPLE_CHARS:
            lo -= 1
        hi = end
        while hi < len(text) and not SENTENCE_END.match(text[hi]) and hi - end < EXAMPLE_CHARS:
            hi += 1
        return text[lo:hi].strip()
    return (excerpt or match or "").strip()


def yaml_snippet(rule_id: str, examples: list[str]) -> str:
    """The tests.must_not_match addition for a rule, as YAML (JSON strings are valid YAML scalars)."""
    lines = [f"# 规则 {rule_id}：将以下误报样例加入 tests.must_not_match，再运行 fangxin rules test 验证",
             f"- id: {rule_id}", "  tests:", "    must_not_match:"]  # fmt: skip
    lines += [f"      - {json.dumps(e, ensure_ascii=False)}" for e in dict.fromkeys(examples) if e]
    return "\n".join(lines) + "\n"
