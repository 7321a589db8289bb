"""The changing shop (tests/sites/pricing.py) crawled over simulated days; series hits on the dishonest sellers only.

One real `fangxin crawl` per simulated day, each a process whose capture and store clocks read the
simulated date (crawlers.capture.utc_now and pipelines.store.utc_now are replaced in the child,
nothing else); the sandbox's clock is set through its loopback-only /pricing/_clock endpoint. The
crawl command itself runs the series rules over the products it saw.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from pipelines.store import Store
from tests.conftest import POLITE_FAST, ROOT, run_fangxin
from tests.sites import pricing

DAYS = [0, 2, 4, 5, 6, 7, 8]
CRAWL_HOUR_UTC = 2  # 10:00 China time

PLAN = """name: pricing-watch
sector: ecommerce
seeds: [${SANDBOX}/pricing/]
links:
  detail: ['/pricing/item/\\d+\\.html$']
  deny: ['/_clock']
sampling: {max_pages: 20, max_depth: 1}
render: static
browser: {screenshots: none}"""

# The child: `fangxin crawl` with the capture and store clocks starting at the simulated moment argv[1];
# the crawl command itself runs the series rules over the products it saw.
CHILD = """
import datetime as dt, sys, time
import crawlers.capture as capture
import pipelines.store as store
base, t0 = dt.datetime.fromisoformat(sys.argv[1]), time.monotonic()
capture.utc_now = lambda: (base + dt.timedelta(seconds=time.monotonic() - t0)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
store.utc_now = lambda: store.format_utc(base + dt.timedelta(seconds=time.monotonic() - t0))
from fangxin.cli import main
sys.argv = ["fangxin", *sys.argv[2:]]
main()
"""


def moment(day: int) -> dt.datetime:
    return dt.datetime.combine(pricing.date_of(day), dt.time(CRAWL_HOUR_UTC), tzinfo=dt.UTC)


def set_clock(base: str, day: int) -> None:
    req = urllib.request.Request(f"{base}/pricing/_clock?day={day}", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the local sandbox
        assert json.load(resp)["day"] == day


@pytest.fixture(scope="module")
def watched(sandbox_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pricing")
    plan = tmp / "pricing-watch.yaml"
    plan.write_text(PLAN + POLITE_FAST, encoding="utf-8")
    db = str(tmp / "fangxin.db")
    try:
        for day in DAYS:
            set_clock(sandbox_url, day)
            stamp = moment(day).isoformat()
            result = subprocess.run(  # noqa: S603 - fixed argument list
                [sys.executable, "-c", CHILD, stamp, "crawl", str(plan), "--db", db],
                capture_output=True, text=True, timeout=240, cwd=ROOT,
                env=dict(os.environ, SANDBOX=sandbox_url),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-3000:]
    finally:
        pricing.set_day(0)
    return {"db": db, "base": sandbox_url, "tmp": tmp}


def item_url(base: str, item: int) -> str:
    return f"{base}/pricing/item/{item}.html"


def test_each_day_is_one_capture_per_item_at_the_simulated_time(watched):
    with Store(watched["db"]) as store:
        for item in pricing.EXPECTED:
            obs = store.price_observations(item_url(watched["base"], item))
            days = [dt.datetime.fromisoformat(o["at"].replace("Z", "+00:00")).date() for o in obs]
            assert days == [pricing.date_of(d) for d in DAYS], item


def test_series_hits_on_dishonest_sellers_and_none_on_honest_ones(watched):
    with Store(watched["db"]) as store:
        for item, expected in pricing.EXPECTED.items():
            url = item_url(watched["base"], item)
            hits = store.series_hits(url)
            assert {h["rule"] for h in hits} == expected, (item, [h["message"] for h in hits])
            assert len(hits) == len(expected), "one hit per episode, however often the rules ran"
            for hit in hits:
                assert hit["law"].startswith("《") and hit["state"] == "new"
                assert hit["merchant_id"] is not None
                assert hit["captures"], "a series hit lists its proving captures"
                assert {store.get_capture(c)["url"] for c in hit["captures"]} == {url}
        assert store.verify_captures().ok


def test_proving_captures_are_the_right_days(watched):
    base = watched["base"]
    with Store(watched["db"]) as store:

        def days_of(hit):
            return [store.get_capture(c)["fetched_at"][:10] for c in hit["captures"]]

        fake = store.series_hits(item_url(base, 2))[0]
        # every observation of the 7 days before the promotion, the day the 原价 appeared, and the day
        # after, which confirmed the same episode (later evaluations add their proof to the hit)
        assert days_of(fake) == [pricing.date_of(d).isoformat() for d in (0, 2, 4, 5, 6, 7, 8)]
        assert fake["captured_at"].startswith(pricing.date_of(7).isoformat())
        assert "原价¥599" in fake["message"] and "¥199" in fake["message"]
        raised = store.series_hits(item_url(base, 3))[0]
        assert pricing.date_of(4).isoformat() in days_of(raised) and pricing.date_of(
            7
        ).isoformat() in days_of(raised)
        assert "¥159" in raised["message"] and "¥259" in raised["message"]
        urgent = store.series_hits(item_url(base, 4))[0]
        assert days_of(urgent) == [pricing.date_of(d).isoformat() for d in (4, 5, 6, 7, 8)]
        assert urgent["captured_at"].startswith(pricing.date_of(6).isoformat())  # found on the 3rd day
        stock = store.series_hits(item_url(base, 5))[0]
        assert len(stock["captures"]) >= 3


def test_series_hits_are_exported_like_any_hit(watched):
    result = run_fangxin("hits", "--db", watched["db"], "--jsonl")
    assert result.returncode == 0, result.stderr
    series = [json.loads(line) for line in result.stdout.splitlines() if '"series"' in line]
    assert {s["rule"] for s in series} == set().union(*pricing.EXPECTED.values())
    assert all(s["url"].startswith(watched["base"] + "/pricing/item/") for s in series)  # the product page


def test_evidence_bundle_of_a_series_hit(watched):
    with Store(watched["db"]) as store:
        hit = store.series_hits(item_url(watched["base"], 2))[0]
    out = watched["tmp"] / "series.zip"
    result = run_fangxin(
        "evidence", "export", str(hit["id"]), "--out", str(out), "--no-pdf", "--db", watched["db"]
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
    listed = set(manifest["subject"]["captures"])
    assert hit["capture_id"] in listed  # the chained series record holding the proof
    assert set(hit["captures"]) <= listed  # every proving capture, with its WARC records
    for cid in hit["captures"]:
        assert f"evidence/capture-{cid}.warc.gz" in names
    assert f"series/hit-{hit['id']}-proof.json" in names
    assert not run_fangxin("evidence", "verify", str(out)).returncode
