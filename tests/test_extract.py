"""Document fields from captured HTML: what a visitor sees reaches the rule engine, nothing else."""

from __future__ import annotations

import rules
from pipelines.extract import extract

PAGE = """<!doctype html><html><head><title>破壁灵芝孢子粉</title>
<style>.x{content:"不显示"}</style><script>var claim = "脚本里的根治糖尿病";</script></head>
<body><h1>破壁灵芝孢子粉 60粒</h1>
<svg width="750" height="200" viewBox="0 0 750 200"><title>横幅</title><desc>设计稿说明：根治高血压</desc>
  <rect width="750" height="200" fill="#c00"/>
  <text x="40" y="80" font-size="48">三天<tspan fill="#ff0">根治</tspan>糖尿病</text>
  <text x="40" y="150" font-size="32">全国包邮</text>
  <text x="40" y="190" display="none">隐藏的药到病除</text>
  <g style="display:none"><text x="0" y="0">隐藏组里的包治百病</text></g>
</svg>
<p>产品规格：60粒/盒</p></body></html>"""


def test_text_an_inline_svg_draws_is_body_text_and_flagged() -> None:
    body = extract(PAGE, "http://shop.test/item/1.html")["fields"]["body"]
    assert body.splitlines() == ["破壁灵芝孢子粉 60粒", "三天根治糖尿病", "全国包邮", "产品规格：60粒/盒"]
    hits = rules.load_engine().check({"body": body})
    assert any("糖尿病" in h.match or "根治" in h.match for h in hits)
    for h in hits:
        assert body[h.start:h.end] == h.match


def test_what_is_not_drawn_stays_out() -> None:
    body = extract(PAGE, "http://shop.test/item/1.html")["fields"]["body"]
    # the SVG's title and description, hidden text, styles and scripts are not shown to a visitor
    for unseen in ("横幅", "设计稿说明", "隐藏的药到病除", "包治百病", "不显示", "脚本里的"):
        assert unseen not in body
