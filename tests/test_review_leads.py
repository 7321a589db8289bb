"""A lead's workflow over the real server: 核查, 立案 with a supervisor's approval and two officers, clocks, 督办."""

from __future__ import annotations

import datetime as dt

from pipelines.store import Store
from review_ui.workflow import NOT_FILE_GROUNDS, TRANSFER_GROUNDS
from tests.test_review_triage import PAGES, Session, db_rows, seed, server  # noqa: F401 - fixture

BASIS = "《中华人民共和国广告法》第九条第（三）项、第五十七条"


def make_lead(server_url: str, db_path: str) -> tuple[int, Session, Session]:
    (a,) = seed(db_path, PAGES[:1])
    wang, zhao = Session(server_url, "wang"), Session(server_url, "zhao")
    lead_id = wang.post(f"/hit/{a}/confirm")[1]["lead_id"]
    return lead_id, wang, zhao


def lead_row(db_path: str, lead_id: int) -> dict:
    store = Store(db_path)
    try:
        return store.get_lead_full(lead_id)
    finally:
        store.close()


def test_filing_needs_two_officers_and_a_different_supervisors_approval(server, db_path):  # noqa: F811
    lead_id, wang, zhao = make_lead(server, db_path)
    page = wang.get(f"/lead/{lead_id}")
    assert 'data-step="verify"' in page and 'data-step="approve-filing"' not in page

    assert wang.post(f"/lead/{lead_id}/request-filing", {"reason": "r", "basis": BASIS,
                                                         "officer": ["wang", "zhao"]})[0] == 409  # not yet 核查
    assert wang.post(f"/lead/{lead_id}/verify")[0] == 200
    assert lead_row(db_path, lead_id)["state"] == "verifying"

    status, data, _ = wang.post(f"/lead/{lead_id}/request-filing", {"reason": "证据确凿", "basis": BASIS,
                                                                    "officer": ["wang", "wang"]})
    assert status == 400 and "两名" in data["error"]
    status, data, _ = wang.post(f"/lead/{lead_id}/request-filing", {"reason": "证据确凿", "basis": BASIS,
                                                                    "officer": ["wang", "sun"]})
    assert status == 400 and "办案人员" in data["error"]  # an auditor is no officer
    status, data, _ = wang.post(f"/lead/{lead_id}/request-filing", {"reason": "证据确凿", "basis": BASIS,
                                                                    "officer": ["wang", "zhao"]})
    assert status == 200 and data["state"] == "verifying"
    assert lead_row(db_path, lead_id)["filing_request"]["officers"] == ["wang", "zhao"]

    status, data, _ = wang.post(f"/lead/{lead_id}/approve-filing")
    assert status == 403  # an inspector cannot approve
    assert Session(server, "sun").post(f"/lead/{lead_id}/approve-filing")[0] == 403
    assert zhao.post(f"/lead/{lead_id}/approve-filing", csrf="forged")[0] == 403
    status, data, _ = zhao.post(f"/lead/{lead_id}/approve-filing", {"reason": "同意立案"})
    assert status == 200 and data["state"] == "filed" and data["label"] == "立案"

    lead = lead_row(db_path, lead_id)
    today = dt.date.fromisoformat(lead["filed_at"])
    assert lead["officers"] == ["wang", "zhao"] and lead["filing_request"] is None
    assert lead["decision_due_at"] == (today + dt.timedelta(days=90)).isoformat()
    assert [(e["action"], e["actor"], e["to_state"]) for e in lead["events"]] == [
        ("verify", "wang", "verifying"), ("request-filing", "wang", "verifying"),
        ("approve-filing", "zhao", "filed")]
    assert lead["events"][1]["legal_basis"] == BASIS and lead["events"][1]["reason"] == "证据确凿"
    actions = [r[0] for r in db_rows(db_path, "SELECT action FROM audit_log WHERE object_type = 'lead' "
                                              "AND object_id = ? ORDER BY id", (str(lead_id),))]
    assert actions == ["lead.create", "lead.verify", "lead.request-filing", "lead.approve-filing"]

    page = wang.get(f"/lead/{lead_id}")
    assert "处罚决定期限" in page and "剩余 90 天" in page and "同意立案" in page
    assert "处罚决定 " + lead["decision_due_at"] in wang.get("/leads")


