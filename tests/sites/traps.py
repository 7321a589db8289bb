"""Crawl traps and odd resources: the endless calendar, the oversized page, non-HTML files."""

from __future__ import annotations

import functools
import io
import zipfile

CALENDAR_EVENTS = {
    3: "3·15国际消费者权益日主题活动",
    6: "618年中促销备案提醒",
    11: "双11网络促销合规指导",
    12: "年终消费投诉数据发布",
}


def calendar_page(year: int, month: int) -> str | None:
    """One month of an activity calendar; every month links to the previous and next month, forever."""
    if not 1 <= month <= 12 or year < 1:
        return None
    prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
    next_y, next_m = (year, month + 1) if month < 12 else (year + 1, 1)
    event = CALENDAR_EVENTS.get(month, "本月暂无安排")
    days = "".join(f'<td><a href="/calendar/{year}/{month}#d{d}">{d}</a></td>' for d in range(1, 29))
    prev_link = f'<a class="prev" rel="prev" href="/calendar/{prev_y}/{prev_m}">上个月</a>' if prev_y >= 1 else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{year}年{month}月 活动日历</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><main>
<h1>{year}年{month}月 活动日历</h1>
<p class="event">{event}</p>
<table class="month"><tr>{days}</tr></table>
<nav>{prev_link}
<a class="next" rel="next" href="/calendar/{next_y}/{next_m}">下个月</a>
<a href="/">返回门户</a></nav>
</main></body></html>
"""


BIG_ROWS = 24000


@functools.cache
def big_page() -> bytes:
    """An oversized catalogue page (about 3 MB) with violations at the very top and the very end."""
    head = """<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>全量商品目录 - 优品仓储</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><main>
<h1>全量商品目录</h1>
<p class="banner">仓储清货，全网最低价，一件也是批发价！</p>
<table class="catalog">
<tr><th>编号</th><th>品名</th><th>规格</th><th>批发价</th><th>库存</th></tr>
"""
    names = ["不锈钢汤锅", "玻璃保鲜盒", "纯棉浴巾", "竹制砧板", "陶瓷马克杯", "硅胶锅铲", "收纳挂钩", "密封罐"]
    specs = ["小号", "中号", "大号", "套装"]
    rows = []
    for i in range(1, BIG_ROWS + 1):
        rows.append(
            f"<tr><td>YP{i:06d}</td><td>{names[i % len(names)]}</td><td>{specs[i % len(specs)]}</td>"
            f"<td>{5 + (i * 37) % 200}.{i % 10}0</td><td>{(i * 13) % 500}</td></tr>\n"
        )
    tail = """</table>
<p class="footnote">以上商品均为库存尾货，售出概不退换。</p>
</main></body></html>
"""
    return (head + "".join(rows) + tail).encode("utf-8")


def _pdf() -> bytes:
    """A small valid one-page PDF (ASCII text only, no embedded fonts)."""
    stream = (
        b"BT /F1 14 Tf 72 760 Td (Business licence - scanned copy) Tj 0 -24 Td "
        b"(Changsha Xinghe E-commerce Co., Ltd.) Tj 0 -24 Td (USCC 91430100MA4LX7K263) Tj ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _zip() -> bytes:
    buf = io.BytesIO()
    csv = "品名,规格,批发价\n除甲醛空气净化器KJ500,台,560\n智能马桶盖,台,610\n天然乳胶枕,只,45\n"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("pricelist.csv", date_time=(2026, 10, 1, 9, 0, 0))
        zf.writestr(info, csv.encode("utf-8-sig"), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@functools.cache
def shop_file(name: str) -> tuple[bytes, str] | None:
    if name == "license-xinghe.pdf":
        return _pdf(), "application/pdf"
    if name == "pricelist-huijia.zip":
        return _zip(), "application/zip"
    return None
