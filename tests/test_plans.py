"""Plans: schema validation with one-line FILE:LINE errors, bundled plans, URL canonicalisation, sampling keys."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request

from crawlers.capture import capture_from_response
from crawlers.distributed import dumps_item, loads_item
from crawlers.plans import PlanError, bundled_plans, load_plan
from crawlers.urls import canonical, sample_key, site_of


def test_every_bundled_plan_loads():
    names = {load_plan(p, {"SANDBOX": "http://127.0.0.1:8800"}).name for p in bundled_plans()}
    assert {"demo", "ecommerce-shop", "education-courses", "finance-funds", "health-store"} <= names
    sectors = {load_plan(p, {"SANDBOX": "http://127.0.0.1:8800"}).sector for p in bundled_plans()}
    assert {"ecommerce", "education", "finance", "health", "real_estate", "livestream"} <= sectors


@pytest.mark.parametrize("body, where", [
    ("sector: shops\nseeds: [http://a.example/]\n", ":1: sector:"),
    ("sector: other\nseeds: [ftp://a.example/]\n", ":2: seeds.0:"),
    ("sector: other\nseeds: [http://a.example/]\nsampling:\n  max_pages: 0\n", ":4: sampling.max_pages:"),
    ("sector: other\nseeds: [http://a.example/]\nlinks:\n  deny: ['(']\n", ":4: links.deny:"),
    ("sector: other\nseeds: [http://a.example/]\nschedule: 'every day'\n", ":3: schedule:"),
    ("sector: other\nseeds: [http://a.example/]\npoliteness:\n  obey_robot: false\n", ":3: politeness:"),
    ("sector: other\nseeds: ['${NOPE_NOT_SET}/']\n", "${NOPE_NOT_SET}"),
    ("sector: other\nseeds: [http://a.example/\n", "invalid YAML"),
])
def test_plan_errors_are_one_line_with_file_and_line(tmp_path, body, where):
    path = tmp_path / "p.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and where in message, message


def test_defaults_are_polite(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("sector: finance\nseeds: [https://bank.example/]\n", encoding="utf-8")
    plan = load_plan(path)
    assert plan.obey_robots and plan.delay >= 1 and plan.concurrency == 1 and plan.autothrottle
    assert not plan.allow_private and "FangxinWatch/" in plan.user_agent and "contact" in plan.user_agent


def test_canonical_urls():
    assert canonical("HTTP://Shop.Example:80/a?b=2&a=1&utm_source=x&spm=1.2#top") == "http://shop.example/a?a=1&b=2"
    assert canonical("https://shop.example:443/") == canonical("https://shop.example/")
    assert site_of("http://127.0.0.1:8800/x") == "127.0.0.1:8800"


def test_sample_keys_depend_on_seed_not_order():
    urls = [f"http://s.example/item/{i}.html" for i in range(50)]
    pick = lambda seed, xs: sorted(xs, key=lambda u: sample_key(seed, u))[:5]  # noqa: E731
    assert pick(1, urls) == pick(1, list(reversed(urls)))
    assert pick(1, urls) != pick(2, urls)


@pytest.mark.parametrize("codec, declared", [("big5", "header"), ("gb18030", "meta"), ("gbk", "header")])
def test_chinese_encodings_decoded(codec, declared):
    text = {"big5": "全網最低價，售出概不退換", "gb18030": "宝宝再也不生病 𠮷祥", "gbk": "湖南特产销量第一"}[codec]
    meta = f'<meta charset="{ "gb2312" if codec == "gb18030" else codec}">' if declared == "meta" else ""
    body = f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>".encode(codec)
    headers = {"Content-Type": f"text/html; charset={codec}"} if declared == "header" else {"Content-Type": "text/html"}
    response = HtmlResponse("http://s.example/", body=body, headers=headers, request=Request("http://s.example/"))
    item = capture_from_response(response, plan="t")
    assert text in response.text and item["error"] is None


def test_items_survive_the_redis_round_trip():
    response = HtmlResponse("http://s.example/", body="<html><body>最佳</body></html>".encode(),
                            headers={"Content-Type": "text/html; charset=utf-8"}, request=Request("http://s.example/"))
    item = capture_from_response(response, plan="t")
    item["screenshot"] = b"\x89PNG\x00"
    back = loads_item(dumps_item(item))
    assert dict(back) == dict(item)
