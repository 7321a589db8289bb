"""The sandbox e-commerce mall under /shop/: list, item and seller pages rendered from data/shop.yaml."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import yaml
from jinja2 import DictLoader, Environment, select_autoescape

DATA = Path(__file__).resolve().parent / "data" / "shop.yaml"
PER_PAGE = 3

LAYOUT = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{% block title %}{% endblock %} - 放心购商城</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{% block head %}{% endblock %}
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header class="site-header">
  <a class="logo" href="/shop/">放心购商城</a>
  <nav class="cats">
    {% for c in categories %}<a href="/shop/list/{{ c.id }}/1.html">{{ c.name }}</a>
    {% endfor %}
    <a href="/shop/terms/notice.html">购物须知</a>
    <a href="/shop/terms/returns.html">退换货政策</a>
    <a href="/shop/terms/member.html">会员协议</a>
  </nav>
</header>
<main>
{% block main %}{% endblock %}
</main>
<footer class="site-footer">
  <p>放心购商城 · 客服热线 400-800-1315 · <a href="/">返回门户</a></p>
</footer>
</body>
</html>
"""

HOME = """{% extends "layout" %}
{% block title %}首页{% endblock %}
{% block head %}<meta name="description" content="放心购商城：食品饮料、美妆个护、家居日用，入驻商家均公示营业执照信息。">{% endblock %}
{% block main %}
<h1>放心购商城</h1>
<section class="categories">
  <h2>商品分类</h2>
  <ul>
  {% for c in categories %}<li><a href="/shop/list/{{ c.id }}/1.html">{{ c.name }}</a></li>
  {% endfor %}
  </ul>
</section>
<section class="featured">
  <h2>本周上新</h2>
  <ul>
  {% for p in featured %}<li><a href="/shop/item/{{ p.id }}.html">{{ p.name }}</a>
    <span class="price-now">¥{{ money(p.now.value) }}</span></li>
  {% endfor %}
  </ul>
</section>
<section class="sellers">
  <h2>入驻店铺</h2>
  <ul>
  {% for sid, s in sellers.items() %}<li><a href="/shop/seller/{{ sid }}.html">{{ s.name }}</a></li>
  {% endfor %}
  </ul>
</section>
<section class="files">
  <h2>资质公示</h2>
  <p><a href="/shop/files/license-xinghe.pdf">星禾优选旗舰店营业执照（PDF）</a>
     · <a href="/shop/files/pricelist-huijia.zip">惠家生活馆批发价目表（ZIP）</a></p>
</section>
{% endblock %}
"""

LIST = """{% extends "layout" %}
{% block title %}{{ category.name }} 第{{ page }}页{% endblock %}
{% block head %}
{% if page > 1 %}<link rel="prev" href="/shop/list/{{ category.id }}/{{ page - 1 }}.html">{% endif %}
{% if page < pages %}<link rel="next" href="/shop/list/{{ category.id }}/{{ page + 1 }}.html">{% endif %}
{% endblock %}
{% block main %}
<h1 class="list-title">{{ category.name }}</h1>
<ul class="product-list">
{% for p in items %}  <li class="product">
    <a class="product-link" href="/shop/item/{{ p.id }}.html">{{ p.name }}</a>
    <span class="price-now-label">{{ p.now.label }}</span><span class="price-now">¥{{ money(p.now.value) }}</span>
    <span class="shop-name">{{ sellers[p.seller].name }}</span>
  </li>
{% endfor %}</ul>
<nav class="pagination">
  {% if page > 1 %}<a class="prev" rel="prev" href="/shop/list/{{ category.id }}/{{ page - 1 }}.html">上一页</a>{% endif %}
  {% for n in range(1, pages + 1) %}{% if n == page %}<span class="current">{{ n }}</span>{% else %}<a class="page" href="/shop/list/{{ category.id }}/{{ n }}.html">{{ n }}</a>{% endif %}
  {% endfor %}
  {% if page < pages %}<a class="next" rel="next" href="/shop/list/{{ category.id }}/{{ page + 1 }}.html">下一页</a>{% endif %}
</nav>
{% endblock %}
"""

ITEM = """{% extends "layout" %}
{% block title %}{% if p.raw_title %}{{ p.name | safe }}{% else %}{{ p.name }}{% endif %}{% endblock %}
{% block head %}
<meta name="description" content="{{ p.meta }}">
<script type="application/ld+json">{{ jsonld | safe }}</script>
{% endblock %}
{% block main %}
<nav class="breadcrumb"><a href="/shop/">首页</a> &gt; <a href="/shop/list/{{ category.id }}/1.html">{{ category.name }}</a></nav>
<article class="item" data-sku="{{ p.id }}">
  <h1 class="item-title">{{ p.name }}</h1>
  <img class="item-image" src="/static/img/product.svg" alt="{{ p.alt }}" width="320" height="320">
  <div class="price-block">
    <span class="price-now-label">{{ p.now.label }}</span>
    <span class="price-now">¥{{ money(p.now.value) }}</span>
    {% if p.ref %}<span class="price-ref-label">{{ p.ref.label }}</span>
    <del class="price-ref">¥{{ money(p.ref.value) }}</del>{% endif %}
    {% if p.price_note %}<p class="price-note">{{ p.price_note }}</p>{% endif %}
  </div>
  <div class="seller-block">
    <p>店铺：<a class="shop-name" href="/shop/seller/{{ p.seller }}.html">{{ seller.name }}</a></p>
    <p>经营者：<span class="company">{{ seller.company }}</span></p>
    <p>统一社会信用代码：<span class="uscc">{{ seller.uscc }}</span></p>
  </div>
  <section class="desc">
{{ p.desc | safe }}
  </section>
</article>
{% endblock %}
"""

