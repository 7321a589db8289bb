"""Evidence: WARCs from a real crawl of the sandbox, the capture chain, bundles, RFC 3161 timestamps."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from fangxin.commands.evidence import evidence
from pipelines.bundle import verify_bundle, write_zip
from pipelines.store import Store

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "/shop/terms/notice.html",
    "/edu/course/kids-english.html",
    "/fund/product/steady.html",
    "/index.html",
]
OPENSSL = shutil.which("openssl")


class FakeFlag:
    """Stands in for the rule engine: flags the first "最" in the body text."""

    def process_item(self, item, spider=None):
        text = (item.get("fields") or {}).get("body") or ""
        i = text.find("最")
        item["hits"] = (
            []
            if i < 0
            else [
                {
                    "rule": "test.absolute", "pack": "test", "pack_version": "1", "category": "absolute_terms",
                    "severity": "high", "law": "《广告法》第九条第三项", "message": "使用绝对化用语", "field": "body",
                    "start": i, "end": i + 2, "match": text[i : i + 2], "excerpt": text[max(0, i - 12) : i + 14],
                }
            ]
        )  # fmt: skip
        return item


CRAWL = """
import json, sys
from crawlers.run import run_urls
urls, db, tsa, render = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
stats = run_urls(urls, db=db, render=render, overrides={
    "FANGXIN_PROGRESS": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "FANGXIN_OPERATOR": "检查员甲",
    "FANGXIN_TSA_URL": tsa,
    "ITEM_PIPELINES": {"pipelines.extract.ExtractPipeline": 100, "tests.test_evidence.FakeFlag": 200,
                       "pipelines.evidence.EvidencePipeline": 300, "pipelines.save.SavePipeline": 400}})
print(json.dumps({k: v for k, v in stats.items() if k.startswith("fangxin/") or k == "finish_reason"}))
"""


def crawl(urls: list[str], db: str, tsa_url: str = "", render: bool = False) -> dict:
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", CRAWL, json.dumps(urls), db, tsa_url, "1" if render else "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- a local TSA (openssl ts)

TSA_CNF = """
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = Test TSA
[ tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = .
serial = ./serial
crypto_device = builtin
signer_cert = ./tsa.pem
signer_key = ./tsa.key
certs = ./tsa.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, input=stdin, timeout=60)  # noqa: S603
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """A real RFC 3161 TSA on 127.0.0.1: `openssl ts -reply` behind http.server. Yields (url, folder)."""
    if not OPENSSL:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tsa")
    (d / "tsa.cnf").write_text(TSA_CNF)
    (d / "serial").write_text("01\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=Test TSA Root", "-config", "tsa.cnf", "-extensions", "ca_ext", cwd=d)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=Test TSA",
             "-config", "tsa.cnf", cwd=d)  # fmt: skip
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "tsa.pem", "-days", "2", "-extfile", "tsa.cnf", "-extensions", "tsa_ext", cwd=d)  # fmt: skip
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            query = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                (d / "q.tsq").write_bytes(query)
                _openssl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq", "-out", "r.tsr", cwd=d)
                reply = (d / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", d
    server.shutdown()


# ----------------------------------------------------------------------------- the crawl


@pytest.fixture(scope="module")
def crawled(sandbox_url, tsa, tmp_path_factory):
    d = tmp_path_factory.mktemp("crawl")
    db = str(d / "fangxin.db")
    urls = [sandbox_url + p for p in PAGES]
    first = crawl(urls, db, tsa[0])
    second = crawl(urls, db, tsa[0])  # unchanged pages: seen again, revisit records
    return {"db": db, "dir": d, "first": first, "second": second, "tsa": tsa}


def test_crawl_stores_captures_and_counts(crawled):
    first, second = crawled["first"], crawled["second"]
    assert first["finish_reason"] == "finished"
    assert first["fangxin/captures_stored"] == len(PAGES) and first["fangxin/hits_stored"] >= 1
    assert second.get("fangxin/seen_unchanged") == len(PAGES) and "fangxin/captures_stored" not in second
    store = Store(crawled["db"])
    assert store.db["captures"].count == len(PAGES) and store.db["captures_seen"].count == len(PAGES)
    runs = list(store.db["crawl_runs"].rows)
    assert [r["status"] for r in runs] == ["finished", "finished"] and runs[0]["operator"] == "检查员甲"
    store.close()


def test_warcs_pass_warcio_check_and_replay(crawled):
    warcs = sorted((crawled["dir"] / "warc").glob("*.warc.gz"))
    assert len(warcs) == 2  # one per run
    check = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("warcio")), "check", "-v", *map(str, warcs)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout
    store = Store(crawled["db"])
    expected = {r["url"]: r["body_sha256"] for r in store.db["captures"].rows}
    replayed, types, warcinfo = {}, [], b""
    with open(warcs[0], "rb") as fh:
        for rec in ArchiveIterator(fh):
            types.append(rec.rec_type)
            if rec.rec_type == "warcinfo":
                warcinfo = rec.content_stream().read()
            if rec.rec_type == "response":
                assert rec.rec_headers.get_header("WARC-Block-Digest").startswith("sha256:")
                replayed[rec.rec_headers.get_header("WARC-Target-URI")] = hashlib.sha256(
                    rec.content_stream().read()
                ).hexdigest()
    assert types[0] == "warcinfo" and {"request", "response", "metadata"} <= set(types)
    assert replayed == expected  # each page's body, as received, reads back from the WARC
    info = warcinfo.decode()
    for field in (
        "operator: 检查员甲",
        "software: Fangxin Watch/",
        "hostname:",
        "ip:",
        "http-header-user-agent:",
        "plan: adhoc",
    ):
        assert field in info
    with open(warcs[1], "rb") as fh:
        assert [r.rec_type for r in ArchiveIterator(fh)].count("revisit") == len(PAGES)
    store.close()


