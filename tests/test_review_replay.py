"""Archived pages replayed from a separate origin under a sandboxing CSP; screenshots from the WARC."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from pipelines.store import Store
from pipelines.warc import WarcFiles
from tests.test_review_triage import Session, server  # noqa: F401 - fixture

HOSTILE_PAGE = ('<html><head><title>x</title><script>alert("replay")</script></head>'
                '<body onload="alert(2)"><img src="http://merchant.test/track.gif">本店产品全网最佳'
                '<a href="javascript:alert(3)">link</a></body></html>')
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 16


def seed_archived(db_path: str) -> int:
    """One capture written to a real WARC file next to the database, with a hit and a screenshot."""
    store = Store(db_path)
    try:
        run = store.start_run("test", "tester", {})
        body = HOSTILE_PAGE.encode()
        item = {"url": "http://merchant.test/p", "final_url": "http://merchant.test/p", "status": 200,
                "body": body, "fetched_at": "2026-11-26T01:00:00Z", "content_type": "text/html",
                "encoding": "utf-8", "response_headers": {"Content-Type": "text/html; charset=utf-8"},
                "fields": {"body": "本店产品全网最佳"}, "title": "x", "sector": "ecommerce", "screenshot": PNG,
                "render": "browser"}
        warcs = WarcFiles(Path(db_path).parent, run, {"software": "test"})
        item["warc"] = warcs.write_capture(item).as_dict()
        warcs.close()
        store.save_capture(run, item, [{
            "rule": "ABS-BEST", "pack": "t", "pack_version": "1", "category": "absolute_terms", "severity": "high",
            "confidence": 0.9, "law": "《广告法》第九条", "legal": [], "message": "m", "field": "body",
            "start": 6, "end": 8, "match": "最佳", "excerpt": "全网最佳", "extracted": {}, "exceptions": []}])
        return max(h["id"] for h in store.iter_hits())
    finally:
        store.close()


def fetch(url: str):
    try:
        resp = urllib.request.urlopen(url)  # noqa: S310 - local test server
        return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_hit_page_frames_the_replay_origin_which_serves_the_page_sandboxed(server, db_path):  # noqa: F811
    hit_id = seed_archived(db_path)
    wang = Session(server, "wang")
    resp = wang.opener.open(f"{server}/hit/{hit_id}")
    page = resp.read().decode()
    src = re.search(r'<iframe class="replay" sandbox src="([^"]+)"', page).group(1).replace("&amp;", "&")
    app_port = int(server.rsplit(":", 1)[1])
    replay_origin = re.match(r"(http://127\.0\.0\.1:(\d+))/capture/", src)
    assert replay_origin and int(replay_origin.group(2)) != app_port  # another origin
    csp = resp.headers["Content-Security-Policy"]
    assert f"frame-src {replay_origin.group(1)}" in csp and "script-src 'self'" in csp

    status, headers, body = fetch(src)
    assert status == 200 and body == HOSTILE_PAGE.encode()
    replay_csp = headers["Content-Security-Policy"]
    assert replay_csp.startswith("sandbox;") and "default-src 'none'" in replay_csp
    assert f"frame-ancestors http://127.0.0.1:{app_port}" in replay_csp
    assert headers["X-Content-Type-Options"] == "nosniff"

    assert fetch(src.split("?")[0] + "?t=forged")[0] == 403
    other = src.replace(f"/capture/{src.split('/capture/')[1].split('?')[0]}?", "/capture/999?")
    assert fetch(other)[0] == 403  # a link is for one capture only
    assert fetch(replay_origin.group(1) + "/")[0] == 404

    shot = wang.opener.open(f"{server}/hit/{hit_id}/screenshot")
    assert shot.headers["Content-Type"] == "image/png" and shot.read() == PNG
    assert fetch(f"{server}/hit/{hit_id}/screenshot")[2] != PNG  # not without a session


def test_replay_port_falls_back_to_a_free_one_when_the_next_is_taken(db_path):
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    app_port = taken - 1
    try:
        probe = socket.socket()
        probe.bind(("127.0.0.1", app_port))
        probe.close()
    except OSError:
        blocker.close()
        return  # the port below is busy too; nothing to show on this machine now
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fangxin.cli", "review", "--port", str(app_port), "--db", db_path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert f"review UI at http://127.0.0.1:{app_port}/" in line, line + proc.stderr.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        blocker.close()
