"""A shop under /pricing/ whose prices, reference prices and banners change by simulated day.

Series rules (rules/series.py) can only be tested against a site that changes over time: this
one is driven by a clock the tests control. Day 0 is 2026-11-01 (China time).

The clock (module level, one per sandbox process):
    set_day(n) / get_day()                     from Python (tests running the sandbox in a thread)
    POST /pricing/_clock?day=N                 over HTTP, accepted only from a loopback client;
    GET  /pricing/_clock                       answers {"day": N, "date": "2026-11-0N"}
Pages show the simulated date, so each day's page is a new capture.

Sellers (item id: who, what changes); ``EXPECTED`` is the ground truth the tests assert:
    1 诚信家电      honest: ¥299 until day 6, then 原价¥299 现价¥239 (the 原价 was really charged); stock falls
    2 虚价小铺      fake 原价: always ¥199, from day 7 原价¥599 现价¥199 (¥599 never charged)
    3 涨价再降商行  先提价后打折: ¥159 until day 3, ¥259 days 4-6, from day 7 原价¥259 现价¥159
    4 天天最后一天  false urgency: 仅限今日 and a 倒计时 that restarts every day
    5 永远仅剩三件  static stock: 仅剩3件 on every day
    6 良心小店      honest one-day sale: 仅限今日 only on day 8 (原价¥59 现价¥47); stock falls
"""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import threading

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

DAY0 = dt.date(2026, 11, 1)
_lock = threading.Lock()
_state = {"day": 0}

# rule ids each item must (and only must) raise over days 0..8; honest sellers: none
EXPECTED = {
    1: set(),
    2: {"SERIES-FAKE-ORIGINAL-001"},
    3: {"SERIES-RAISE-BEFORE-CUT-002"},
    4: {"SERIES-URGENCY-REPEATED-001"},
    5: {"SERIES-STOCK-STATIC-002"},
    6: set(),
}


def set_day(day: int) -> None:
    with _lock:
        _state["day"] = int(day)


def get_day() -> int:
    with _lock:
        return _state["day"]


def date_of(day: int) -> dt.date:
    return DAY0 + dt.timedelta(days=day)


def item_state(item_id: int, day: int) -> dict | None:
    """What item `item_id` shows on `day`: name, seller, price, reference (or None), banner, stock."""
    if item_id == 1:
        promo = day >= 7
        return {"name": "变频电风扇", "seller": "诚信家电", "price": 239 if promo else 299,
                "reference": 299 if promo else None, "banner": "双十一促销 11月8日起" if promo else "",
                "stock": max(1, 20 - 2 * day)}  # fmt: skip
    if item_id == 2:
        return {"name": "不锈钢保温杯", "seller": "虚价小铺", "price": 199,
                "reference": 599 if day >= 7 else None, "banner": "", "stock": None}  # fmt: skip
    if item_id == 3:
        price = 159 if day <= 3 else 259
        promo = day >= 7
        return {"name": "加厚羽绒被", "seller": "涨价再降商行", "price": 159 if promo else price,
                "reference": 259 if promo else None, "banner": "限时折扣" if promo else "", "stock": None}  # fmt: skip
    if item_id == 4:
        return {"name": "蓝牙耳机", "seller": "天天最后一天", "price": 88, "reference": None,
                "banner": "仅限今日！倒计时 23:59:59", "stock": None}  # fmt: skip
    if item_id == 5:
        return {"name": "真丝围巾", "seller": "永远仅剩三件", "price": 129, "reference": None,
                "banner": "库存紧张", "stock": 3}  # fmt: skip
    if item_id == 6:
        sale = day == 8
        return {"name": "手工香皂", "seller": "良心小店", "price": 47 if sale else 59,
                "reference": 59 if sale else None, "banner": "仅限今日 八折" if sale else "",
                "stock": max(2, 30 - 3 * day)}  # fmt: skip
    return None


def _page(title: str, main: str, day: int) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - 比价集市</title></head>\n<body>\n"
        '<header class="site-header"><a href="/pricing/">比价集市</a> <a href="/">返回门户</a></header>\n'
        f'<main>\n{main}\n<p class="date">更新日期：{date_of(day).isoformat()}</p>\n</main>\n</body>\n</html>\n'
    )


def home_page(day: int) -> str:
    links = "\n".join(
        f'<li><a href="/pricing/item/{i}.html">{html.escape(item_state(i, day)["name"])}</a></li>'
        for i in sorted(EXPECTED)
    )
    return _page("首页", f'<h1>比价集市</h1>\n<ul class="goods-list">\n{links}\n</ul>', day)


def item_page(item_id: int, day: int) -> str | None:
    st = item_state(item_id, day)
    if st is None:
        return None
    price = f"现价 ¥{st['price']}"
    if st["reference"] is not None:
        price += f" <del>原价 ¥{st['reference']}</del>"
    parts = [
        f"<h1>{html.escape(st['name'])}</h1>",
        f'<div class="price">{price}</div>',
        f'<div class="seller">店铺名称：{html.escape(st["seller"])}</div>',
    ]
    if st["banner"]:
        parts.append(f'<p class="banner">{html.escape(st["banner"])}</p>')
    if st["stock"] is not None:
        parts.append(f'<p class="stock">仅剩{st["stock"]}件</p>')
    return _page(st["name"], "\n".join(parts), day)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def endpoint(request: Request) -> Response:
    """Every /pricing/ path (mounted by tests/sites/server.py)."""
    path = request.path_params.get("path", "")
    if path == "_clock":
        if request.method == "POST":
            if not _loopback(request):
                return Response("forbidden", status_code=403)
            try:
                set_day(int(request.query_params.get("day", "")))
            except ValueError:
                return Response("day=N required", status_code=400)
        day = get_day()
        return JSONResponse({"day": day, "date": date_of(day).isoformat()})
    day = get_day()
    body = None
    if path in ("", "index.html"):
        body = home_page(day)
    elif path.startswith("item/") and path.endswith(".html") and path[5:-5].isdigit():
        body = item_page(int(path[5:-5]), day)
    if body is None:
        return Response(
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>页面不存在</title></head>'
            "<body><h1>404 页面不存在</h1></body></html>",
            status_code=404,
            media_type="text/html; charset=utf-8",
        )
    return Response(body, media_type="text/html; charset=utf-8")