def test_run_chain_head_timestamped_with_a_real_token(crawled):
    url, tsa_dir = crawled["tsa"]
    store = Store(crawled["db"])
    stamps = list(store.db["timestamps"].rows)
    assert len(stamps) == 2
    for stamp in stamps:
        assert stamp["chain_hash"] == store.get_run(stamp["run_id"])["chain_head"] and stamp["tsa_url"] == url
        token = tsa_dir / f"run{stamp['run_id']}.tsr"
        token.write_bytes(stamp["token"])
        out = _openssl("ts", "-verify", "-digest", stamp["chain_hash"], "-in", token.name, "-CAfile", "ca.pem",
                       "-untrusted", "tsa.pem", cwd=tsa_dir)  # fmt: skip
        assert b"Verification: OK" in out
    store.close()


def test_database_verify_walks_chain_and_warc_digests(crawled, tmp_path):
    runner = CliRunner()
    result = runner.invoke(evidence, ["verify", "--db", crawled["db"]])
    assert result.exit_code == 0, result.output
    assert f"{len(PAGES)} capture(s), {len(PAGES)} WARC record group(s)" in result.output
    # a copy with one byte of the second capture's WARC records flipped
    copy = tmp_path / "copy"
    shutil.copytree(crawled["dir"], copy)
    conn = sqlite3.connect(copy / "fangxin.db")
    file, offset, length = conn.execute(
        "SELECT warc_file, warc_offset, warc_length FROM captures WHERE id = 2"
    ).fetchone()
    conn.close()
    path = copy / file
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = runner.invoke(evidence, ["verify", "--db", str(copy / "fangxin.db")])
    assert result.exit_code == 1 and "capture 2" in result.output and "WARC" in result.output


# ----------------------------------------------------------------------------- bundles


@pytest.fixture(scope="module")
def bundle(crawled, tmp_path_factory):
    store = Store(crawled["db"])
    hit_id = next(store.iter_hits())["id"]
    store.close()
    out = tmp_path_factory.mktemp("bundle") / "hit.zip"
    result = CliRunner().invoke(
        evidence, ["export", str(hit_id), "--out", str(out), "--db", crawled["db"], "--no-pdf"]
    )
    assert result.exit_code == 0, result.output
    return out


def _members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def test_bundle_exported_and_verified(bundle):
    names = [n for n, _ in _members(bundle)]
    assert names[0] == "manifest.json"
    assert {"report.html", "VERIFY.txt"} <= set(names)
    assert any(n.startswith("evidence/") and n.endswith(".warc.gz") for n in names)
    assert any(n.startswith("chain/") for n in names) and any(n.startswith("timestamps/") for n in names)
    manifest = json.loads(dict(_members(bundle))["manifest.json"])
    assert set(manifest["files"]) == set(names) - {"manifest.json"}
    report = dict(_members(bundle))["report.html"].decode()
    for text in (
        "电子数据提取笔录",
        "+08:00",
        "检查员甲",
        "《广告法》第九条第三项",
        "<mark>",
        "Fangxin Watch",
        "SHA-256",
    ):
        assert text in report
    result = CliRunner().invoke(evidence, ["verify", str(bundle)])
    assert result.exit_code == 0 and "intact" in result.output
    # the WARC member passes warcio's own check
    warc = next(d for n, d in _members(bundle) if n.endswith(".warc.gz"))
    assert [r.rec_type for r in ArchiveIterator(io.BytesIO(warc))][0] == "warcinfo"