SELLER = """{% extends "layout" %}
{% block title %}{{ s.name }}{% endblock %}
{% block main %}
<article class="seller" data-seller="{{ sid }}">
  <h1 class="shop-name">{{ s.name }}</h1>
  <dl class="license">
    <dt>经营者名称</dt><dd class="company">{{ s.company }}</dd>
    <dt>统一社会信用代码</dt><dd class="uscc">{{ s.uscc }}</dd>
    <dt>经营地址</dt><dd class="address">{{ s.address }}</dd>
    <dt>联系电话</dt><dd class="phone">{{ s.phone }}</dd>
  </dl>
  <section class="notice">
    <h2>店铺公告</h2>
{{ s.notice | safe }}
  </section>
  {% if s.files %}<section class="files"><h2>资质文件</h2>
  {% for f in s.files %}<p><a href="{{ f.href }}">{{ f.label }}</a></p>{% endfor %}
  </section>{% endif %}
  <section class="goods">
    <h2>本店商品</h2>
    <ul>
    {% for p in goods %}<li><a href="/shop/item/{{ p.id }}.html">{{ p.name }}</a></li>
    {% endfor %}
    </ul>
  </section>
</article>
{% endblock %}
"""


def money(value: float) -> str:
    return f"{value:.2f}"


def jsonld_text(obj: dict[str, Any]) -> str:
    """JSON for a <script> element: every '<' escaped as \\u003c, which is valid JSON and cannot end the script."""
    return json.dumps(obj, ensure_ascii=False, indent=1).replace("<", "\\u003c").replace(">", "\\u003e")


class ShopSite:
    """Renders /shop/ pages on demand and keeps every rendered page in memory."""

    featured_ids = (1002, 1003, 1103, 1203, 1205)

    def __init__(self, data_path: Path = DATA) -> None:
        data = yaml.safe_load(data_path.read_text(encoding="utf-8"))
        self.categories: list[dict[str, str]] = data["categories"]
        self.sellers: dict[str, dict[str, Any]] = data["sellers"]
        self.products: list[dict[str, Any]] = data["products"]
        self.by_id = {p["id"]: p for p in self.products}
        self.env = Environment(
            loader=DictLoader({"layout": LAYOUT, "home": HOME, "list": LIST, "item": ITEM, "seller": SELLER}),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
        )
        self.env.globals.update(money=money, categories=self.categories, sellers=self.sellers)
        self.cache: dict[tuple[Any, ...], str] = {}
        self.lock = threading.Lock()

    def _cached(self, key: tuple[Any, ...], build: Any) -> str | None:
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        html = build()
        if html is not None:  # misses are not cached: arbitrary URLs must not grow memory
            with self.lock:
                self.cache[key] = html
        return html

    def category(self, cid: str) -> dict[str, str] | None:
        return next((c for c in self.categories if c["id"] == cid), None)

    def in_category(self, cid: str) -> list[dict[str, Any]]:
        return [p for p in self.products if p["category"] == cid]

    def pages(self, cid: str) -> int:
        return max(1, -(-len(self.in_category(cid)) // PER_PAGE))

    def home_page(self) -> str | None:
        def build() -> str:
            featured = [self.by_id[i] for i in self.featured_ids]
            return self.env.get_template("home").render(featured=featured)

        return self._cached(("home",), build)

    def list_page(self, category: str, page: int) -> str | None:
        def build() -> str | None:
            cat = self.category(category)
            if cat is None:
                return None
            pages = self.pages(category)
            if not 1 <= page <= pages:
                return None
            items = self.in_category(category)[(page - 1) * PER_PAGE : page * PER_PAGE]
            return self.env.get_template("list").render(category=cat, page=page, pages=pages, items=items)

        return self._cached(("list", category, page), build)

    def jsonld(self, p: dict[str, Any]) -> str:
        seller = self.sellers[p["seller"]]
        obj = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": p["name"],
            "sku": str(p["id"]),
            "image": "/static/img/product.svg",
            "description": p.get("jsonld_description", p["meta"]),
            "brand": {"@type": "Brand", "name": p["brand"]},
            "offers": {
                "@type": "Offer",
                "price": money(p["now"]["value"]),
                "priceCurrency": "CNY",
                "availability": "https://schema.org/InStock",
                "url": f"/shop/item/{p['id']}.html",
                "seller": {"@type": "Organization", "name": seller["name"]},
            },
        }
        return jsonld_text(obj)

    def item_page(self, item_id: int) -> str | None:
        def build() -> str | None:
            p = self.by_id.get(item_id)
            if p is None:
                return None
            return self.env.get_template("item").render(
                p=p, seller=self.sellers[p["seller"]], category=self.category(p["category"]), jsonld=self.jsonld(p)
            )

        return self._cached(("item", item_id), build)

    def seller_page(self, seller_id: str) -> str | None:
        def build() -> str | None:
            s = self.sellers.get(seller_id)
            if s is None:
                return None
            goods = [p for p in self.products if p["seller"] == seller_id]
            return self.env.get_template("seller").render(sid=seller_id, s=s, goods=goods)

        return self._cached(("seller", seller_id), build)
