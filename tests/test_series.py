"""Series rules (rules/series.py): loading, the packs' embedded series cases, evaluation details."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.errors import PackError
from rules.series import CST, evaluate, load_series_rules, run_series_tests


@pytest.fixture(scope="module")
def series_rules():
    return load_series_rules()


def at(day: int, hour: int = 10) -> str:
    return (dt.datetime(2026, 11, 1, hour, tzinfo=CST) + dt.timedelta(days=day)).isoformat()


def test_base_pack_ships_the_four_series_rules_with_citations(series_rules):
    by_check = {r.check: r for r in series_rules}
    assert set(by_check) == {
        "reference_above_prior",
        "raise_before_discount",
        "consecutive_wording",
        "stock_never_decreases",
    }
    for rule in series_rules:
        assert rule.pack == "cn-base"
        assert rule.law.startswith("《")
        assert rule.must_match and rule.must_not_match
    assert "明码标价和禁止价格欺诈规定》第十九条第（三）项" in by_check["reference_above_prior"].law
    assert "规范促销行为暂行规定》第五条" in by_check["consecutive_wording"].law


def test_embedded_series_cases_pass(series_rules):
    report = run_series_tests(series_rules)
    assert report.rules == 4 and report.cases >= 16
    assert not report.failures, "\n".join(f.line() for f in report.failures)


def test_fake_original_hit_lists_every_proving_capture(series_rules):
    obs = [
        {"at": at(0), "capture_id": 11, "price": 199, "references": []},
        {"at": at(2), "capture_id": 12, "price": 199, "references": []},
        {"at": at(5), "capture_id": 13, "price": 199, "references": []},
        {"at": at(7), "capture_id": 14, "price": 199, "references": [{"label": "原价", "amount": 599}]},
        {"at": at(8), "capture_id": 15, "price": 199, "references": [{"label": "原价", "amount": 599}]},
    ]
    hits = evaluate(series_rules, "https://shop.example.cn/item/1", obs)
    assert [h.rule for h in hits] == ["SERIES-FAKE-ORIGINAL-001"]
    hit = hits[0]
    assert hit.captures == [11, 12, 13, 14, 15]
    assert "原价¥599" in hit.message and "¥199" in hit.message and "第十九条第（三）项" in hit.message
    assert hit.to_dict()["field"] == "series"
    # the same episode gives the same key on a later evaluation with more observations
    more = evaluate(
        series_rules,
        "https://shop.example.cn/item/1",
        obs
        + [{"at": at(9), "capture_id": 16, "price": 199, "references": [{"label": "原价", "amount": 599}]}],
    )
    assert more[0].episode == hit.episode


def test_unchanged_page_seen_again_counts_as_a_day(series_rules):
    # one capture (id 7) re-observed on three days: captures_seen rows
    obs = [
        {"at": at(d), "capture_id": 7, "seen_id": d or None, "text": "仅限今日 倒计时 23:59:59"}
        for d in range(3)
    ]
    hits = evaluate(series_rules, "p", obs)
    assert [h.rule for h in hits] == ["SERIES-URGENCY-REPEATED-001"]
    assert hits[0].captures == [7]
    assert len(hits[0].observations) == 3


def test_bad_series_file_is_one_line_error(tmp_path):
    pack = tmp_path / "p"
    (pack / "series").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "schema_version: 1\nid: p\nversion: 1.0.0\ntitle: t\njurisdiction: CN\n"
        "legal_sources:\n  - {id: 促销规定, name: 规范促销行为暂行规定}\n",
        encoding="utf-8",
    )
    (pack / "series" / "x.yaml").write_text(
        "- id: X-1\n  title: 标题\n  message: 消息\n  category: price_fraud\n  severity: huge\n"
        "  legal: [{law: 促销规定, article: 5}]\n  check: consecutive_wording\n"
        "  provenance: {author: 测试, created: '2026-11-26', sources: [测试用例]}\n"
        "  tests: {must_match: [{series: [{day: 0}]}], must_not_match: [{series: [{day: 0}]}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError) as err:
        load_series_rules([str(pack)])
    assert "x.yaml:5: X-1.severity: 'huge' is not one of" in str(err.value)


def test_rules_test_hook_adds_series_cases_to_the_text_report():
    import rules as rules_lib
    from rules.series import add_series_tests
    from rules.testing import TestReport

    engine = rules_lib.load_engine()
    report = add_series_tests(TestReport(), engine)
    assert report.rules == 4 and report.cases >= 16 and not report.failures


def test_rules_test_command_runs_series_cases_and_names_a_failing_one(tmp_path):
    """`fangxin rules test` runs the series rules' cases too: a wrong must_match fails it, by name."""
    import shutil

    from tests.conftest import ROOT, run_fangxin

    pack = tmp_path / "cn-base"
    shutil.copytree(ROOT / "rules" / "packs" / "cn-base", pack)
    prices = pack / "series" / "prices.yaml"
    text = prices.read_text(encoding="utf-8")
    # An honest series (the 原价 was charged before the promotion) filed as a must_match case.
    broken = text.replace("          - {day: 7, price: 199, reference: 599}\n",
                          "          - {day: 7, price: 199, reference: 199}\n", 1)
    assert broken != text
    prices.write_text(broken, encoding="utf-8")
    result = run_fangxin("rules", "test", str(pack))
    assert result.returncode == 1
    assert "SERIES-FAKE-ORIGINAL-001" in result.stdout + result.stderr
    ok = run_fangxin("rules", "test")
    assert ok.returncode == 0 and "0 failed" in ok.stdout
