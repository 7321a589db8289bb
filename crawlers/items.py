"""The Capture item: one fetched page on its way through the pipelines.

Spiders fill the fetch fields; pipelines add the rest in order
(extract → flag → evidence → save). This is the contract between the
crawlers and the pipelines; add fields here, never ad hoc.
"""

from __future__ import annotations

import scrapy


class Capture(scrapy.Item):
    # --- filled by the spider -------------------------------------------
    url = scrapy.Field()  # the URL requested (canonical form)
    final_url = scrapy.Field()  # after redirects
    method = scrapy.Field()  # "GET"
    status = scrapy.Field()  # HTTP status code
    request_headers = scrapy.Field()  # dict[str, str]
    response_headers = scrapy.Field()  # dict[str, str]
    body = scrapy.Field()  # bytes as received (cut at the size limit)
    body_sha256 = scrapy.Field()  # hex SHA-256 of `body`
    truncated = scrapy.Field()  # True when the body was cut at the size limit
    content_type = scrapy.Field()  # media type without parameters
    encoding = scrapy.Field()  # the charset used to decode the body
    fetched_at = scrapy.Field()  # UTC, ISO 8601 with "Z"
    render = scrapy.Field()  # "static" | "browser"
    remote_ip = scrapy.Field()  # peer address, when known
    dom = scrapy.Field()  # rendered DOM (browser mode), str
    screenshot = scrapy.Field()  # full-page PNG bytes, when taken
    plan = scrapy.Field()  # plan name ("adhoc" for --url)
    sector = scrapy.Field()  # ecommerce | education | finance | health | real_estate | livestream | other
    error = scrapy.Field()  # one line when the page could not be processed (malformed, non-HTML …)

    # --- filled by pipelines.recrawl --------------------------------------
    unchanged = scrapy.Field()  # True: same body as the latest stored capture (seen again, not re-flagged)

    # --- filled by pipelines.extract --------------------------------------
    fields = scrapy.Field()  # dict: title, body, price, terms, alt, meta, jsonld … → text
    title = scrapy.Field()
    merchant = scrapy.Field()  # {"name", "credit_code", "domain"} or None
    prices = scrapy.Field()  # [{"label", "amount", "kind": "current"|"reference"}]

    # --- filled by pipelines.flag -----------------------------------------
    hits = scrapy.Field()  # list of rules.Hit.to_dict()

    # --- filled by pipelines.evidence -------------------------------------
    warc = scrapy.Field()  # {"file", "offset", "length"} of the capture's records

    # --- filled by pipelines.save -----------------------------------------
    capture_id = scrapy.Field()


# Document fields as inspectors read them (reports, review UI); the names are the rule packs' scopes.
FIELD_LABELS_ZH = {
    "title": "页面标题", "body": "页面正文", "price": "价格信息", "terms": "格式条款", "alt": "图片说明（alt）",
    "meta": "页面描述（meta）", "jsonld": "结构化数据（JSON-LD）", "ocr": "图片/画面文字（OCR）",
    "livestream_title": "直播间标题", "chat": "弹幕/评论", "product_cards": "商品卡片", "pinned": "置顶消息",
    "transcript": "口播（语音转写）",
}  # fmt: skip
