"""Series hits in the store: price observations, proving captures, the capture chain, idempotence."""

from __future__ import annotations

import datetime as dt

from pipelines.series import evaluate
from pipelines.store import Store

URL = "http://127.0.0.1:9/pricing/item/2.html"


def day_at(day: int) -> str:
    return (dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC) + dt.timedelta(days=day)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def capture(day: int, price: float, ref: float | None = None, banner: str = "") -> dict:
    prices = [{"label": "现价", "amount": price, "kind": "current"}]
    if ref is not None:
        prices.append({"label": "原价", "amount": ref, "kind": "reference"})
    return {
        "url": URL, "status": 200, "fetched_at": day_at(day),
        "body": f"<html>day {day} {price} {ref} {banner}</html>".encode(),
        "fields": {"title": "保温杯", "body": banner}, "title": "保温杯", "prices": prices,
        "merchant": {"name": "虚价小铺", "domain": "127.0.0.1"}, "sector": "ecommerce",
    }  # fmt: skip


def test_series_hit_is_stored_with_its_proving_captures_and_chained(db_path):
    store = Store(db_path)
    run = store.start_run("t", "tester")
    ids = [store.save_capture(run, capture(d, 199)) for d in (0, 2, 4)]
    ids += [store.save_capture(run, capture(d, 199, 599)) for d in (7, 8)]
    store.finish_run(run, "finished")

    obs = store.price_observations(URL)
    assert [o["capture_id"] for o in obs] == ids
    assert obs[-1]["price"] == 199 and obs[-1]["references"] == [{"label": "原价", "amount": 599}]

    assert evaluate(store, now=day_at(9), since=day_at(9)) == []  # nothing observed since then
    new = evaluate(store, now=day_at(9), since=day_at(8))  # the last crawl saw the product
    assert len(new) == 1
    hit = store.get_hit(new[0])
    assert hit["rule"] == "SERIES-FAKE-ORIGINAL-001" and hit["field"] == "series"
    assert hit["category"] == "price_fraud" and "明码标价和禁止价格欺诈规定" in hit["law"]
    assert store.hit_capture_ids(new[0]) == ids
    assert store.series_hits(URL)[0]["captures"] == ids
    assert hit["merchant_id"] == store.get_capture(ids[0])["merchant_id"]
    assert store.merchant_products(hit["merchant_id"]) == [URL]
    # the series record is a link of the capture chain; nothing else changed
    assert store.verify_captures().ok
    proof = store.series_proof(new[0])
    assert proof["intact"] and [c["id"] for c in proof["proof"]["captures"]] == ids
    assert all(c["chain_hash"] for c in proof["proof"]["captures"])
    assert store.series_proof(new[0] + 1000) is None
    # evaluating again stores nothing new
    assert evaluate(store, now=day_at(9)) == []
    assert len(store.series_hits()) == 1
    # `fangxin hits --jsonl` lists it like any hit
    assert [h["rule"] for h in store.iter_hits()] == ["SERIES-FAKE-ORIGINAL-001"]
    store.close()


def test_unchanged_page_re_observations_are_observations(db_path):
    store = Store(db_path)
    run = store.start_run("t", "tester")
    first = store.save_capture(run, capture(0, 88, banner="仅限今日"))
    again = capture(0, 88, banner="仅限今日")
    for d in (1, 2):
        again["fetched_at"] = day_at(d)
        assert store.save_capture_result(run, again).new is False
    obs = store.price_observations(URL)
    assert [(o["capture_id"], o["seen_id"] is not None) for o in obs] == [
        (first, False),
        (first, True),
        (first, True),
    ]
    new = evaluate(store, now=day_at(3))
    assert [store.get_hit(h)["rule"] for h in new] == ["SERIES-URGENCY-REPEATED-001"]
    assert store.hit_capture_ids(new[0]) == [first]
    store.close()