def test_a_supervisor_cannot_approve_their_own_filing_request(server, db_path):  # noqa: F811
    lead_id, wang, zhao = make_lead(server, db_path)
    zhao.post(f"/lead/{lead_id}/verify")
    assert zhao.post(f"/lead/{lead_id}/request-filing", {"reason": "r", "basis": BASIS,
                                                         "officer": ["wang", "zhao"]})[0] == 200
    status, data, _ = zhao.post(f"/lead/{lead_id}/approve-filing")
    assert status == 409 and "申请人" in data["error"]
    status, data, _ = zhao.post(f"/lead/{lead_id}/reject-filing", {"reason": "证据不足，补充核查"})
    assert status == 200 and lead_row(db_path, lead_id)["filing_request"] is None


def test_not_filing_transfer_extension_and_supervision(server, db_path):  # noqa: F811
    lead_id, wang, zhao = make_lead(server, db_path)
    due = lead_row(db_path, lead_id)["due_at"]
    assert wang.post(f"/lead/{lead_id}/extend", {"reason": "待检测"})[0] == 403
    assert zhao.post(f"/lead/{lead_id}/extend", {"reason": "需检验检测"})[0] == 200
    extended = lead_row(db_path, lead_id)
    assert extended["due_at"] > due and extended["verify_extended"] == 1
    assert zhao.post(f"/lead/{lead_id}/extend", {"reason": "again"})[0] == 409  # once only

    tomorrow = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    assert zhao.post(f"/lead/{lead_id}/supervise", {"reason": "群众投诉集中", "date": "2020-01-01"})[0] == 400
    assert zhao.post(f"/lead/{lead_id}/supervise", {"reason": "群众投诉集中", "date": tomorrow})[0] == 200
    assert lead_row(db_path, lead_id)["supervised_due_at"] == tomorrow
    assert "挂牌督办" in wang.get("/leads")

    status, data, _ = zhao.post(f"/lead/{lead_id}/not-file", {"reason": "已整改", "basis": "随便写的"})
    assert status == 400 and "法定情形" in data["error"]
    status, data, _ = zhao.post(f"/lead/{lead_id}/not-file", {"reason": "首次违法并已整改",
                                                              "basis": NOT_FILE_GROUNDS[1]})
    assert status == 200 and data["state"] == "not_filed"
    assert zhao.post(f"/lead/{lead_id}/transfer", {"reason": "x", "basis": TRANSFER_GROUNDS[0]})[0] == 409
    assert zhao.post(f"/lead/{lead_id}/close", {"reason": "不予立案，结案归档"})[1]["state"] == "closed"
    page = wang.get(f"/lead/{lead_id}")
    assert NOT_FILE_GROUNDS[1] in page and "结案" in page and 'data-step=' not in page
    store = Store(db_path)
    try:
        assert store.verify_audit().ok
    finally:
        store.close()


def test_overdue_supervision_and_decision_clocks_are_red(server, db_path):  # noqa: F811
    lead_id, wang, _ = make_lead(server, db_path)
    store = Store(db_path)
    try:
        store.transition_lead(lead_id, "approve-filing", "test", to_state="filed",
                              updates={"filed_at": "2026-01-02", "decision_due_at": "2026-04-02",
                                       "supervised_due_at": "2026-03-01", "supervised_by": "zhao"})
    finally:
        store.close()
    page = wang.get(f"/lead/{lead_id}")
    assert 'class="overdue">2026-04-02，已超期' in page and 'class="overdue">限 2026-03-01 前办结' in page
    assert 'class="overdue-row"' in wang.get("/leads")


def test_evidence_bundle_export_from_the_ui_is_audited(server, db_path):  # noqa: F811
    import io
    import json
    import urllib.error
    import urllib.parse
    import urllib.request
    import zipfile

    lead_id, wang, _ = make_lead(server, db_path)
    assert "导出证据包" in wang.get(f"/lead/{lead_id}")
    req = urllib.request.Request(f"{server}/lead/{lead_id}/export", method="POST",
                                 data=urllib.parse.urlencode({"csrf": wang.csrf}).encode())
    resp = wang.opener.open(req)
    assert resp.headers["Content-Type"] == "application/zip"
    assert f"fangxin-lead-{lead_id}.zip" in resp.headers["Content-Disposition"]
    bundle = zipfile.ZipFile(io.BytesIO(resp.read()))
    names = bundle.namelist()
    assert "manifest.json" in names and "report.html" in names
    assert json.loads(bundle.read("manifest.json"))
    assert db_rows(db_path, "SELECT actor, object_type FROM audit_log WHERE action = 'evidence.export'") == [
        ("wang", "lead")]

    assert Session(server, "qian").post(f"/lead/{lead_id}/export")[0] == 403  # rule author
    assert wang.post(f"/lead/{lead_id}/export", csrf="forged")[0] == 403
    assert wang.post("/lead/99999/export")[0] == 404


