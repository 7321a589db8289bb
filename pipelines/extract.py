"""Extract document fields, prices and the merchant from a captured HTML page.

Fields (the names the rule packs' `scopes` use): title, body (visible text
outside price blocks and terms, the text of inline SVG drawings and the text the page's style
sheets draw with ``content`` included, what they hide left out: `pipelines.pagecss`), price,
terms, alt, meta, jsonld. Parsing is
lxml's HTML parser, which tolerates malformed markup; a page it cannot parse
is recorded with an error and the crawl goes on.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from pipelines.pagecss import PageStyle

SKIP_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "li", "ul", "ol", "dl", "dt", "dd",
    "table", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "form", "blockquote", "pre", "figure",
    "figcaption", "address", "details", "summary", "label", "option",
}
TERMS_WORDS = ("购物须知", "退换货", "退货", "退款", "服务条款", "会员协议", "用户协议", "服务协议", "消费须知",
               "购买须知", "预订须知", "活动规则", "免责声明", "售后")
TERMS_MARKERS = re.compile(r"terms|policy|notice|agreement|rules|tiaokuan|xuzhi", re.I)
PRICE_MARKERS = re.compile(r"price|jiage", re.I)
REFERENCE_MARKERS = re.compile(r"ref|orig|old|market|list|del|strike|was|counter", re.I)
REFERENCE_LABELS = ("原价", "划线价", "市场价", "专柜价", "吊牌价", "参考价", "门市价", "建议零售价", "零售价", "官方价", "日常价")
CURRENT_LABELS = ("现价", "到手价", "促销价", "活动价", "直播价", "秒杀价", "券后价", "售价", "团购价", "会员价", "优惠价", "折后价")
AMOUNT = re.compile(r"(?:[¥￥]|RMB|CNY)?\s*(\d{1,9}(?:,\d{3})*(?:\.\d{1,2})?)\s*(?:元)?")
CREDIT_CODE = re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])")
SELLER_MARKERS = re.compile(r"seller|shop-?name|store-?name|merchant|vendor|company", re.I)
SELLER_LABEL = re.compile(r"(?:店铺名称|店铺|商家名称|商家|卖家|经营者名称|经营者|销售方|企业名称|公司名称|机构名称)\s*[:：]\s*([^\s，。;；|｜]{2,40})")
JSONLD_SKIP_KEYS = {"@context", "@type", "@id", "url", "image", "logo", "sameAs", "priceCurrency", "availability",
                    "itemCondition", "gtin", "gtin13", "sku", "mpn", "contentUrl", "thumbnailUrl"}

SECTOR_BY_TYPE = {
    "Product": "ecommerce", "Offer": "ecommerce", "AggregateOffer": "ecommerce",
    "Course": "education", "EducationalOrganization": "education",
    "FinancialProduct": "finance", "InvestmentOrDeposit": "finance", "LoanOrCredit": "finance",
    "BankAccount": "finance", "Drug": "health", "DietarySupplement": "health", "MedicalDevice": "health",
    "Residence": "real_estate", "Apartment": "real_estate", "House": "real_estate",
}
SECTOR_WORDS = {
    "education": ("课程", "培训", "考试", "学员", "报名", "讲师", "考研", "公考", "班型"),
    "finance": ("理财", "收益", "年化", "基金", "投资", "贷款", "存款", "保本"),
    "health": ("保健食品", "保健", "药品", "医疗器械", "功效", "疗效", "营养", "调理", "蓝帽"),
    "real_estate": ("楼盘", "户型", "房源", "售楼", "地铁", "学区", "精装"),
    "livestream": ("直播间", "主播", "直播"),
    "ecommerce": ("加入购物车", "立即购买", "店铺", "商品", "包邮", "现价", "原价"),
}


def _classes(el) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _is_hidden(el) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _text_of(el, out: list[str], skip: set, tail: bool = True, style: PageStyle | None = None) -> None:
    """Append the visible text of `el` (and its tail, unless `tail` is False) to `out`, blocks on their own lines;
    with the page's `style`, text its sheets draw before and after an element is included and what they hide is not."""
    if not isinstance(el.tag, str):  # comments, processing instructions
        if el.tail:
            out.append(el.tail)
        return
    tag = el.tag.lower()
    if tag == "svg" and id(el) not in skip and not _is_hidden(el):
        _svg_text(el, out)
        if tail and el.tail:
            out.append(el.tail)
        return
    if tag in SKIP_TAGS or id(el) in skip or _is_hidden(el) or (style is not None and id(el) in style.hidden):
        if el.tail:
            out.append(el.tail)
        return
    block = tag in BLOCK_TAGS
    if block:
        out.append("\n")
    drawn = style.before.get(id(el)) if style else None
    if drawn:
        out.append(drawn)
    if el.text:
        out.append(el.text)
    for child in el:
        _text_of(child, out, skip, style=style)
    drawn = style.after.get(id(el)) if style else None
    if drawn:
        out.append(drawn)
    if block:
        out.append("\n")
    if tail and el.tail:
        out.append(el.tail)


