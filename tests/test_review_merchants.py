"""Merchant risk ranking and merchant pages."""

from __future__ import annotations

import datetime as dt
import re

from review_ui.risk import scores, weekly
from tests.test_review_triage import Session, seed, server  # noqa: F401 - fixture

TODAY = dt.date(2026, 11, 26)


def test_risk_score_weighs_severity_verdict_recency_and_repeats():
    rows = [
        {"merchant_id": 1, "severity": "high", "state": "confirmed", "day": "2026-11-26", "n": 1},
        {"merchant_id": 1, "severity": "high", "state": "confirmed", "day": "2026-11-20", "n": 1},
        {"merchant_id": 2, "severity": "high", "state": "confirmed", "day": "2026-08-28", "n": 1},  # 90 days old
        {"merchant_id": 3, "severity": "low", "state": "new", "day": "2026-11-26", "n": 10},
        {"merchant_id": 4, "severity": "high", "state": "false_positive", "day": "2026-11-26", "n": 50},
    ]
    s = scores(rows, {5: {"decided": 1}}, TODAY)
    assert s[2]["score"] == 2.5  # 5 × 1.0 × ½
    assert s[3]["score"] == 3.0  # 10 × 1 × 0.3
    assert s[1]["repeat"] == 1.2 and s[1]["score"] > 2 * 5  # two days of confirmed violations
    assert 4 not in s  # dismissed hits count for nothing
    assert s[5]["score"] == 15.0 and s[5]["hits"] == 0
    bars = weekly(rows, TODAY)
    assert len(bars) == 26 and bars[-1]["n"] == 11 and bars[-2]["n"] == 1 and max(b["height"] for b in bars) == 80


def test_merchants_ranked_by_risk_and_merchant_page(server, db_path):  # noqa: F811
    a, b, c = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "全网最佳", "merchant": "甲商店", "severity": "low"},
        {"url": "http://b.shop.test/1", "match": "根治糖尿病", "merchant": "乙药房", "severity": "high",
         "category": "medical_health", "rule": "MED-CURE"},
        {"url": "http://b.shop.test/2", "match": "<i>国家级</i>", "merchant": "乙药房", "rule": "ABS-NATIONAL"},
    ])
    wang = Session(server, "wang")
    wang.post(f"/hit/{b}/confirm")
    page = wang.get("/merchants")
    assert page.index("乙药房") < page.index("甲商店")
    merchant_id = int(page.split('data-merchant-id="')[1].split('"')[0])
    detail = wang.get(f"/merchant/{merchant_id}")
    assert "乙药房" in detail and f'href="/hit/{b}"' in detail and f'href="/hit/{c}"' in detail
    assert f'href="/hit/{a}"' not in detail and "线索 #" in detail and "<rect" in detail
    assert "&lt;i&gt;国家级&lt;/i&gt;" in detail and "<i>国家级" not in detail
    assert f'href="/merchant/{merchant_id}"' in wang.get("/queue")


def test_dashboard_counts_hits_and_lists_overdue_leads(server, db_path):  # noqa: F811
    from pipelines.store import Store

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT01:00:00Z")
    a, b, _ = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "最佳", "merchant": "甲", "fetched_at": today},
        {"url": "http://m.health.test/1", "match": "根治", "merchant": "乙", "category": "medical_health",
         "rule": "MED-CURE", "sector": "health", "fetched_at": today},
        {"url": "http://m.health.test/2", "match": "根除", "merchant": "乙", "category": "medical_health",
         "rule": "MED-CURE-2", "sector": "health", "fetched_at": today},
    ])
    wang = Session(server, "wang")
    wang.post(f"/hit/{a}/confirm")
    wang.post(f"/hit/{b}/false-positive", {"reason": "r"})
    store = Store(db_path)
    try:
        late = store.create_lead("逾期未核查", [], "test", due_at="2026-01-05")
    finally:
        store.close()
    page = wang.get("/dashboard")
    assert '<tr data-category="medical_health"><td>医疗健康</td>' in page
    assert re.search(r'<tr data-sector="health"><td>health</td>.*?<td>2</td>', page, re.S)
    assert f'data-lead-id="{late}"' in page and "已超期 1 条" in page
    assert '<tr data-rule="MED-CURE"><td><code>MED-CURE</code></td><td>1</td><td>0</td><td>1</td>' in page


def test_other_pages_in_english(server, db_path):  # noqa: F811
    (a,) = seed(db_path, [{"url": "http://a.shop.test/1", "match": "最佳", "merchant": "甲"}])
    sun = Session(server, "sun")  # auditor: sees the audit log too
    sun.opener.open(server + "/lang/en").read()
    expected = {"/dashboard": "Rule precision", "/merchants": "Merchants by risk", "/rules": "Examples (must / must not match)",
                "/rules/try": "Text to check", "/rules/false-positives": "No false positives.",
                "/audit?verify=1": "Hash chain intact", "/public": "Nothing published yet."}
    for path, text in expected.items():
        page = sun.get(path)
        assert text in page and '<html lang="en">' in page, path
    merchant_id = int(sun.get("/merchants").split('data-merchant-id="')[1].split('"')[0])
    assert "Hits over 26 weeks" in sun.get(f"/merchant/{merchant_id}")


def test_price_charts_on_the_merchant_page_and_a_series_hit(server, db_path):  # noqa: F811
    from pipelines.store import Store

    store = Store(db_path)
    try:
        run = store.start_run("test", "tester", {})
        url = "http://p.shop.test/item/1"
        ids = []
        for day, (price, ref) in enumerate([(199, None), (199, None), (199, 599)]):
            prices = [{"amount": price, "kind": "current", "label": "到手价"}]
            if ref:
                prices.append({"amount": ref, "kind": "reference", "label": "原价"})
            ids.append(store.save_capture(run, {
                "url": url, "final_url": url, "status": 200, "body": f"v{day}".encode(),
                "fetched_at": f"2026-11-0{day + 1}T02:00:00Z", "fields": {"body": "商品"}, "title": "<b>商品</b>",
                "sector": "ecommerce", "merchant": {"name": "丙商店", "domain": "p.shop.test"}, "prices": prices}))
        hit_id, _ = store.save_series_hit(run, {
            "rule": "SERIES-FAKE-ORIGINAL", "episode": "e1", "product": url, "captures": [ids[2]],
            "category": "price_fraud", "severity": "high", "law": "《明码标价和禁止价格欺诈规定》第十九条",
            "message": "虚构原价", "match": "原价 ¥599", "observations": [], "legal": []})
        merchant_id = store.get_capture(ids[0])["merchant_id"]
    finally:
        store.close()
    wang = Session(server, "wang")
    page = wang.get(f"/merchant/{merchant_id}")
    assert page.count('class="price-chart"') == 1 and "<script" not in page.split("<main>")[1].split("</main>")[0]
    detail = wang.get(f"/hit/{hit_id}")
    assert 'class="price-chart"' in detail and 'r="6"' in detail and "圈出的是证明本条命中的采集" in detail