def test_redaction_of_personal_data():
    from review_ui.publish import redact

    text = "联系13812345678或0731-88886666，身份证430102199001011234，邮箱a.b@example.cn，微信：abc_12345，价格 128 元"
    assert redact(text) == ("联系［已隐去］或［已隐去］，身份证［已隐去］，邮箱［已隐去］，微信：［已隐去］，价格 128 元")


def test_a_supervisor_publishes_a_closed_lead_redacted_with_a_feed(server, db_path):  # noqa: F811
    import urllib.request
    import xml.etree.ElementTree as ET

    (a,) = seed(db_path, [{"url": "http://a.shop.test/p?uid=42", "match": "根治糖尿病，咨询13812345678",
                           "merchant": "甲药房", "category": "medical_health", "rule": "MED-CURE"}])
    wang, zhao = Session(server, "wang"), Session(server, "zhao")
    lead_id = wang.post(f"/hit/{a}/confirm")[1]["lead_id"]
    form = {"kind": "typical_case", "title": "甲药房宣称根治糖尿病", "summary": "当事人李某（电话13900001111）在网店宣称…"}
    assert zhao.post(f"/lead/{lead_id}/publish", form)[0] == 409  # not closed yet
    zhao.post(f"/lead/{lead_id}/not-file", {"reason": "已整改", "basis": NOT_FILE_GROUNDS[1]})
    zhao.post(f"/lead/{lead_id}/close", {"reason": "归档"})
    assert wang.post(f"/lead/{lead_id}/publish", form)[0] == 403  # supervisors publish
    assert zhao.post(f"/lead/{lead_id}/publish", form, csrf="forged")[0] == 403
    assert zhao.post(f"/lead/{lead_id}/publish", dict(form, kind="x"))[0] == 400
    status, data, _ = zhao.post(f"/lead/{lead_id}/publish", form)
    assert status == 200
    pub = data["publication"]

    public = urllib.request.urlopen(f"{server}/public/{pub}").read().decode()  # noqa: S310 - no login needed
    assert "甲药房宣称根治糖尿病" in public and "典型案例" in public and "a.shop.test" in public
    assert "13900001111" not in public and "13812345678" not in public and "［已隐去］" in public
    assert "uid=42" not in public and "/hit/" not in public
    feed = urllib.request.urlopen(f"{server}/public/feed.xml")  # noqa: S310
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.read())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.find("a:title", ns).text for e in root.findall("a:entry", ns)] == ["【典型案例】甲药房宣称根治糖尿病"]
    assert db_rows(db_path, "SELECT actor, object_id FROM audit_log WHERE action = 'publication.publish'") == [
        ("zhao", str(pub))]


def test_the_decision_clock_is_extended_once_by_a_supervisor(server, db_path):  # noqa: F811
    lead_id, wang, zhao = make_lead(server, db_path)
    wang.post(f"/lead/{lead_id}/verify")
    wang.post(f"/lead/{lead_id}/request-filing", {"reason": "r", "basis": BASIS, "officer": ["wang", "zhao"]})
    zhao.post(f"/lead/{lead_id}/approve-filing")
    due = dt.date.fromisoformat(lead_row(db_path, lead_id)["decision_due_at"])
    assert wang.post(f"/lead/{lead_id}/extend-decision", {"reason": "需检测"})[0] == 403
    assert zhao.post(f"/lead/{lead_id}/extend-decision")[0] == 400  # a reason is required
    assert zhao.post(f"/lead/{lead_id}/extend-decision", {"reason": "需检验检测"})[0] == 200
    assert lead_row(db_path, lead_id)["decision_due_at"] == (due + dt.timedelta(days=30)).isoformat()
    status, data, _ = zhao.post(f"/lead/{lead_id}/extend-decision", {"reason": "again"})
    assert status == 409 and "集体讨论" in data["error"]
    assert "剩余 120 天" in wang.get(f"/lead/{lead_id}")


def test_lead_pages_in_english(server, db_path):  # noqa: F811
    lead_id, wang, _ = make_lead(server, db_path)
    wang.opener.open(server + "/lang/en").read()
    page = wang.get(f"/lead/{lead_id}")
    assert "<h1>Lead" not in page and f"<h1>lead #{lead_id}" in page and "Start verification" in page
    assert "15 working days left" in page and "Verify by" in page
    status, data, _ = wang.post(f"/lead/{lead_id}/request-filing", {"reason": "r"})
    assert status == 400 and data["error"] == "Please give the legal basis."
    status, data, _ = wang.post(f"/lead/{lead_id}/investigate")
    assert status == 409 and data["error"] == "The lead's state does not allow this step."
    assert "in progress" in wang.get("/leads")
