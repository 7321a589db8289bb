"""review_ui.price_chart: an inline SVG of observed and claimed prices, safe to embed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from review_ui.price_chart import price_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def obs(day: int, price, refs=(), cid=None):
    return {"at": f"2026-11-0{day + 1}T02:00:00Z", "price": price, "capture_id": cid,
            "references": [{"label": label, "amount": amount} for label, amount in refs]}  # fmt: skip


def test_chart_draws_prices_references_and_proving_captures():
    series = [obs(0, 199, cid=1), obs(2, 199, cid=2), obs(7, 199, [("原价", 599)], cid=3)]
    svg = price_chart_svg(series, highlight={3})
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == SVG + "svg"
    circles = root.findall(f".//{SVG}circle")
    assert len(circles) == 3
    assert [c.get("r") for c in circles] == ["3.5", "3.5", "6"]
    assert "标示原价 ¥599（采集 #3）" in svg and "实际售价 ¥199" in svg
    assert "11-01" in svg and "11-08" in svg
    assert "<script" not in svg.lower() and "href" not in svg


def test_hostile_labels_are_escaped_and_empty_series_is_a_note():
    svg = price_chart_svg([obs(0, 10, [("<script>alert(1)</script>", 99)]), obs(1, 12)], title='"><img>')
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<img>" not in svg
    ET.fromstring(svg)
    empty = price_chart_svg([])
    assert "暂无价格记录" in empty
    ET.fromstring(empty)