def _svg_text(svg, out: list[str]) -> None:
    """The text an inline SVG draws (a banner or badge drawn as vector text is as visible as a
    paragraph): each <text> element on its own line, its <tspan> pieces joined; not <title>,
    <desc>, <style> or <script>, which are not drawn."""
    for el in svg:  # a hidden group hides what it holds: its subtree is not entered
        if not isinstance(el.tag, str) or _is_hidden(el) or el.get("display") == "none" or el.get("visibility") == "hidden":
            continue
        name = el.tag.rsplit("}", 1)[-1].lower()
        if name == "text":
            out.append("\n" + "".join(el.itertext()) + "\n")
        elif name not in ("title", "desc", "style", "script"):
            _svg_text(el, out)


def _clean(parts: list[str]) -> str:
    text = "".join(parts)
    lines = (re.sub(r"[ \t\r\f\v\u3000]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def visible_text(el, skip: set | None = None, style: PageStyle | None = None) -> str:
    out: list[str] = []
    _text_of(el, out, skip or set(), tail=False, style=style or None)
    return _clean(out)


def _heading_text(el) -> str:
    for child in el.iter("h1", "h2", "h3", "h4", "h5", "strong", "legend", "caption"):
        return (child.text_content() or "").strip()
    return ""


def _terms_blocks(body) -> list:
    """Elements that hold standard terms: marked by id/class, or headed by a terms word."""
    blocks = []
    for el in body.iter("section", "div", "article", "aside", "dl", "ol", "ul", "details"):
        if any(el is b or b in el.iterancestors() for b in blocks):
            continue
        marked = bool(TERMS_MARKERS.search(_classes(el)))
        headed = any(w in _heading_text(el)[:30] for w in TERMS_WORDS)
        if marked or headed:
            # Take the smallest element carrying the heading, not the page wrapper.
            if len(el.text_content() or "") > 20000 and not marked:
                continue
            blocks.append(el)
    return blocks


def _price_blocks(body) -> list:
    blocks = []
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if PRICE_MARKERS.search(_classes(el)) or el.tag in ("del", "s", "strike"):
            if any(b in el.iterancestors() for b in blocks):
                continue
            text = (el.text_content() or "").strip()
            if text and len(text) < 200 and re.search(r"\d", text):
                blocks.append(el)
    return blocks


def _parse_amount(text: str) -> float | None:
    m = AMOUNT.search(text)
    if not m:
        return None
    try:
        return float(m.group(1).replace(",", ""))
    except ValueError:
        return None


LABELLED_AMOUNT = re.compile(
    r"(" + "|".join(REFERENCE_LABELS + CURRENT_LABELS) + r")\s*[:：]?\s*(?:[¥￥]|RMB|CNY)?\s*(\d{1,9}(?:,\d{3})*(?:\.\d{1,2})?)"
)


def _price_entries(blocks) -> list[dict]:
    """Label/amount pairs of the price blocks; struck-through or reference-marked amounts count as reference prices."""
    entries = []
    for el in blocks:
        text = re.sub(r"\s+", " ", el.text_content() or "").strip()
        pairs = LABELLED_AMOUNT.findall(text)
        for label, amount in pairs:
            entries.append({"label": label, "amount": float(amount.replace(",", "")),
                            "kind": "reference" if label in REFERENCE_LABELS else "current", "text": text[:120]})
        if pairs:
            continue
        # No label inside: the element's own markup says what it is ("<del>¥399</del>", class="price-now").
        struck = [d for d in el.iter("del", "s", "strike")]
        for d in struck:
            amount = _parse_amount(d.text_content() or "")
            if amount is not None:
                entries.append({"label": "划线价", "amount": amount, "kind": "reference", "text": text[:120]})
        if struck:
            continue
        amount = _parse_amount(text)
        if amount is None:
            continue
        prev = el.getprevious()
        context = (prev.text_content() if prev is not None else "") or ""
        label = next((w for w in REFERENCE_LABELS + CURRENT_LABELS if w in context[-12:]), "")
        is_reference = label in REFERENCE_LABELS or (not label and bool(REFERENCE_MARKERS.search(_classes(el))))
        entries.append({"label": label, "amount": amount, "kind": "reference" if is_reference else "current",
                        "text": text[:120]})
    return entries


def _jsonld(doc) -> tuple[list[str], list[dict]]:
    texts: list[str] = []
    objects: list[dict] = []

    def walk(value, key=""):
        if isinstance(value, dict):
            objects.append(value)
            for k, v in value.items():
                if k not in JSONLD_SKIP_KEYS:
                    walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and value.strip() and not value.startswith(("http://", "https://")):
            if key not in ("price", "lowPrice", "highPrice"):
                texts.append(value.strip())

    for script in doc.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json":
            continue
        try:
            walk(json.loads(script.text or ""))
        except (ValueError, RecursionError):
            continue
    return texts, objects


def _types(objects: list[dict]) -> set[str]:
    found: set[str] = set()
    for obj in objects:
        t = obj.get("@type")
        for name in t if isinstance(t, list) else [t]:
            if isinstance(name, str):
                found.add(name)
    return found


def _merchant(url: str, text: str, doc, objects: list[dict]) -> dict | None:
    domain = (urlsplit(url).hostname or "").lower()
    code = None
    m = re.search(r"(?:统一社会信用代码|信用代码|营业执照注册号|注册号)\s*[:：]?\s*([0-9A-Z]{18})", text)
    if m and CREDIT_CODE.fullmatch(m.group(1)):
        code = m.group(1)
    name = None
    for el in doc.iter():
        if isinstance(el.tag, str) and SELLER_MARKERS.search(_classes(el)):
            candidate = re.sub(r"\s+", " ", el.text_content() or "").strip()
            label = SELLER_LABEL.search(candidate)
            candidate = label.group(1) if label else candidate
            if 2 <= len(candidate) <= 40 and not CREDIT_CODE.search(candidate):
                name = candidate
                break
    if name is None:
        m = SELLER_LABEL.search(text)
        if m:
            name = m.group(1)
    if name is None:
        for obj in objects:
            for key in ("seller", "provider", "brand", "offeredBy"):
                val = obj.get(key)
                if isinstance(val, dict) and isinstance(val.get("name"), str):
                    name = val["name"].strip()
                    break
            if name:
                break
    if not (name or code):
        return None
    return {"name": name, "credit_code": code, "domain": domain}


def guess_sector(title: str, body: str, types: set[str]) -> str:
    for t in types:
        if t in SECTOR_BY_TYPE and SECTOR_BY_TYPE[t] != "ecommerce":
            return SECTOR_BY_TYPE[t]
    sample = (title + "\n" + body)[:6000]
    scores = {sector: sum(sample.count(w) for w in words) for sector, words in SECTOR_WORDS.items()}
    best = max(scores, key=scores.get)
    if scores[best] >= 2:
        return best
    if any(SECTOR_BY_TYPE.get(t) == "ecommerce" for t in types):
        return "ecommerce"
    return "other"


def extract(html: str, url: str) -> dict:
    """Return {"fields": {...}, "title", "merchant", "prices", "sector_guess"} for one HTML page."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ValueError(f"HTML 无法解析 (unparseable HTML): {exc}") from exc
    title_el = doc.find(".//title")
    title = re.sub(r"\s+", " ", title_el.text_content()).strip() if title_el is not None else ""
    body_el = doc.find("body")
    root = body_el if body_el is not None else doc

    style = PageStyle.of(doc)
    terms_blocks = _terms_blocks(root)
    price_blocks = [b for b in _price_blocks(root) if not any(t in b.iterancestors() or t is b for t in terms_blocks)]
    skip = {id(b) for b in terms_blocks + price_blocks}
    body = visible_text(root, skip, style)
    terms = "\n".join(visible_text(b, style=style) for b in terms_blocks)
    price = "\n".join(visible_text(b, style=style) for b in price_blocks)
    if not terms and any(w in title for w in TERMS_WORDS):
        terms, body = body, ""

    alts = [a.strip() for a in (img.get("alt") for img in root.iter("img")) if a and a.strip()]
    metas = []
    for meta in doc.iter("meta"):
        if (meta.get("name") or meta.get("property") or "").lower() in ("description", "keywords", "og:description", "og:title"):
            content = (meta.get("content") or "").strip()
            if content:
                metas.append(content)
    jsonld_texts, objects = _jsonld(doc)

    fields = {"title": title, "body": body, "price": price, "terms": terms, "alt": "\n".join(alts),
              "meta": "\n".join(metas), "jsonld": "\n".join(jsonld_texts)}
    fields = {k: v for k, v in fields.items() if v}
    all_text = "\n".join(fields.values())
    prices = _price_entries(price_blocks)
    for obj in objects:
        if obj.get("@type") in ("Offer", "AggregateOffer") and obj.get("price") is not None:
            try:
                prices.append({"label": "JSON-LD", "amount": float(str(obj["price"]).replace(",", "")),
                               "kind": "current", "text": f"{obj.get('priceCurrency', '')} {obj['price']}".strip()})
            except ValueError:
                pass
    return {
        "fields": fields,
        "title": title,
        "merchant": _merchant(url, all_text, doc, objects),
        "prices": prices,
        "sector_guess": guess_sector(title, body, _types(objects)),
        "has_scripts": any(True for _ in root.iter("script")),
    }


class ExtractPipeline:
    """Fill item fields, title, merchant, prices and sector from the page's HTML."""

    def __init__(self, stats=None):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item, spider=None):
        item.setdefault("fields", {})
        item.setdefault("prices", [])
        item.setdefault("merchant", None)
        if item.get("error") or not item.get("body") and not item.get("dom"):
            if not item.get("error"):
                item["error"] = "空页面 (empty body)"
            return item
        html = item.get("dom") or item["body"].decode(item.get("encoding") or "utf-8", errors="replace")
        try:
            result = extract(html, item.get("final_url") or item["url"])
        except ValueError as exc:
            item["error"] = str(exc)[:500]
            if self.stats:
                self.stats.inc_value("fangxin/page_errors")
            return item
        item["fields"] = result["fields"]
        item["title"] = result["title"]
        item["merchant"] = result["merchant"]
        item["prices"] = result["prices"]
        if not item.get("sector"):
            item["sector"] = result["sector_guess"]
        return item
