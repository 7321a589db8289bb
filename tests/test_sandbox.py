"""The sandbox web: what crawler, rule and review authors rely on."""

from __future__ import annotations

import asyncio
import html
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import websockets
import yaml

from tests.sites import live, mall
from tests.sites.server import serve, start_in_thread

SITES = Path(__file__).resolve().parent / "sites"
MANIFEST = yaml.safe_load((SITES / "manifest.yaml").read_text(encoding="utf-8"))
PAGES = MANIFEST["pages"]
HREF = re.compile(r"""href\s*=\s*["']?([^"' >]+)""", re.I)
HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")


@pytest.fixture(scope="module")
def base() -> str:
    url, stop = start_in_thread()
    yield url
    stop()


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def page_text(base: str, page: dict) -> str:
    status, _, body = get(base + page["path"])
    assert status == 200, page["path"]
    return body.decode(page.get("charset", "utf-8"))


def links(base: str, path: str) -> list[str]:
    _, _, body = get(base + path)
    return [urljoin(path, h) for h in HREF.findall(body.decode("utf-8", "replace"))]


def js_data(source: str) -> dict:
    m = re.search(r"const DATA = (\{.*?\});\n", source, re.S)
    assert m, "script data not found"
    return json.loads(m.group(1))


def strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def jsonld_strings(source: str) -> list[str]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', source, re.S)
    return [s for b in blocks for s in strings(json.loads(b))]


LIVE_FIELDS = ("text", "name", "price_label", "ref_label", "sales", "tag", "user")


def live_texts(room_id: str, field: str) -> list[str]:
    kind = field.split(".", 1)[1]
    return [str(ev[k]) for ev in live.room_events(room_id) if ev["type"] == kind for k in LIVE_FIELDS if k in ev]


def haystacks(base: str, page: dict, field: str, cache: dict) -> list[str]:
    """Where a manifest text of `field` must occur on `page`."""
    if field.startswith("live."):
        return live_texts(page["path"].rsplit("/", 1)[1], field)
    if page["path"] not in cache:
        cache[page["path"]] = page_text(base, page)
    source = cache[page["path"]]
    if field == "script":
        return strings(js_data(source))
    if field == "jsonld":
        return jsonld_strings(source)
    return [source, html.unescape(source)]


def entries(page: dict) -> list[tuple[str, str]]:
    found = [(v["text"], v.get("field", "text")) for v in page.get("violations", [])]
    for n in page.get("negatives", []):
        found.append((n, "text") if isinstance(n, str) else (n["text"], n.get("field", "text")))
    return found


# ---------------------------------------------------------------------------------------------- server API


def test_start_in_thread_returns_base_without_slash(base: str) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
    status, headers, body = get(base + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")


def test_stop_closes_the_socket() -> None:
    url, stop = start_in_thread()
    assert get(url + "/_health")[0] == 200
    stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/_health", timeout=2)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_serve_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(port=0, host=host)


def test_serve_prints_one_line_and_stops_on_ctrl_c() -> None:
    code = "from tests.sites.server import serve; serve(port=0)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=str(SITES.parent.parent),
    )
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"sandbox at (http://127\.0\.0\.1:(\d+))/\n", line)
        assert m, line
        assert int(m.group(2)) > 0
        assert get(m.group(1) + "/robots.txt")[0] == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out == "" and "Traceback" not in err
    assert proc.returncode == 0


def test_unknown_paths_and_traversal_are_404(base: str) -> None:
    assert get(base + "/no/such/page.html")[0] == 404
    assert get(base + "/shop/item/9999.html")[0] == 404
    assert get(base + "/shop/list/food/4.html")[0] == 404
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=5)
    for raw in ("/../server.py", "/static/../../server.py", "/%2e%2e/manifest.yaml", "/.hidden"):
        conn.request("GET", raw)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404, raw
    conn.close()


# ---------------------------------------------------------------------------------------------- crawl contract


def test_portal_links_reach_every_site(base: str) -> None:
    found = links(base, "/")
    for prefix in ("/shop/", "/edu/", "/fund/", "/health/", "/estate/", "/live/", "/mall/", "/notice/",
                   "/calendar/", "/enc/gbk.html", "/enc/gb18030.html", "/js/app.html", "/broken/page.html",
                   "/big/catalog.html", "/shop/private/", "/admin/"):
        assert any(link.startswith(prefix) for link in found), prefix
    for link in found:
        if link.startswith("/big/"):
            continue
        assert get(base + link)[0] == 200, link


