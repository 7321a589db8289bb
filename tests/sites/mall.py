"""A generated mall under /mall/ for crawl benchmarks: SANDBOX_MALL_PAGES product pages (default 2000).

Content is a pure function of the page number, built on the fly. Every tenth product carries one
violation; ``expected_violations(n)`` gives the ground truth for product ``n``.
"""

from __future__ import annotations

import os

PER_LIST = 50
DEFAULT_PAGES = 2000

ADJECTIVES = ["加厚", "便携", "家用", "大容量", "静音", "可折叠", "防滑", "速干", "纯棉", "不锈钢"]
NOUNS = ["保温杯", "收纳盒", "拖把", "晾衣架", "电热水壶", "毛巾", "抱枕", "台灯", "衣架", "饭盒", "雨伞", "拖鞋"]
COLOURS = ["白色", "灰色", "浅蓝", "米黄", "墨绿"]
SELLERS = ["优品家居店", "好邻居百货", "云杉日用专营店", "小橙生活馆"]

# (category, sentence) chosen by (n // 10) % len(VIOLATIONS) for every n divisible by 10.
VIOLATIONS = [
    ("absolute_terms", "同类产品中品质最佳，销量第一。"),
    ("price_fraud", "原价899元，现价仅需99元，价格虚高一目了然。"),
    ("false_urgency", "仅限今日，最后一天恢复原价！"),
    ("unfair_terms", "特价商品售出概不退换，本店拥有最终解释权。"),
    ("false_advertising", "有效率99.8%，专家推荐。"),
]

# What a correct rule engine must flag for each violation sentence (exact substrings of it).
VIOLATION_TEXTS = {
    "absolute_terms": ["最佳", "销量第一"],
    "price_fraud": ["原价899元，现价仅需99元"],
    "false_urgency": ["仅限今日", "最后一天"],
    "unfair_terms": ["售出概不退换", "本店拥有最终解释权"],
    "false_advertising": ["有效率99.8%", "专家推荐"],
}


def page_count() -> int:
    try:
        return max(1, int(os.environ.get("SANDBOX_MALL_PAGES", DEFAULT_PAGES)))
    except ValueError:
        return DEFAULT_PAGES


def expected_violations(n: int) -> list[dict[str, str]]:
    """Ground truth for /mall/p/<n>.html: a list of {category, text}."""
    if n % 10:
        return []
    category, _ = VIOLATIONS[(n // 10) % len(VIOLATIONS)]
    return [{"category": category, "text": t} for t in VIOLATION_TEXTS[category]]


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head><meta charset="utf-8">'
        f"<title>{title} - 优品大卖场</title>"
        '<link rel="stylesheet" href="/static/site.css"></head>\n<body>\n'
        '<header class="site-header"><a href="/mall/">优品大卖场</a> <a href="/">返回门户</a></header>\n<main>\n'
    )


FOOT = "</main>\n</body>\n</html>\n"


def product_name(n: int) -> str:
    return f"{ADJECTIVES[n % len(ADJECTIVES)]}{NOUNS[(n // 3) % len(NOUNS)]} {COLOURS[(n // 7) % len(COLOURS)]} {n}号款"


def price(n: int) -> str:
    return f"{9 + (n * 7919) % 290}.{(n * 31) % 10}0"


class MallSite:
    def __init__(self, pages: int | None = None) -> None:
        self.pages = pages if pages is not None else page_count()
        self.lists = -(-self.pages // PER_LIST)

    def home_page(self) -> str:
        links = "\n".join(
            f'<li><a href="/mall/list/{i}.html">第{i}页</a></li>' for i in range(1, self.lists + 1)
        )
        return (
            _head("首页")
            + f"<h1>优品大卖场</h1>\n<p>共{self.pages}件商品，每页{PER_LIST}件。</p>\n"
            + f'<ul class="list-pages">\n{links}\n</ul>\n'
            + FOOT
        )

    def list_page(self, page: int) -> str | None:
        if not 1 <= page <= self.lists:
            return None
        first = (page - 1) * PER_LIST + 1
        last = min(page * PER_LIST, self.pages)
        items = "\n".join(
            f'<li class="product"><a href="/mall/p/{n}.html">{product_name(n)}</a> '
            f'<span class="price-now">¥{price(n)}</span></li>'
            for n in range(first, last + 1)
        )
        nav = []
        if page > 1:
            nav.append(f'<a class="prev" rel="prev" href="/mall/list/{page - 1}.html">上一页</a>')
        if page < self.lists:
            nav.append(f'<a class="next" rel="next" href="/mall/list/{page + 1}.html">下一页</a>')
        return (
            _head(f"商品列表 第{page}页")
            + f'<h1>商品列表 第{page}页</h1>\n<ul class="product-list">\n{items}\n</ul>\n'
            + f'<nav class="pagination">{" ".join(nav)}</nav>\n'
            + FOOT
        )

    def item_page(self, item_id: int) -> str | None:
        n = item_id
        if not 1 <= n <= self.pages:
            return None
        name = product_name(n)
        seller = SELLERS[n % len(SELLERS)]
        extra = ""
        if n % 10 == 0:
            extra = f'<p class="promo">{VIOLATIONS[(n // 10) % len(VIOLATIONS)][1]}</p>\n'
        related = " ".join(
            f'<a href="/mall/p/{m}.html">{product_name(m)}</a>'
            for m in ((n * 17) % self.pages + 1, (n * 29) % self.pages + 1, (n * 43) % self.pages + 1)
        )
        nav = []
        if n > 1:
            nav.append(f'<a class="prev" href="/mall/p/{n - 1}.html">上一件</a>')
        if n < self.pages:
            nav.append(f'<a class="next" href="/mall/p/{n + 1}.html">下一件</a>')
        nav.append(f'<a href="/mall/list/{(n - 1) // PER_LIST + 1}.html">返回列表</a>')
        return (
            _head(name)
            + f'<article class="item" data-sku="M{n:05d}">\n<h1 class="item-title">{name}</h1>\n'
            + '<div class="price-block"><span class="price-now-label">现价</span>'
            + f'<span class="price-now">¥{price(n)}</span></div>\n'
            + f'<p class="seller">店铺：{seller}</p>\n'
            + f"<p>商品编号M{n:05d}，颜色{COLOURS[(n // 7) % len(COLOURS)]}，"
            + "适合日常家用。下单后48小时内发货，支持七天无理由退货。</p>\n"
            + extra
            + f'<p class="related">看了又看：{related}</p>\n'
            + f'<nav>{" ".join(nav)}</nav>\n</article>\n'
            + FOOT
        )
