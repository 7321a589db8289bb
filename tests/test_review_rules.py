"""The rule authors' workbench: rules with precision from verdicts, the text tester, false-positive examples."""

from __future__ import annotations

import re

from review_ui.rulebench import example_sentence, yaml_snippet
from tests.test_review_triage import Session, db_rows, seed, server  # noqa: F401 - fixture


def test_example_sentence_and_yaml_snippet():
    text = "欢迎光临。建议最好在饭后使用，效果更佳！其他内容"
    start = text.index("最好")
    assert example_sentence(text, start, start + 2, "最好", None) == "建议最好在饭后使用，效果更佳"
    assert example_sentence(None, None, None, "最好", "…最好…") == "…最好…"
    snippet = yaml_snippet("ABS-X", ['他说"最好"', 'a: b', 'a: b'])
    assert snippet.splitlines()[1:] == ["- id: ABS-X", "  tests:", "    must_not_match:",
                                        '      - "他说\\"最好\\""', '      - "a: b"']


def test_rules_page_shows_precision_from_verdicts(server, db_path):  # noqa: F811
    a, b, c = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "最好", "rule": "ABS-SUPERLATIVE-001", "merchant": "甲"},
        {"url": "http://b.shop.test/1", "match": "最好", "rule": "ABS-SUPERLATIVE-001", "merchant": "乙"},
        {"url": "http://c.shop.test/1", "match": "最好", "rule": "ABS-SUPERLATIVE-001", "merchant": "丙"},
    ])
    wang = Session(server, "wang")
    wang.post(f"/hit/{a}/confirm")
    wang.post(f"/hit/{b}/false-positive", {"reason": "食用建议"})
    page = Session(server, "qian").get("/rules")
    row = re.search(r'<tr data-rule="ABS-SUPERLATIVE-001">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[5:] == ["1", '<a href="/rules/false-positives?rule=ABS-SUPERLATIVE-001">1</a>', "1", "50%"]
    assert page.count("<tr data-rule=") > 50  # every loaded rule is listed


def test_try_a_text_runs_the_engine_and_escapes(server):  # noqa: F811
    qian = Session(server, "qian")
    assert 'name="text"' in qian.get("/rules/try")
    status, page, _ = qian.post("/rules/try", {"text": "<script>alert(1)</script>本店的栗子是杭州最好吃的"},
                                as_json=False)
    assert status == 200 and "ABS-SUPERLATIVE-001" in page and "<mark>最好吃</mark>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "未命中任何规则" in qian.post("/rules/try", {"text": "今天天气不错"}, as_json=False)[1]
    assert qian.post("/rules/try", {"text": "最好"}, csrf="forged", as_json=False)[0] == 403


def test_false_positive_queue_proposes_must_not_match_yaml(server, db_path):  # noqa: F811
    (a,) = seed(db_path, [{"url": "http://a.shop.test/1", "match": "最好", "rule": "ABS-SUPERLATIVE-001"}])
    Session(server, "wang").post(f"/hit/{a}/false-positive", {"reason": "属于使用建议"})
    page = Session(server, "qian").get("/rules/false-positives")
    assert f'<tr data-hit-id="{a}">' in page and "属于使用建议" in page
    assert "- id: ABS-SUPERLATIVE-001" in page and "must_not_match:" in page
    assert "&#34;本店最好，欢迎选购 http://a.shop.test/1&#34;" in page  # the sentence, JSON-quoted, escaped
    assert db_rows(db_path, "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'rule%'") == [(0,)]


def test_add_must_not_match_edits_flow_and_block_lists():
    import pytest

    from review_ui.rulebench import ExampleError, add_must_not_match

    text = ("- id: A\n  tests:\n    must_match: [x]\n    must_not_match: [甲, 乙]\n"
            "- id: B\n  tests:\n    must_not_match:\n      - 丙\n      - 丁\n  provenance: {a: 1}\n"
            "- id: C\n  tests:\n    must_not_match: []\n- id: D\n  tests:\n    must_match: [y]\n")
    assert "    must_not_match: [甲, 乙, \"戊: 1\"]" in add_must_not_match(text, "A", "戊: 1")
    assert "      - 丁\n      - \"戊\"\n  provenance" in add_must_not_match(text, "B", "戊")
    assert "    must_not_match: [\"戊\"]" in add_must_not_match(text, "C", "戊")
    with pytest.raises(ExampleError):
        add_must_not_match(text, "D", "戊")
    with pytest.raises(ExampleError):
        add_must_not_match(text, "E", "戊")


def start(db_path: str, env: dict):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fangxin.cli", "review", "--port", "0", "--db", db_path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ, **env),
    )
    line = proc.stdout.readline()
    m = re.search(r"review UI at (http://127\.0\.0\.1:\d+)/", line)
    assert m, line
    return proc, m.group(1)


def test_rule_author_writes_a_must_not_match_case_only_when_the_tests_pass(db_path, tmp_path):
    import shutil

    from pipelines.store import Store
    from review_ui.security import hash_password
    from tests.conftest import ROOT
    from tests.test_review_triage import PASSWORD

    packs = tmp_path / "packs"
    shutil.copytree(ROOT / "rules" / "packs" / "cn-base", packs / "cn-base")
    rule_file = packs / "cn-base" / "rules" / "absolute_terms.yaml"
    before = rule_file.read_text(encoding="utf-8")
    store = Store(db_path)
    try:
        store.add_user("qian", "rule_author", hash_password(PASSWORD))
        store.add_user("wang", "inspector", hash_password(PASSWORD))
    finally:
        store.close()
    proc, base = start(db_path, {"FANGXIN_REVIEW_PACKS": str(packs / "cn-base")})
    try:
        qian, wang = Session(base, "qian"), Session(base, "wang")
        form = {"rule": "ABS-SUPERLATIVE-001", "example": "本店的栗子是杭州最好吃的"}
        assert wang.post("/rules/examples", form)[0] == 403
        status, data, _ = qian.post("/rules/examples", form)  # the rule still fires on it
        assert status == 409 and "请先修改规则" in data["error"]
        assert rule_file.read_text(encoding="utf-8") == before  # never a half-written pack
        status, data, _ = qian.post("/rules/examples", {"rule": "ABS-SUPERLATIVE-001", "example": "今天最高气温 12 度"})
        assert status == 200, data
        after = rule_file.read_text(encoding="utf-8")
        assert after != before and '"今天最高气温 12 度"' in after
        assert db_rows(db_path, "SELECT actor, object_id FROM audit_log WHERE action = 'rule.example.add'") == [
            ("qian", "ABS-SUPERLATIVE-001")]
        assert qian.post("/rules/examples", {"rule": "NO-SUCH-RULE", "example": "x"})[0] == 409
    finally:
        proc.terminate()
        proc.wait(timeout=10)