def test_robots_txt(base: str) -> None:
    status, headers, body = get(base + "/robots.txt")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode("utf-8")
    assert "User-agent: *" in text
    assert "Disallow: /shop/private/" in text and "Disallow: /admin/" in text
    assert get(base + "/shop/private/")[0] == 200 and get(base + "/admin/")[0] == 200


@pytest.mark.parametrize("category", ["food", "beauty", "home"])
def test_shop_pagination_chain_ends(base: str, category: str) -> None:
    path, seen = f"/shop/list/{category}/1.html", []
    while path:
        seen.append(path)
        _, _, body = get(base + path)
        source = body.decode("utf-8")
        items = re.findall(r'href="(/shop/item/\d+\.html)"', source)
        assert len(items) == 3
        nxt = re.search(r'<a class="next" rel="next" href="([^"]+)"', source)
        path = nxt.group(1) if nxt else None
        assert len(seen) < 10
    assert seen == [f"/shop/list/{category}/{n}.html" for n in (1, 2, 3)]
    assert 'rel="prev"' in get(base + seen[-1])[2].decode("utf-8")


def test_shop_item_structure(base: str) -> None:
    source = get(base + "/shop/item/1101.html")[2].decode("utf-8")
    assert '<span class="price-now">¥199.00</span>' in source
    assert '<span class="price-ref-label">专柜价</span>' in source and '<del class="price-ref">¥1280.00</del>' in source
    assert '<span class="uscc">91430104MA4Q8N3DXQ</span>' in source
    assert '<meta name="description"' in source and 'alt="全网销量第一 玻色因修护精华"' in source
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', source, re.S).group(1))
    assert ld["@type"] == "Product" and ld["offers"]["@type"] == "Offer" and ld["offers"]["price"] == "199.00"


def test_uscc_check_digits(base: str) -> None:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    sellers = yaml.safe_load((SITES / "data" / "shop.yaml").read_text(encoding="utf-8"))["sellers"]
    for s in sellers.values():
        code = s["uscc"]
        assert len(code) == 18 and all(c in chars for c in code)
        total = sum(chars.index(c) * w for c, w in zip(code[:17], weights, strict=True))
        assert chars[(31 - total % 31) % 31] == code[17], code


def test_calendar_trap_keeps_producing_new_links(base: str) -> None:
    path, seen = "/calendar/2026/11", set()
    for _ in range(40):
        assert path not in seen
        seen.add(path)
        status, _, body = get(base + path)
        assert status == 200
        path = re.search(r'<a class="next" rel="next" href="([^"]+)"', body.decode("utf-8")).group(1)
    assert "/calendar/2030/2" in seen
    assert get(base + "/calendar/2026/13")[0] == 404


def test_gbk_page_is_gbk(base: str) -> None:
    status, headers, body = get(base + "/enc/gbk.html")
    assert headers["content-type"] == "text/html; charset=GBK"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    assert "湖南特产销量第一" in body.decode("gbk")


def test_gb18030_page_declared_only_by_meta(base: str) -> None:
    status, headers, body = get(base + "/enc/gb18030.html")
    assert headers["content-type"] == "text/html"
    assert b'<meta charset="gb2312">' in body
    for wrong in ("utf-8", "gb2312", "gbk"):
        with pytest.raises(UnicodeDecodeError):
            body.decode(wrong)
    assert "效果最好的奶粉没有之一" in body.decode("gb18030")


def test_js_only_page_has_no_visible_text_in_html(base: str) -> None:
    source = get(base + "/js/app.html")[2].decode("utf-8")
    assert not HAN.search(source)
    body = re.search(r"<body>(.*)</body>", source, re.S).group(1).strip()
    assert body.startswith("<script>") and body.endswith("</script>")
    assert "能治疗痛风、降血压" in " ".join(strings(js_data(source)))


