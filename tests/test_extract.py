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


CSS_PAGE = """<!doctype html><html><head><title>玻尿酸面膜</title>
<style>
/* the banned word split across an element and the text a style rule draws before it */
.w1::before { content: "\\6700"; }      .w2:after { content: '一' attr(data-n); }
@media screen { .seo { display: none } }
a:hover { display: none }                 .gone::before { content: "被隐藏元素画的字"; }
p::first-line { content: "不是文字" }     :::bad[ { content: "坏选择器" }
.ico::before { content: "\\e600"; }       /* an icon font's glyph: a picture, not text */
.tip::after { content: "减10;包邮"; color: red }  /* a ; inside the string ends no declaration */
</style></head>
<body><p>全网<span class="w1"></span>好的补水面膜</p>
<p>销量<b class="w2" data-n="名"></b></p>
<p><span class="tip">满99</span></p>
<div class="seo">关键词堆砌：国家级 顶级 特效</div>
<div class="seo"><span class="gone"></span></div>
<p><a href="/buy"><i class="ico"></i>立即购买</a></p></body></html>"""


def test_text_a_style_sheet_draws_is_read_where_it_is_drawn_and_flagged() -> None:
    body = extract(CSS_PAGE, "http://shop.test/item/2.html")["fields"]["body"]
    # 最 is drawn by ::before (a CSS escape), 一名 by ::after from a string and an attribute
    assert body.splitlines() == ["全网最好的补水面膜", "销量一名", "满99减10;包邮", "立即购买"]
    hits = rules.load_engine().check({"body": body})
    assert any(h.category == "absolute_terms" and "最好" in h.match for h in hits)


def test_what_a_style_sheet_hides_stays_out_and_bad_css_is_skipped() -> None:
    body = extract(CSS_PAGE, "http://shop.test/item/2.html")["fields"]["body"]
    # hidden by a class rule inside @media, with what its children's pseudo-elements draw;
    # a :hover rule hides nothing until hovered; a selector lxml cannot read is skipped; an icon
    # glyph drawn from a Private Use Area is not text
    for unseen in ("关键词堆砌", "国家级", "被隐藏元素画的字", "不是文字", "坏选择器"):
        assert unseen not in body
    assert "立即购买" in body
