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