def test_malformed_and_files(base: str) -> None:
    source = get(base + "/broken/page.html")[2].decode("utf-8")
    assert "</div></div></div>" in source and "</html>" not in source
    status, headers, pdf = get(base + "/shop/files/license-xinghe.pdf")
    assert headers["content-type"] == "application/pdf" and pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    status, headers, blob = get(base + "/shop/files/pricelist-huijia.zip")
    assert headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.namelist() == ["pricelist.csv"] and zf.testzip() is None
    assert "/shop/files/license-xinghe.pdf" in links(base, "/shop/seller/xinghe.html")


def test_hostile_page(base: str) -> None:
    source = get(base + "/shop/item/1107.html")[2].decode("utf-8")
    assert "<title>限时特惠<script>alert(1)</script>去屑洗发水" in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert '<img src="x" onerror="alert(1)"' in source and 'href="javascript:alert(1)"' in source
    assert any("</script><script>alert(1)</script>" in s for s in jsonld_strings(source))
    assert "javascript:alert(document.cookie)" in get(base + "/shop/seller/sugou.html")[2].decode("utf-8")


def test_big_page(base: str) -> None:
    status, headers, body = get(base + "/big/catalog.html")
    assert status == 200 and len(body) > 2_000_000
    text = body.decode("utf-8")
    assert text.index("全网最低价") < 1000 and text.rindex("售出概不退换") > len(text) - 200


def test_static_pages_support_conditional_requests(base: str) -> None:
    _, headers, _ = get(base + "/edu/")
    req = urllib.request.Request(base + "/edu/", headers={"If-None-Match": headers["etag"]})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 304


def test_redirects(base: str) -> None:
    for path, target in (("/shop", "/shop/"), ("/shop/index.html", "/shop/"), ("/edu", "/edu/"), ("/mall", "/mall/")):
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=5)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 301 and resp.getheader("location").endswith(target), path


# ---------------------------------------------------------------------------------------------- live room


def test_live_room_page_waits_for_the_socket(base: str) -> None:
    source = get(base + "/live/room/1001")[2].decode("utf-8")
    for cls in ("room-title", "pinned", "chat-list", "products"):
        assert f'class="{cls}"' in source
    assert "textContent" in source and "innerHTML" not in source
    for ev in live.room_events("1001"):
        assert ev.get("text", ev.get("name")) not in source
    assert get(base + "/live/room/9999")[0] == 404


@pytest.mark.parametrize("room_id", ["1001", "2002"])
def test_live_socket_sends_scripted_events_in_order(base: str, room_id: str) -> None:
    async def collect() -> list[dict]:
        url = base.replace("http://", "ws://") + f"/live/ws/{room_id}?speed=50&loops=2"
        async with websockets.connect(url) as ws:
            return [json.loads(frame) async for frame in ws]

    frames = asyncio.run(asyncio.wait_for(collect(), timeout=5))
    script = live.room_events(room_id)
    assert len(frames) == 2 * len(script)
    assert [f["seq"] for f in frames] == list(range(len(frames)))
    duration = live.ROOMS[room_id]["duration"]
    for i, frame in enumerate(frames):
        expected = script[i % len(script)]
        assert frame["loop"] == i // len(script)
        assert frame["t"] == pytest.approx(expected["t"] + frame["loop"] * duration)
        assert {k: v for k, v in frame.items() if k not in ("t", "seq", "loop")} == {
            k: v for k, v in expected.items() if k != "t"
        }
    assert {f["type"] for f in frames} == {"title", "pinned", "product_card", "chat"}
    gaps = [b["t"] - a["t"] for a, b in zip(script, script[1:], strict=False)]
    assert all(0.3 <= g <= 0.5 for g in gaps)


# ---------------------------------------------------------------------------------------------- manifest


def test_manifest_is_well_formed() -> None:
    categories = {"absolute_terms", "medical_health", "health_food", "drug_device", "education", "finance",
                  "real_estate", "price_fraud", "false_urgency", "unfair_terms", "false_advertising", "livestream",
                  "other"}
    sectors = {"ecommerce", "education", "finance", "health", "real_estate", "livestream", "other"}
    paths = [p["path"] for p in PAGES]
    assert len(paths) == len(set(paths))
    for page in PAGES:
        assert page["sector"] in sectors, page["path"]
        assert page["clean"] is (not page.get("violations")), page["path"]
        for v in page.get("violations", []):
            assert v["category"] in categories, (page["path"], v)