def test_one_flipped_byte_in_any_member_is_named(bundle, tmp_path):
    members = _members(bundle)
    for index, (name, data) in enumerate(members):
        for position in (0, len(data) // 2, len(data) - 1):
            altered = bytearray(data)
            altered[position] ^= 0x20
            tampered = list(members)
            tampered[index] = (name, bytes(altered))
            path = tmp_path / "t.zip"
            path.write_bytes(write_zip(tampered))
            problems = verify_bundle(path)
            assert problems, f"{name}@{position} not detected"
            assert problems[0].member == name, (name, position, [str(p) for p in problems])


def test_flipped_byte_in_the_zip_file_itself_fails(bundle, tmp_path):
    raw = bundle.read_bytes()
    for position in (20, len(raw) // 3, len(raw) // 2, len(raw) - 30):
        altered = bytearray(raw)
        altered[position] ^= 0x01
        path = tmp_path / "t.zip"
        path.write_bytes(bytes(altered))
        assert verify_bundle(path), f"byte {position} not detected"


def test_removed_and_added_members_fail(bundle, tmp_path):
    members = _members(bundle)
    path = tmp_path / "t.zip"
    victim = next(n for n, _ in members if n.startswith("evidence/"))
    path.write_bytes(write_zip([m for m in members if m[0] != victim]))
    result = CliRunner().invoke(evidence, ["verify", str(path)])
    assert result.exit_code == 1 and victim in result.output and "missing" in result.output
    path.write_bytes(write_zip([*members, ("notes.txt", b"added later")]))
    result = CliRunner().invoke(evidence, ["verify", str(path)])
    assert result.exit_code == 1 and "notes.txt" in result.output and "added" in result.output
    path.write_bytes(write_zip(members[1:]))
    assert verify_bundle(path)[0].member == "manifest.json"


def test_export_errors_are_one_line(crawled, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        evidence, ["export", "999", "--out", str(tmp_path / "x.zip"), "--db", crawled["db"], "--no-pdf"]
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "no hit 999" in result.output
    result = runner.invoke(
        evidence, ["export", "L1", "--out", str(tmp_path / "x.zip"), "--db", crawled["db"], "--no-pdf"]
    )
    assert result.exit_code == 1 and "no lead 1" in result.output
    result = runner.invoke(evidence, ["verify"])
    assert result.exit_code == 2


@pytest.mark.browser
def test_lead_bundle_with_pdf_report(crawled, tmp_path):
    from crawlers.browser import BrowserNotFound, chromium_path

    try:
        chromium_path()
    except BrowserNotFound:
        pytest.skip("no Chromium")
    copy = tmp_path / "copy"
    shutil.copytree(crawled["dir"], copy)
    db = str(copy / "fangxin.db")
    store = Store(db)
    hit_ids = [h["id"] for h in store.iter_hits()]
    lead = store.create_lead("绝对化用语线索", hit_ids, "检查员甲")
    store.close()
    out = tmp_path / "lead.zip"
    result = CliRunner().invoke(evidence, ["export", f"L{lead}", "--out", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    members = dict(_members(out))
    assert members["report.pdf"].startswith(b"%PDF-")
    assert verify_bundle(out) == []
    store = Store(db)
    assert store.verify_audit().ok
    actions = [r["action"] for r in store.db["audit_log"].rows_where(order_by="id")]
    assert actions[-2:] == ["lead.create", "evidence.export"]
    store.close()


@pytest.mark.browser
def test_rendered_page_keeps_dom_and_screenshot_as_resources(sandbox_url, tmp_path):
    from crawlers.browser import BrowserNotFound, chromium_path

    try:
        chromium_path()
    except BrowserNotFound:
        pytest.skip("no Chromium")
    db = str(tmp_path / "r.db")
    stats = crawl([sandbox_url + PAGES[1]], db, render=True)
    assert stats["fangxin/captures_stored"] == 1
    (warc,) = (tmp_path / "warc").glob("*.warc.gz")
    check = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", str(warc)], timeout=60)  # noqa: S603
    assert check.returncode == 0
    resources = {}
    with open(warc, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "resource":
                resources[rec.rec_headers.get_header("WARC-Target-URI").split(":")[1]] = (
                    rec.rec_headers.get_header("Content-Type"),
                    rec.content_stream().read(),
                )
    assert resources["screenshot"][0] == "image/png" and resources["screenshot"][1].startswith(b"\x89PNG")
    assert resources["dom"][0].startswith("text/html") and "少儿英语" in resources["dom"][1].decode()
    store = Store(db)
    cap = store.get_capture(1)
    assert (
        cap["render"] == "browser"
        and cap["screenshot_sha256"] == hashlib.sha256(resources["screenshot"][1]).hexdigest()
    )
    store.close()
