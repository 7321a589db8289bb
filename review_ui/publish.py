"""Publication of closed leads as typical cases (典型案例曝光) or consumer warnings (消费预警).

What is published is built from the lead's facts and the supervisor's summary,
with personal data redacted (phone numbers, ID numbers, e-mail addresses,
instant-messaging accounts); page URLs are reduced to the site. The public
pages and the Atom feed show only what was stored at publication.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

KINDS = {"typical_case": "典型案例", "consumer_warning": "消费预警"}
REDACTED = "［已隐去］"
_PATTERNS = [
    re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"),  # resident ID number
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),  # mobile number
    re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"),  # landline
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),  # e-mail
]
_IM = re.compile(r"((?:微信|微信号|VX|vx|Vx|WX|wx|QQ|qq)\s*[:：]?\s*)[A-Za-z0-9_-]{5,}")


def redact(text: str | None) -> str:
    """Text with personal data replaced by a marker."""
    out = text or ""
    for pattern in _PATTERNS:
        out = pattern.sub(REDACTED, out)
    return _IM.sub(lambda m: m.group(1) + REDACTED, out)


def body_for(lead: dict, merchant: dict | None, hits: list[dict], host_of) -> dict:
    """The published facts of a lead: merchant, sites, claims with their legal basis, dates; all redacted."""
    claims = []
    seen = set()
    for h in hits:
        key = (h["rule"], h["match"])
        if key in seen:
            continue
        seen.add(key)
        claims.append({"category": h["category"], "claim": redact(h["match"]), "law": h["law"],
                       "site": host_of(h["url"]), "captured_at": h["captured_at"]})  # fmt: skip
    return {
        "merchant": redact((merchant or {}).get("name") or ""),
        "credit_code": (merchant or {}).get("credit_code") or "",
        "sites": sorted({c["site"] for c in claims if c["site"]}),
        "claims": claims[:50],
        "decision_basis": redact(next((e["legal_basis"] for e in reversed(lead.get("events") or [])
                                       if e["action"] == "decide" and e["legal_basis"]), "")),  # fmt: skip
    }


def atom(items: list[dict], base_url: str, updated: str) -> str:
    """An Atom 1.0 feed of publications (all values escaped)."""
    entries = []
    for p in items:
        link = f"{base_url}/public/{p['id']}"
        entries.append(
            "<entry>"
            f"<title>{escape('【' + KINDS.get(p['kind'], p['kind']) + '】' + p['title'])}</title>"
            f'<link href="{escape(link, {chr(34): "&quot;"})}"/>'
            f"<id>{escape(link)}</id>"
            f"<updated>{escape(p['published_at'])}</updated>"
            f"<summary>{escape(p['summary'])}</summary>"
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
        "<title>放心消费监测：典型案例与消费预警</title>"
        f'<link href="{escape(base_url)}/public/feed.xml" rel="self"/>'
        f"<id>{escape(base_url)}/public/feed.xml</id>"
        f"<updated>{escape(updated)}</updated>" + "".join(entries) + "</feed>\n"
    )