def test_every_manifest_page_answers_and_holds_its_texts(base: str) -> None:
    cache: dict[str, str] = {}
    for page in PAGES:
        status, headers, body = get(base + page["path"])
        assert status == 200, page["path"]
        if page.get("kind") == "file":
            assert headers["content-type"] == page["content_type"]
            continue
        for text, field in entries(page):
            assert any(text in h for h in haystacks(base, page, field, cache)), (page["path"], field, text)


# Words a naive keyword checker fires on. Every occurrence on a page must lie inside a manifest text
# (violation or negative), which keeps the manifest complete as the pages change.
NAIVE = ["最佳", "最 佳", "最*好", "最好", "最高", "最低", "最近", "最后", "第一", "第１", "国家级", "顶级",
         "独一无二", "全网", "保本", "无风险", "稳赚", "包过", "保过", "保证", "治愈", "治療", "治疗", "根治",
         "副作用", "疗效", "推荐", "推薦", "解释权", "概不退", "不予退还", "仅限", "仅剩", "特级", "一级",
         "升值", "投资回报", "私下交易", "已售"]


def covered_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    spans = []
    for needle in needles:
        for m in re.finditer(re.escape(needle), text):
            spans.append((m.start(), m.end()))
    return spans


def test_manifest_covers_every_naive_keyword(base: str) -> None:
    problems = []
    for page in PAGES:
        if page.get("kind") == "file":
            continue
        if page.get("render") == "live":
            room = page["path"].rsplit("/", 1)[1]
            texts = [t for f in ("live.title", "live.pinned", "live.chat", "live.product_card")
                     for t in live_texts(room, f)]
        elif page.get("render") == "js":
            texts = strings(js_data(page_text(base, page)))
        else:
            source = html.unescape(re.sub(r"<(?:script|style)\b[^>]*>.*?</(?:script|style)>", " ",
                                          page_text(base, page), flags=re.S))
            texts = [re.sub(r"<[^>]+>", " ", source)]
            texts += re.findall(r'(?:alt|content)="([^"]*)"', source)
        needles = [t for t, _ in entries(page)]
        for text in texts:
            spans = covered_spans(text, needles)
            for word in NAIVE:
                for m in re.finditer(re.escape(word), text):
                    if not any(a <= m.start() and m.end() <= b for a, b in spans):
                        problems.append((page["path"], word, text[max(0, m.start() - 12): m.end() + 12]))
    assert not problems, "\n".join(map(str, problems))


# ---------------------------------------------------------------------------------------------- generated mall


def test_mall_has_2000_distinct_reachable_pages(base: str) -> None:
    assert mall.page_count() == int(os.environ.get("SANDBOX_MALL_PAGES", 2000))
    products: set[str] = set()
    queue, seen = deque(["/mall/"]), {"/mall/"}
    while queue:
        path = queue.popleft()
        for link in links(base, path):
            if link.startswith("/mall/p/"):
                products.add(link)
            elif link.startswith("/mall/list/") and link not in seen:
                seen.add(link)
                queue.append(link)
    assert len(products) >= 2000
    bodies = set()
    for n in (1, 10, 20, 30, 40, 50, 999, 1000, 1999, 2000):
        path = f"/mall/p/{n}.html"
        assert path in products
        status, _, body = get(base + path)
        assert status == 200
        text = body.decode("utf-8")
        bodies.add(text)
        for v in mall.expected_violations(n):
            assert v["text"] in text
        assert (n % 10 == 0) == bool(mall.expected_violations(n))
    assert len(bodies) == 10
    assert get(base + "/mall/p/2001.html")[0] == 404 or mall.page_count() > 2000


# ---------------------------------------------------------------------------------------------- in a browser

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium") if Path(p).exists()), None)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's Chromium")
def test_script_page_and_live_room_render_in_a_browser(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(base + "/js/app.html")
            assert "能治疗痛风、降血压" in page.inner_text("body")
            page.goto(base + "/live/room/1001?speed=20")
            page.wait_for_function("document.querySelectorAll('.chat-msg').length >= 8", timeout=5000)
            assert "全网最低价" in page.inner_text(".room-title")
            assert page.inner_text(".pinned")
            cards = page.query_selector_all(".product-card")
            assert [c.get_attribute("data-sku") for c in cards] == ["A01", "A02"]
            assert "已售10万件" in cards[0].inner_text()
        finally:
            browser.close()
