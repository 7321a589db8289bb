"""Rule engine and packs: production-path cases, malformed packs, offsets, deadlines, CLI contract, corpus."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import rules
from fangxin.cli import main as cli
from fangxin.commands.bench_rules import evaluate, load_corpus
from rules.compare import unparse as unparse_compare
from rules.testing import run_tests
from tests.conftest import run_fangxin

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "rules" / "packs" / "cn-base"


@pytest.fixture(scope="module")
def engine():
    return rules.load_engine()


def _rule_yaml(rid: str, selections: str, tests: str, *, category: str = "other",
               legal: str = "[{law: 广告法, article: 4}]") -> str:
    """A one-rule file for a test pack; ``selections`` and ``tests`` are the YAML after their keys
    (a flow mapping, or a block that starts with a line break)."""
    return (f"- id: {rid}\n  title: 测试规则\n  message: 命中「{{match}}」\n  category: {category}\n"
            f"  severity: low\n  confidence: 0.5\n  legal: {legal}\n  selections: {selections}\n"
            "  provenance: {author: 测试, created: '2026-11-26', sources: [测试用例]}\n"
            f"  tests: {tests}\n")


# ------------------------------------------------------------------ packs and their cases
def test_every_rule_case_passes_through_production_path(engine):
    report = run_tests(engine)
    assert report.rules == len(engine.rules)
    assert not report.failures, "\n".join(f.line() for f in report.failures)


def test_todo_cases_are_counted_and_never_fail(tmp_path):
    pack = _copy_base(tmp_path)
    (pack / "rules" / "zz_todo.yaml").write_text(
        _rule_yaml("ZZ-TODO-001", "{claim: {terms: [示例违规词]}}",
                   "{must_match: [含示例违规词, 示例违规词二], must_not_match: [正常文本, 另一段正常文本], "
                   "todo: [还没有覆盖的说法, 这句其实已经有示例违规词了]}"),
        encoding="utf-8")
    (pack / "rules" / "zz_bad.yaml").write_text(
        _rule_yaml("ZZ-BAD-001", "{claim: {terms: [另一个违规词]}}",
                   "{must_match: [含另一个违规词, 没有那个词], must_not_match: [正常文本, 另一段正常文本]}"),
        encoding="utf-8")
    # --rule: only the named rule's cases (the failing ZZ-BAD-001 is not run)
    res = CliRunner().invoke(cli, ["rules", "test", str(pack), "-v", "--rule", "ZZ-TODO-001"])
    assert res.exit_code == 0, res.output
    assert re.search(r"^1 rules, 4 cases: 0 failed, 2 todo \(1 now firing", res.output, re.M), res.output
    assert "ZZ-TODO-001: todo now fires: 这句其实已经有示例违规词了" in res.output
    res = CliRunner().invoke(cli, ["rules", "test", str(pack), "--rule", "ZZ-BAD-001"])
    assert res.exit_code == 1 and "ZZ-BAD-001: miss: [body] 没有那个词" in res.output, res.output
    res = CliRunner().invoke(cli, ["rules", "test", str(pack), "--rule", "ZZ-NONE-001"])
    assert res.exit_code == 2 and "ZZ-NONE-001" in res.output, res.output


def test_pack_shape(engine):
    assert engine.packs[0].id == "cn-base" and engine.packs[0].version
    assert len(engine.rules) >= 150
    assert {r.category for r in engine.rules} == set(rules.CATEGORIES)
    for r in engine.rules:
        assert len(r.must_match) >= 2 and len(r.must_not_match) >= 2, r.id
        assert r.legal and r.law.startswith("《"), r.id
        assert r.severity in ("high", "medium", "low") and 0 <= r.confidence <= 1


def test_hit_dict_contract(engine):
    text = "本店最 佳产品，全网销量第一"
    hits = engine.check({"title": text})
    assert hits
    d = hits[0].to_dict()
    for key in ("rule", "pack", "pack_version", "category", "severity", "confidence", "law", "legal",
                "message", "field", "start", "end", "match", "excerpt", "extracted", "exceptions"):
        assert key in d
    json.dumps(d, ensure_ascii=False)
    assert d["field"] == "title" and text[d["start"]:d["end"]] == d["match"]
    assert d["match"] in d["message"] and d["match"] in d["excerpt"]
    assert engine.rule(d["rule"]).category == d["category"]
    with pytest.raises(KeyError):
        engine.rule("NO-SUCH-RULE")


# ------------------------------------------------------------------ normalisation offsets
@pytest.mark.parametrize(
    "text, expected",
    [
        ("本店栗子杭州最 好 吃", "最 好 吃"),          # evasion joiner (spaces)
        ("这款是最*佳选择", "最*佳"),                  # evasion joiner (asterisk)
        ("品质最\u200b佳", "最\u200b佳"),              # zero-width character
        ("國內銷量第①的品牌", "銷量第①"),            # traditional + circled digit
        ("ＮＯ．１品牌面膜", "ＮＯ．１"),              # full-width
        ("本產品保本保息，年化收益８％", "保本保息"),   # traditional + full-width digits
    ],
)
def test_offsets_point_at_raw_characters(engine, text, expected):
    hits = engine.check_text(text)
    spans = [text[h.start:h.end] for h in hits]
    assert expected in spans, spans
    for h in hits:
        assert text[h.start:h.end] == h.match


def test_normalisation_map():
    n = rules.normalize("全網最 佳①")
    assert n.text == "全网最佳1"
    assert n.span(2, 4) == (2, 5)
    assert n.span(4, 5) == (5, 6)
    plain = rules.normalize("普通文本，没有需要处理的字符。")
    assert plain.text == plain.original and plain.span(1, 3) == (1, 3)


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("全网最❤️佳的面膜", "全网最佳的面膜"),  # a symbol with its variation selector
        ("国家🌟级产品", "国家级产品"),
        ("最❤️🔥佳", "最佳"),  # two symbols
        ("全网最(佳)面膜", "全网最佳面膜"),  # brackets around one character
        ("全网最【佳】", "全网最佳"),
        ("行业笫一，全网蕞佳", "行业第一，全网最佳"),  # look-alike characters
        ("激素？🈚！🈶效🉑退", "激素？无！有效可退"),  # ideograph emoji for their character
        ("🈚️副作用", "无副作用"),  # and its variation selector, between two characters, with it
        ("🈵300减30", "满300减30"),  # 🈵 is the Japanese form 満
        # symbols that say something, and symbols used as bullets, stay
        ("保本❌保息❌", "保本❌保息❌"),
        ("原价→99元", "原价→99元"),
        ("新口味电子🚬到货", "新口味电子🚬到货"),
        ("签协议 💯会员积分", "签协议 💯会员积分"),
        ("🔥爆款🔥", "🔥爆款🔥"),
        ("最❤️🔥✨佳", "最❤️🔥✨佳"),  # three symbols: decoration, not a joined word
        ("（赠品）说明", "（赠品）说明"),
        ("某牌吸尘器＝噪音制造机", "某牌吸尘器=噪音制造机"),  # an equals sign says something
    ],
)
def test_decorative_symbols_and_lookalikes_between_characters(raw, normal):
    n = rules.normalize(raw)
    assert n.text == normal
    for i, ch in enumerate(n.text):  # every kept character maps back to itself, or its look-alike
        o = n.span(i, i + 1)[0]
        assert raw[o] == ch or rules.normalize(raw[o]).text == ch


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("ZUI佳面膜", "最佳面膜"),
        ("b a o 本理财 不 亏", "保本理财不亏"),
        ("guo家级 jue对有效", "国家级绝对有效"),
        ("原价 ¥ 2 9 8 0 秒杀价 ¥ 2 9 8", "原价 ¥ 2980 秒杀价 ¥ 298"),
        # Latin words and ordinary numbers stay as they are
        ("kabao本色", "kabao本色"),
        ("ok zuiha", "ok zuiha"),
        ("bao装完好", "bao装完好"),
        ("第1 2期", "第1 2期"),
        ("尺码 38 39 40", "尺码38 39 40"),  # a space after a Han character goes (第 1), between numbers stays
    ],
)
def test_pinyin_and_spaced_digits(raw, normal):
    n = rules.normalize(raw)
    assert n.text == normal
    start = normal.find("最") if "最" in normal else normal.find("保")
    if start >= 0 and normal != raw:  # a word starting with a syllable's character spans its letters
        a, b = n.span(start, start + 2)
        assert raw[a:b].replace(" ", "").lower() in ("zui佳", "bao本")


def test_regional_words_after_traditional_characters():
    n = rules.normalize("喜歡的私訊我，轉帳更便宜")
    assert n.text == "喜欢的私信我，转账更便宜"
    assert n.span(3, 5) == (3, 5)  # same length: offsets unchanged
    assert rules.normalize("转帐记录请截图").text == "转帐记录请截图"  # simplified text keeps its words


def test_schema_knows_every_normalisation_step():
    from rules.normalize import ALL_STEPS

    schema = json.loads((Path(rules.__file__).parent / "schema" / "pack.schema.json").read_text())
    assert tuple(schema["properties"]["normalize"]["items"]["enum"]) == ALL_STEPS


def test_schemas_know_every_category():
    from rules.model import CATEGORIES

    pack = json.loads((Path(rules.__file__).parent / "schema" / "pack.schema.json").read_text())
    rule = json.loads((Path(rules.__file__).parent / "schema" / "rule.schema.json").read_text())
    scoped = pack["properties"]["exceptions"]["additionalProperties"]["oneOf"][1]
    assert tuple(scoped["properties"]["categories"]["items"]["enum"]) == CATEGORIES
    assert tuple(rule["properties"]["category"]["enum"]) == CATEGORIES


def test_schema_knows_every_document_field():
    from rules.model import FIELDS

    for name in ("pack.schema.json", "rule.schema.json"):
        schema = json.loads((Path(rules.__file__).parent / "schema" / name).read_text())
        sel = schema["properties"]["selections"]["additionalProperties"]
        assert tuple(sel["properties"]["fields"]["items"]["enum"]) == FIELDS, name


def test_fields_selection_tells_the_sellers_voice_from_a_viewers(tmp_path):
    """The same first-person words are the host's claim in a livestream transcript and a viewer's
    review in chat; a fields selection lets one rule say so."""
    pack = _copy_base(tmp_path)
    voice = "{field: transcript, text: 我用过的自带神效的面霜就这一款}"
    (pack / "rules" / "zz_voice.yaml").write_text(
        _rule_yaml("ZZ-VOICE-001",
                   "{claim: {terms: [自带神效]}, review: {regex: '我用过', within: 'clause_before:10'}, "
                   "seller: {fields: [transcript, pinned]}}",
                   f"{{must_match: [{voice}, {{field: pinned, text: 我用过的自带神效的面霜}}], "
                   "must_not_match: [{field: chat, text: 我用过的自带神效的面霜就这一款}, 我用过的自带神效的面霜就这一款]}")
        .replace("  provenance:", "  condition: claim and not (review and not seller)\n  provenance:"),
        encoding="utf-8")
    eng = rules.load_engine([pack])
    said = "我用过的自带神效的面霜就这一款"
    assert [h.rule for h in eng.check({"transcript": said})] == ["ZZ-VOICE-001"]
    assert [h.field for h in eng.check({"chat": said, "transcript": "今天就到这里"})] == []
    assert "seller_voice [within fields] fields: livestream_title, pinned, transcript" in CliRunner().invoke(
        cli, ["rules", "explain", "ABS-SUPERLATIVE-001"]).output
    res = CliRunner().invoke(cli, ["rules", "test", str(pack), "--rule", "ZZ-VOICE-001"])
    assert res.exit_code == 0 and "1 rules, 4 cases: 0 failed" in res.output, res.output
    path = pack / "rules" / "zz_voice.yaml"
    good = path.read_text(encoding="utf-8")
    for bad, field in [
        (good.replace("seller: {fields: [transcript, pinned]}", "seller: {fields: [transcript], terms: [主播]}"), "terms"),
        (good.replace("[transcript, pinned]}", "[transcript, stage]}"), "fields"),
        (good.replace("  condition:", "  trigger: [claim, seller]\n  condition:"), "fields"),
    ]:
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(rules.PackError) as info:
            rules.load_engine([pack])
        assert field in info.value.field or field in info.value.problem, str(info.value)
        assert str(info.value).startswith(str(path)) or os.path.relpath(path) in str(info.value)


def test_a_rule_counting_years_judges_as_of_the_check_date(tmp_path):
    """min_years_ago counts from the year the check is made in (or --as-of): a utility-model patent
    filed in 2016 is in force in 2026 and has lapsed in 2027, so the rule needs no yearly edit."""
    pack = _copy_base(tmp_path)
    (pack / "rules" / "zz_lapsed.yaml").write_text(
        _rule_yaml("ZZ-LAPSED-001",
                   "{lapsed: {regex: 'zl\\s*(?P<year>(?:19|20)\\d\\d)\\s*[239]\\s*\\d{7}', anchors: [zl], min_years_ago: 11}}",
                   "{must_match: [专利号ZL200820123456.7, 实用新型ZL 2012 2 0456789.1], "
                   "must_not_match: [专利号ZL202420123456.7, 专利号ZL202520654321.0]}"),
        encoding="utf-8")
    eng = rules.load_engine([pack])
    text = "实用新型专利 ZL201620123456.7 仿冒必究"
    assert not eng.check_text(text, rules=["ZZ-LAPSED-001"], as_of=datetime.date(2026, 11, 27))
    assert [h.match for h in eng.check_text(text, rules=["ZZ-LAPSED-001"], as_of=datetime.date(2027, 1, 2))] == [
        "ZL201620123456"]  # the original characters, as every hit reports them
    cli_args = ["rules", "check", "--pack", str(pack), text]
    assert "ZZ-LAPSED-001" not in CliRunner().invoke(cli, cli_args + ["--as-of", "2026-11-27"]).output
    assert "ZZ-LAPSED-001" in CliRunner().invoke(cli, cli_args + ["--as-of", "2027-01-02"]).output
    bad = CliRunner().invoke(cli, cli_args + ["--as-of", "27/01/2027"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    path = pack / "rules" / "zz_lapsed.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("(?P<year>", "(?P<y>"), encoding="utf-8")
    with pytest.raises(rules.PackError) as info:
        rules.load_engine([pack])
    assert info.value.field.endswith("min_years_ago") and "(?P<year>" in info.value.problem, str(info.value)


def test_anchor_filters_keep_a_trigger_regex_out_of_lawful_boilerplate(tmp_path):
    """not_preceded_by on a trigger regex drops the anchors in that context, so 运费另计 on every
    shop page opens no regex window; another fee before 另计 still does."""
    pack = _copy_base(tmp_path)
    (pack / "rules" / "zz_fee.yaml").write_text(
        _rule_yaml("ZZ-FEE-001",
                   "{fee: {regex: '\\p{Han}{1,3}费另计', anchors: [另计], not_preceded_by: [运费]}}",
                   "{must_match: [安装费另计, 清洁费另计], must_not_match: [偏远地区运费另计, 费用已含]}"),
        encoding="utf-8")
    eng = rules.load_engine([pack])
    assert [h.match for h in eng.check_text("双人套餐98元，服务费另计", rules=["ZZ-FEE-001"])] == ["服务费另计"]
    assert not eng.check_text("默认中通快递，偏远地区运费另计。", rules=["ZZ-FEE-001"])
    res = CliRunner().invoke(cli, ["rules", "lint", str(pack)])
    assert "ZZ-FEE-001" not in res.output, res.output


def test_lint_warns_of_a_trigger_literal_that_ordinary_shop_text_is_full_of(tmp_path):
    """An anchor found on most product pages (颜色 in 颜色有黑、白、灰三种可选) opens a regex window
    on each: lint names the rule, file and line; filtering the ordinary context clears it."""
    from rules.lint import lint

    pack = _copy_base(tmp_path)
    path = pack / "rules" / "zz_color.yaml"
    cases = "{must_match: [颜色款式最全, 颜色最全的一家], must_not_match: [颜色有黑白两种, 颜色可选]}"
    path.write_text(_rule_yaml("ZZ-COLOR-001", "{claim: {regex: '颜色\\p{Han}{0,4}最全', anchors: [颜色]}}", cases),
                    encoding="utf-8")
    _e, findings = lint([str(pack)])
    mine = [f for f in findings if f.field == "ZZ-COLOR-001.selections.claim"]
    assert len(mine) == 1 and mine[0].level == "warning", [f.text() for f in findings if "ZZ-" in f.field]
    assert mine[0].file.endswith("zz_color.yaml") and mine[0].line > 1
    rate = int(re.search(r"'颜色' opens a regex window (\d+) times per 100,000 characters", mine[0].problem).group(1))
    assert rate >= 150
    assert not [f for f in findings if "selections" in f.field and "ordinary shop text" in f.problem
                and not f.field.startswith("ZZ-")], "the base pack itself should be clear"
    path.write_text(_rule_yaml("ZZ-COLOR-001", "{claim: {regex: '颜色\\p{Han}{0,4}最全', anchors: [颜色], "
                               "not_followed_by: [有]}}", cases), encoding="utf-8")
    _e, findings = lint([str(pack)])
    assert not [f for f in findings if f.field.startswith("ZZ-COLOR-001")]


def test_decorated_claim_is_found_and_points_at_the_raw_text(engine):
    text = "这款是全网最❤️佳的面膜"
    hits = [h for h in engine.check_text(text) if h.category == "absolute_terms"]
    assert hits and any(h.match == "最❤️佳" for h in hits), [(h.rule, h.match) for h in hits]


def test_negations_disclaimers_and_exemptions_do_not_fire(engine):
    for text in [
        "保健食品不是药物，不能代替药物治疗疾病",
        "本品不能代替药物",
        "投资有风险，理财非存款，产品有风险，投资须谨慎",
        "过往业绩不代表其未来表现",
        "最佳食用期：开封后7天内",
        "第一次使用请先阅读说明书",
        "我们不承诺保过，学习效果取决于个人努力",
        "根据《广告法》规定，广告不得使用“最佳”“国家级”等用语",
        "谨防“保本保息”类非法集资宣传",
    ]:
        assert not engine.check_text(text), (text, [h.rule for h in engine.check_text(text)])


# ------------------------------------------------------------------ malformed packs
def _copy_base(tmp_path: Path) -> Path:
    dst = tmp_path / "cn-base"
    shutil.copytree(BASE, dst)
    return dst


def test_malformed_pack_is_refused_whole_with_file_and_line(tmp_path):
    pack = _copy_base(tmp_path)
    path = pack / "rules" / "finance.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    idx = next(i for i, line in enumerate(lines) if line.strip() == "category: finance")
    lines[idx] = lines[idx].replace("finance", "banking")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(rules.PackError) as info:
        rules.load_engine([pack])
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{idx + 1}: ") or msg.startswith(f"{os.path.relpath(path)}:{idx + 1}: ")
    assert ".category: " in msg


@pytest.mark.parametrize(
    "mutate, field",
    [
        # each mutation breaks the first place of its kind, whatever the rules say today
        (lambda s: s.replace("regex: '", "regex: '(", 1), "regex"),
        # the loader checks syntax with the standard parser; these two only `regex` refuses
        (lambda s: s.replace("regex: '", "regex: '\\p{NoSuchScript}", 1), "regex"),
        (lambda s: s.replace("regex: '", "regex: 'a{e<=1}{e<=1}", 1), "regex"),
        # \G is an anchor anywhere but inside a class, where only `regex` refuses it
        (lambda s: s.replace("regex: '", "regex: '[\\G]", 1), "regex"),
        (lambda s: s.replace("{law: 广告法,", "{law: 不存在的法,", 1), "law"),
        (lambda s: re.sub(r"(?m)^  condition: .*$", "  condition: claim and nonexistent", s, count=1), "condition"),
        (lambda s: s + s[s.index("- id: "):s.index("- id: ", s.index("- id: ") + 1)], "id"),
        (lambda s: s.replace("category: finance", "category: finance\n  category: finance", 1), "yaml"),
        # every rule says who wrote it, when, and from which public material
        (lambda s: re.sub(r"(?m)^  provenance: .*$", "  provenance: {author: 某人, created: '2026-11-26'}", s, count=1),
         "sources"),
        (lambda s: re.sub(r"(?m)^  provenance: .*$", "  provenance: {author: 某人, created: 2026年, sources: [x]}", s, count=1),
         "created"),
    ],
)
def test_malformed_pack_variants(tmp_path, mutate, field):
    pack = _copy_base(tmp_path)
    path = pack / "rules" / "finance.yaml"
    path.write_text(mutate(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(rules.PackError) as info:
        rules.load_engine([pack])
    err = info.value
    assert err.line > 0 and str(err).count(":") >= 3 and "\n" not in str(err)
    assert field in err.field or field in err.problem


def test_cli_reports_pack_error_and_fails(tmp_path):
    pack = _copy_base(tmp_path)
    path = pack / "rules" / "education.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("severity: high", "severity: severe", 1), encoding="utf-8")
    for args in (["rules", "lint", str(pack)], ["rules", "test", str(pack)]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code != 0
        out = (res.output or "") + (res.stderr if hasattr(res, "stderr") else "")
        assert "education.yaml:" in out and "severity" in out


def test_holder_keeps_last_good_engine(tmp_path):
    pack = _copy_base(tmp_path)
    holder = rules.EngineHolder([pack])
    good = holder.engine
    path = pack / "rules" / "livestream.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "- id: broken\n", encoding="utf-8")
    err = holder.reload()
    assert isinstance(err, rules.PackError)
    assert holder.engine is good and holder.check({"body": "全网销量第一"})
    assert holder.check_text("全网销量第一") and holder.packs[0].id == "cn-base" and holder.rule("ABS-RANK-FIRST-003")
    again, err2 = rules.reload(good)
    assert again is good and isinstance(err2, rules.PackError)


def test_regional_pack_extends_and_disables(tmp_path):
    region = tmp_path / "cn-xx"
    (region / "rules").mkdir(parents=True)
    (region / "pack.yaml").write_text(
        "id: cn-xx\nversion: 0.1.0\ntitle: 示例地方包\njurisdiction: CN-HN\nextends: cn-base\n"
        "disable: [ABS-PREFERRED-009]\n", encoding="utf-8")
    (region / "rules" / "local.yaml").write_text(
        _rule_yaml("XX-LOCAL-001", "{claim: {terms: [示例违规词]}}",
                   "{must_match: [含示例违规词, 示例违规词二], must_not_match: [正常文本, 另一段正常文本]}"),
        encoding="utf-8")
    eng = rules.load_engine([region, BASE])  # order given does not matter: the base loads first
    assert [p.id for p in eng.packs] == ["cn-base", "cn-xx"]
    assert eng.check_text("这里有示例违规词")[0].rule == "XX-LOCAL-001"
    with pytest.raises(KeyError):
        eng.rule("ABS-PREFERRED-009")


def test_pack_exception_scoped_to_categories_applies_to_their_rules_only(tmp_path):
    """An exception written {when, categories} drops a candidate of a rule of those categories only
    (and is listed among the exceptions that rule considered); a category outside the fixed
    vocabulary, or a bad condition, stops the load at the exception's line."""
    region = tmp_path / "cn-xx"
    (region / "rules").mkdir(parents=True)
    head = ("id: cn-xx\nversion: 0.1.0\ntitle: 示例地方包\njurisdiction: CN-HN\nextends: cn-base\n"
            "selections:\n  sample_doc: {regex: '样稿|内部审稿', within: field}\nexceptions:\n")
    good = head + "  sample_draft:\n    when: sample_doc\n    categories: [other]\n"
    (region / "pack.yaml").write_text(good, encoding="utf-8")
    (region / "rules" / "local.yaml").write_text(
        _rule_yaml("XX-LOCAL-001", "{claim: {terms: [示例违规词]}}",
                   "{must_match: [含示例违规词, 示例违规词二], must_not_match: [正常文本, 样稿：示例违规词]}")
        + _rule_yaml("XX-LOCAL-002", "{claim: {terms: [示例违规词]}}",
                     "{must_match: [含示例违规词, 样稿：示例违规词], must_not_match: [正常文本, 另一段正常文本]}",
                     category="price_fraud"),
        encoding="utf-8")
    eng = rules.load_engine([BASE, region])
    assert run_tests(eng, {"cn-xx"}).failures == []
    assert {h.rule for h in eng.check_text("这里有示例违规词")} == {"XX-LOCAL-001", "XX-LOCAL-002"}
    assert {h.rule for h in eng.check_text("样稿：这里有示例违规词")} == {"XX-LOCAL-002"}
    [other] = [h for h in eng.check_text("这里有示例违规词") if h.rule == "XX-LOCAL-001"]
    [price] = [h for h in eng.check_text("这里有示例违规词") if h.rule == "XX-LOCAL-002"]
    assert "sample_draft" in other.exceptions and "sample_draft" not in price.exceptions
    assert "overseer_report" not in other.exceptions  # the base pack's own scoped exception: unfair_terms only
    for bad, field, line in [(good.replace("[other]", "[others]"), "exceptions.sample_draft.categories.0", 11),
                             (good.replace("when: sample_doc", "when: sample_doc and"), "exceptions.sample_draft.when", 9)]:
        (region / "pack.yaml").write_text(bad, encoding="utf-8")
        with pytest.raises(rules.PackError) as info:
            rules.load_engine([BASE, region])
        assert (info.value.field, info.value.line) == (field, line), str(info.value)


def test_trigger_lookahead_sees_past_the_window(tmp_path):
    # a trigger regex runs in a window around its anchor; the window's end must not hide what a
    # look-ahead checks (最妙(?!食用) matched in 最妙食用期, 超赞(?=好物) missed 超赞好物)
    pack = _copy_base(tmp_path)
    (pack / "rules" / "zz_look.yaml").write_text(
        _rule_yaml("ZZ-LOOK-001", "{claim: {regex: '最妙(?!食用)', anchors: [最妙]}, "
                   "claim2: {regex: '超赞(?=[^，。]{0,3}好物)', anchors: [超赞]}}",
                   "{must_match: [最妙的东西, 超赞好物], must_not_match: [最妙食用期, 超赞]}"),
        encoding="utf-8")
    eng = rules.load_engine([pack])
    fired = {t: [h.match for h in eng.check_text(t) if h.rule == "ZZ-LOOK-001"]
             for t in ["最妙食用期", "最妙的东西", "超赞好物", "超赞的好物", "超赞"]}
    assert fired == {"最妙食用期": [], "最妙的东西": ["最妙"], "超赞好物": ["超赞"], "超赞的好物": ["超赞"], "超赞": []}


# ------------------------------------------------------------------ deadlines
def test_catastrophic_regex_cannot_stall(tmp_path):
    pack = _copy_base(tmp_path)
    (pack / "rules" / "zz_slow.yaml").write_text(
        _rule_yaml("ZZ-SLOW-001", "{claim: {regex: '(.*,){12}x', anchors: ['a,'], window: 400}}",
                   "{must_match: ['a,a,a,a,a,a,a,a,a,a,a,a,x', 'b,b,b,b,b,b,b,b,b,b,b,a,x'], must_not_match: [无, 无关]}"),
        encoding="utf-8")
    eng = rules.load_engine([pack])
    # one-time work (the literal database of a pack not in the cache, the collector's first pass
    # after a load) is not the document's time and is done before the clock starts: only the
    # deadline-bound check is timed, so a loaded machine does not fail the test
    eng.check({"body": "无"})
    text = "a," * 3000
    t0 = time.perf_counter()
    hits = eng.check({"body": text, "terms": text, "ocr": text}, deadline_ms=300)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    assert hits.regex_timeouts > 0 or hits.timed_out
    from rules.lint import lint

    _e, findings = lint([str(pack)])
    assert any(f.level == "error" and "ZZ-SLOW-001" in f.field for f in findings)


# ------------------------------------------------------------------ CLI contract
def test_rules_check_jsonl_contract(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "text": "全網最 佳的面膜，保证有效"},
        {"id": 2, "text": "这是一段没有问题的文字。"},
        {"id": "c", "text": "本活动最终解释权归本店所有", "field": "terms"},
    ]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "check", "--jsonl", str(src)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert lines and all(set(d) == {"id", "rule", "category", "severity", "law", "field", "start", "end", "match"} for d in lines)
    assert {d["id"] for d in lines} == {"a", "c"}
    by_id = {r["id"]: r for r in rows}
    for d in lines:
        assert by_id[d["id"]]["text"][d["start"]:d["end"]] == d["match"]
    assert any(d["field"] == "terms" and d["category"] == "unfair_terms" for d in lines)
    assert "最 佳" in res.output  # ensure_ascii=False
    none = CliRunner().invoke(cli, ["rules", "check", "普通的文字"])
    assert none.exit_code == 0 and none.output == ""


def test_rules_commands_help_and_explain():
    for args in (["rules", "--help"], ["rules", "test", "--help"], ["rules", "lint", "--help"],
                 ["rules", "check", "--help"], ["rules", "explain", "--help"], ["bench", "rules", "--help"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0 and len(res.output) > 200, args
    res = CliRunner().invoke(cli, ["rules", "explain", "FIN-PRINCIPAL-001"])
    assert res.exit_code == 0 and "第二十五条" in res.output and "must_match" in res.output
    # --json: the rule as written in its YAML file (read again from the pack, not kept in memory)
    res = CliRunner().invoke(cli, ["rules", "explain", "FIN-PRINCIPAL-001", "--json"])
    written = json.loads(res.output)
    assert written["id"] == "FIN-PRINCIPAL-001" and written["category"] == "finance"
    assert len(written["tests"]["must_match"]) >= 2 and "condition" in written


def test_explain_text_says_what_blocked_a_candidate():
    said = "我用过最好的面霜"
    res = CliRunner().invoke(cli, ["rules", "explain", "ABS-SUPERLATIVE-001", "--text", said, "--field", "chat"])
    assert res.exit_code == 0, res.output
    assert "candidate 3-5 「最好」: no hit, blocked by:" in res.output
    assert "review=true" in res.output and "seller_voice=false" in res.output
    res = CliRunner().invoke(cli, ["rules", "explain", "ABS-SUPERLATIVE-001", "--text", said, "--field", "transcript",
                                   "--json"])
    trace = json.loads(res.output)
    assert [(c["match"], c["fired"]) for c in trace["candidates"]] == [("最好", True)]
    assert all(conj["value"] for conj in trace["candidates"][0]["conjuncts"])
    # offsets index the raw text; a pack exception is named, not expanded
    res = CliRunner().invoke(cli, ["rules", "explain", "ABS-SUPERLATIVE-001", "--json", "--text",
                                   "我们不敢说是最 佳的"])
    trace = json.loads(res.output)
    cand = trace["candidates"][0]
    assert cand["match"] == "最 佳" and not cand["fired"] and trace["normalised"]["body"] == "我们不敢说是最佳的"
    blocking = {c["source"]: c["selections"] for c in cand["conjuncts"] if not c["value"]}
    assert "not negation" in blocking  # 不敢说: the pack's negation cue, and the ABS rules' shared hedge
    assert any(sels.get("abs_hedge") for sels in blocking.values())
    res = CliRunner().invoke(cli, ["rules", "explain", "ABS-SUPERLATIVE-001", "--text", "今天天气晴"])
    assert "no candidate" in res.output
    # a document-level conjunct (a hospital's own page) is shown as what blocked the candidate,
    # though `rules check` never builds candidates for a rule whose document gate is false
    res = CliRunner().invoke(cli, ["rules", "explain", "MED-DISEASE-CLAIM-001", "--text", "本院骨科门诊专治颈椎病，医保定点"])
    assert "「颈椎病」: no hit, blocked by:" in res.output and "not clinic_ctx    [clinic_ctx=true]" in res.output
    assert not rules.load_engine().check_text("本院骨科门诊专治颈椎病，医保定点", rules=["MED-DISEASE-CLAIM-001"])
    res = CliRunner().invoke(cli, ["rules", "explain", "ABS-SUPERLATIVE-001", "--text", "最佳", "--field", "stage"])
    assert res.exit_code == 2 and "--field: unknown field 'stage'" in res.output


def test_explain_leaves_other_threads_checks_alone(engine):
    """A trace (rules explain, the review UI's why-panel) observes one check of its own: checks
    running beside it in other threads keep every rule and every document gate."""
    import threading

    from rules.trace import trace_rule

    page = "本院骨科门诊专治颈椎病，医保定点。" * 40 + "本品全网最低价，保证治愈高血压，国家级产品。"
    # a generous deadline: under load the two threads share one interpreter, and a check that ran
    # out of time would return fewer hits for a reason this test is not about
    expected = [(h.rule, h.start) for h in engine.check_text(page, deadline_ms=60_000)]
    assert len({r for r, _s in expected}) >= 2
    done = threading.Event()

    def tracing():
        try:
            for _ in range(25):
                trace_rule(engine, "MED-DISEASE-CLAIM-001", {"body": page})
        finally:
            done.set()

    worker = threading.Thread(target=tracing)
    worker.start()
    seen = 0
    while not done.is_set() or seen < 5:
        assert [(h.rule, h.start) for h in engine.check_text(page, deadline_ms=60_000)] == expected
        seen += 1
    worker.join()

# ------------------------------------------------------------------ corpus thresholds
def _check_thresholds(result: dict) -> list[str]:
    problems = []
    o = result["overall"]
    if o["precision"] < 0.95:
        problems.append(f"precision {o['precision']} < 0.95")
    if o["recall"] < 0.90:
        problems.append(f"recall {o['recall']} < 0.90")
    for cat, v in result["per_category"].items():
        if v["tp"] + v["fn"] and v["recall"] < 0.80:
            problems.append(f"{cat} recall {v['recall']} < 0.80")
    return problems


def test_corpus_size_and_labels():
    items = load_corpus()
    assert len(items) >= 400
    assert sum(1 for it in items if not it["labels"]) >= sum(1 for it in items if it["labels"])
    assert {c for it in items for c in it["labels"]} == set(rules.CATEGORIES) - {"other"} | {"other"}
    assert all(it.get("source") for it in items)
    assert {it["split"] for it in items} == {"dev", "heldout"}


def test_corpus_thresholds(engine):
    result = evaluate(engine, load_corpus())
    problems = _check_thresholds(result)
    assert not problems, problems


def test_threshold_check_can_fail():
    """The corpus test is a real gate: an engine with one rule scores far below it."""
    weak = rules.load_engine([BASE])
    weak.rules = weak.rules[:1]
    weak._compile()
    assert _check_thresholds(evaluate(weak, load_corpus()))


def test_rules_test_command_with_coverage():
    res = CliRunner().invoke(cli, ["rules", "test", "--coverage"])
    assert res.exit_code == 0, res.output
    assert "0 failed" in res.output and "0 uncovered" in res.output


def test_scanners_agree(monkeypatch):
    """The optional Hyperscan accelerator finds exactly what ahocorasick_rs finds."""
    pytest.importorskip("hyperscan")
    monkeypatch.setenv("FANGXIN_RULES_SCANNER", "auto")
    fast = rules.load_engine([BASE])
    monkeypatch.setenv("FANGXIN_RULES_SCANNER", "ahocorasick")
    plain = rules.load_engine([BASE])
    assert fast.scanner == "hyperscan" and plain.scanner == "ahocorasick_rs"
    from rules.engine import _aligned_only

    # the scan of every corpus text: the same matches (the order of those ending together may
    # differ; the engine does not depend on it), except that a literal
    # that only tells a context is present (and cannot match off a character boundary) comes once
    once = [not t and _aligned_only(p) for t, p in zip(fast._pid_targets, fast.patterns, strict=True)]
    corpus = load_corpus()
    for it in corpus:
        text = rules.normalize(it["text"] + " 國內銷量第① ＮＯ．１ 最 佳").text
        seen: set[int] = set()
        expected = []
        for pid, s, e in plain._automaton.find_matches_as_indexes(text, overlapping=True):
            if once[pid]:
                if pid in seen:
                    continue
                seen.add(pid)
            expected.append((pid, s, e))
        assert sorted(fast._hs.scan(text)) == sorted(expected), it["id"]
    # and the hits, on every fourth text (each check costs a millisecond or two, twice)
    for it in corpus[::4]:
        doc = {it["field"]: it["text"] + " 國內銷量第① ＮＯ．１ 最 佳"}
        assert [h.to_dict() for h in fast.check(doc)] == [h.to_dict() for h in plain.check(doc)], it["id"]


def test_presence_only_literals_are_reported_once_and_only_when_aligned(engine):
    """A literal that only tells a document context is present is scanned with Hyperscan's
    single-match flag, but only when its UTF-32 bytes cannot match off a character boundary:
    最 (U+6700) matches three bytes into "xg", and a discarded misaligned first match would hide
    the real one."""
    hyperscan = pytest.importorskip("hyperscan")
    from rules.engine import _aligned_only, hyperscan_literal

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[hyperscan_literal("最".encode("utf-32-le"))], ids=[0], elements=1, flags=0)
    ends = []
    db.scan("xg最".encode("utf-32-le"), match_event_handler=lambda *a: ends.append(a[2]))
    assert ends == [7, 12]  # 7: misaligned, inside x g; 12: the real 最
    assert not _aligned_only("最") and not _aligned_only("ab") and _aligned_only("维生素") and _aligned_only("最好")
    if engine.scanner != "hyperscan":
        return
    once = [not t and _aligned_only(p) for t, p in zip(engine._pid_targets, engine.patterns, strict=True)]
    pid = next(i for i, o in enumerate(once) if o)
    literal = engine.patterns[pid]
    found = [m for m in engine._hs.scan(f"{literal}，{literal}。{literal}") if m[0] == pid]
    assert found == [(pid, 0, len(literal))]
    trigger = next(i for i, t in enumerate(engine._pid_targets) if t)
    text = f"{engine.patterns[trigger]}，{engine.patterns[trigger]}"
    assert len([m for m in engine._hs.scan(text) if m[0] == trigger]) == 2


def test_exception_guard_changes_no_result(monkeypatch):
    """The exception guard, the document gates, the literal pre-filters and the trimmed regex
    windows only skip work:
    with and without them every corpus text, also with warning, quotation and law cues planted
    around it, gets the same hits and exceptions."""
    monkeypatch.setenv("FANGXIN_RULES_GUARD", "on")
    guarded = rules.load_engine([BASE])
    monkeypatch.setenv("FANGXIN_RULES_GUARD", "off")
    plain = rules.load_engine([BASE])
    plain._reach = {}  # and trigger regexes in their full windows, not trimmed to their longest match
    plain._gate_fns = [[] for _ in plain._gate_fns]  # and every rule's candidates built, document gate or not
    names = {n for group, _fn in guarded._guards["cn-base"] for n in group}
    assert {"warning", "strong_warning", "discussing_law"} <= names and not plain._guards
    for it in load_corpus():
        for text in (it["text"], f"谨防“{it['text']}”骗局？", f"《广告法》规定：{it['text']}，是否属实"):
            doc = {it["field"]: text}
            assert [h.to_dict() for h in guarded.check(doc)] == [h.to_dict() for h in plain.check(doc)], (it["id"], text)


def test_document_gate_reads_whole_document_selections_through_and_or_not():
    """A rule is skipped on a document where its whole-document selections alone make its
    condition false at every span, wherever they sit in it; every other selection may be either."""
    from rules.condition import names_in, parse
    from rules.engine import TRUE_NODE, _document_gate

    names = ["claim", "noextra", "at_door", "bill_doc", "clinic_ctx", "exc"]

    def gate(cond):
        node = _document_gate(parse(cond, names, ["claim"]), {"bill_doc", "clinic_ctx"})
        return node if node == TRUE_NODE else parse_back(node)

    def parse_back(node):
        if node[0] == "sel":
            return node[1]
        if node[0] == "not":
            return f"not {parse_back(node[1])}"
        return f"({parse_back(node[1])} {node[0]} {parse_back(node[2])})"

    assert gate("claim and not clinic_ctx") == "not clinic_ctx"
    assert gate("(bill_doc and claim or bill_doc and noextra) and not clinic_ctx") == "(bill_doc and not clinic_ctx)"
    assert gate("(bill_doc and claim) or at_door") == TRUE_NODE  # at_door alone can fire: no gate
    assert gate("claim and not (bill_doc and exc)") == TRUE_NODE  # exc may be false: bill_doc proves nothing
    assert gate("claim and not (bill_doc or exc)") == "not bill_doc"
    assert gate("not (not bill_doc or claim)") == "bill_doc"
    # on the pack: a gate reads whole-document selections only (`rules test` runs every rule's
    # cases with its gate, so a gate false on a must_match case fails there)
    engine = rules.load_engine([BASE])
    gated = [(rule, g) for rule, gates in zip(engine.rules, engine._gates, strict=True) for g in gates]
    assert len(gated) > 100
    for rule, g in gated:
        assert all(engine._selection(rule, n).within[0] == "document" for n in names_in(g)), rule.id


def test_required_literals_are_in_every_match(engine):
    """rules.cues: each literal list it proves for a pack regex is found in every match of that
    regex over the rule cases and the corpus; patterns it cannot prove give None."""
    from rules.cues import regex_literals

    assert set(regex_literals("保过|包过|稳过")) == {"包过", "保过", "稳过"}
    assert regex_literals("a?b") is None and regex_literals("No\\.1|TOP") is None
    assert regex_literals(r"仅剩(?:最后)?\s*\d+\s*件") == ["仅剩"]
    assert regex_literals(r"\G[^。]{0,20}[？?]") == ["?", "？"]
    texts = [it["text"] for it in load_corpus()] + [c.text for r in engine.rules for c in r.must_match]
    # one string of every normalised text: the claim holds for every match on any text, and one
    # search per pattern over the whole keeps the check to seconds (a search per text and pattern
    # cost five minutes)
    whole = "\n".join(rules.normalize(text).text for text in texts)
    checked = 0
    for sel in [s for r in engine.rules for s in r.selections.values()] + list(engine.packs[0].selections.values()):
        if sel.regex is None:
            continue
        lits = regex_literals(sel.regex_source or sel.regex.pattern)
        if lits is None:
            continue
        for m in sel.regex.finditer(whole):
            if m.end() > m.start():
                assert any(x in m.group(0) for x in lits), (sel.name, m.group(0), lits)
                checked += 1
    assert checked > 500


def test_trigger_prefilter_literals_are_in_every_match_and_not_in_every_anchor(engine):
    """rules.cues.discriminating_literals: a trigger regex's window is skipped when none of these
    literals is in it, so each must be in every match; and a list that every anchor already
    contains would reject no window, so it is not offered."""
    from rules.cues import discriminating_literals

    # 最 is in no anchor: a window found by 全国 or 行业 without 最 cannot hold a match
    assert discriminating_literals("(?:全国|行业)最(?:好|佳)", ["全国", "行业"]) == ["最"]
    # every anchor holds 最, and 好 / 佳: no list rejects a window
    assert discriminating_literals("最(?:好|佳)", ["最好", "最佳"]) is None
    # 名 is in the anchor 第一名 but not in 最: a window found by 最 may lack it
    assert discriminating_literals("(?:最|第一)(?:好|名)", ["最", "第一名"]) == ["名", "好"]
    import ahocorasick_rs

    texts = [it["text"] for it in load_corpus()] + [c.text for r in engine.rules for c in r.must_match]
    texts = [rules.normalize(t).text for t in texts]
    # the engine searches only around an anchor: which texts hold each anchor, from one literal scan
    anchors = sorted({a for r in engine.rules for n in r.triggers for a in r.selections[n].anchors})
    holding: dict[str, set[int]] = {a: set() for a in anchors}
    scan = ahocorasick_rs.AhoCorasick(anchors)
    for i, text in enumerate(texts):
        for pid, _s, _e in scan.find_matches_as_indexes(text, overlapping=True):
            holding[anchors[pid]].add(i)
    checked = offered = 0
    for rule in engine.rules:
        for name in rule.triggers:
            sel = rule.selections[name]
            if sel.regex is None:
                continue
            lits = discriminating_literals(sel.regex_source or sel.regex.pattern, list(sel.anchors))
            if lits is None:
                continue
            offered += 1
            assert not all(any(x in a for x in lits) for a in sel.anchors), (rule.id, lits)
            # the texts that hold an anchor, joined: one search per pattern
            near = "\n".join(texts[i] for i in sorted(set().union(*(holding[a] for a in sel.anchors))))
            for m in sel.regex.finditer(near):
                if m.end() > m.start():
                    assert any(x in m.group(0) for x in lits), (rule.id, m.group(0), lits)
                    checked += 1
    assert offered > 300 and checked > 1000


def test_json_schemas_are_valid_and_validate_the_packs():
    import jsonschema
    import yaml

    schemas = {}
    for name in ("pack", "rule", "rules"):
        schema = json.loads((ROOT / "rules" / "schema" / f"{name}.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        schemas[name] = schema
    # one validator per schema (jsonschema.validate checks the schema itself again on every call)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    jsonschema.Draft202012Validator(schemas["pack"]).validate(
        yaml.load((BASE / "pack.yaml").read_text(encoding="utf-8"), Loader=loader))  # noqa: S506
    rule_validator = jsonschema.Draft202012Validator(schemas["rule"])
    for path in sorted((BASE / "rules").glob("*.yaml")):
        for rule in yaml.load(path.read_text(encoding="utf-8"), Loader=loader):  # noqa: S506
            rule_validator.validate(rule)


# ------------------------------------------------------------------ compiled pack cache
def test_pack_cache_hit_matches_fresh_load_and_follows_edits(tmp_path, monkeypatch):
    """A cached load gives the same hits as a fresh one; editing a pack file misses the cache;
    a malformed pack is refused and never cached."""
    monkeypatch.setenv("FANGXIN_RULES_CACHE", str(tmp_path / "cache"))
    pack = tmp_path / "cn-base"
    shutil.copytree(BASE, pack)
    first = rules.load_engine([pack])
    entries = list((tmp_path / "cache").glob("packs-*.pickle"))
    assert len(entries) == 1 and (os.stat(entries[0]).st_mode & 0o077) == 0
    second = rules.load_engine([pack])
    # a cached load restores every regex compiled, parsing none (rules.lazyregex)
    patterns = [s.regex for r in second.rules for s in r.selections.values() if s.regex is not None]
    assert len(patterns) > 100 and all(p._rx is not None for p in patterns)
    assert [p._rx.pattern for p in patterns] == [p.pattern for p in patterns]
    monkeypatch.setenv("FANGXIN_RULES_CACHE", "off")
    fresh = rules.load_engine([pack])
    monkeypatch.setenv("FANGXIN_RULES_CACHE", str(tmp_path / "cache"))
    for it in load_corpus()[::7]:
        doc = {it["field"]: it["text"] + " 國內銷量第① 最 佳"}
        want = [h.to_dict() for h in fresh.check(doc)]
        assert [h.to_dict() for h in first.check(doc)] == want
        assert [h.to_dict() for h in second.check(doc)] == want, it["id"]
    rule_file = pack / "rules" / "absolute_terms.yaml"
    rule_file.write_text(rule_file.read_text(encoding="utf-8").replace("违反《广告法》第九条第（三）项", "改动", 1),
                         encoding="utf-8")
    edited = rules.load_engine([pack])
    assert edited.rule("ABS-SUPERLATIVE-001").message.endswith("改动")
    rule_file.write_text("- id: [\n", encoding="utf-8")
    with pytest.raises(rules.PackError):
        rules.load_engine([pack])
    assert len(list((tmp_path / "cache").glob("packs-*.pickle"))) == 2


def test_regex_timeout_skipped_only_for_bounded_patterns():
    from rules.cues import safe_width as _safe_width

    for risky in [r"(.*,){12}x", r"(a|aa)*b", r"(\d+)\1", r"(a+)+b", r"\d+\s*\d+\s*\d+\s*\d+"]:
        assert _safe_width(risky) <= 8, risky  # exponential or worse: no window worth the risk
    # a repeated group whose branches cannot both match, alternations of literals: linear
    assert _safe_width(r"(?:ab){2}c") == 400 and _safe_width(r"(?:保证|承诺|确保)(?:收益|回报)") == 400
    assert _safe_width(r"\G[^。！；，,!;\n]{0,20}[？?]") >= 200
    assert _safe_width(r"《[^》\n]{1,30}》|(?:依法|依照|根据)[^。\n]{0,6}(?:规定|条例)") >= 200
    assert 0 < _safe_width(r"[\p{Han}]{1,4}之王|(?:森林)?[^。]{0,8}x+") < 400


def test_rules_check_output_line_is_plain_json_dumps(engine, tmp_path):
    """The pre-encoded output line equals json.dumps of the contract keys; a bad input line still
    gets the hits of the lines before it."""
    from fangxin.commands.rules import _out_line

    keys = ("rule", "category", "severity", "law", "field", "start", "end", "match")
    for doc_id in ("a\"b", 7, None, ["x"]):
        for hit in engine.check({"body": "全網最 佳的面膜，保证有效\\n“引号”", "terms": "最终解释权归本店所有"}):
            want = json.dumps({"id": doc_id, **{k: getattr(hit, k) for k in keys}}, ensure_ascii=False)
            assert _out_line(doc_id, hit) == want
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "全网最低价"}\nnot json\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "check", "--jsonl", str(src)])
    assert res.exit_code == 2 and '"id": "a"' in res.output


def test_profile_names_the_rule_that_costs(engine):
    """`bench rules --profile`: a page crowded with one claim puts that claim's rule first."""
    from rules.profile import profile_rules

    page = "本店招牌：包过！包过！" * 80
    total, ranked = profile_rules(engine, [{"body": page}] * 3)
    assert total > 0 and ranked[0][0].startswith("EDU-"), ranked[:3]
    assert sum(sec for _rid, sec, _n in ranked) <= total


def test_exception_guard_respects_a_rule_that_shadows_a_pack_selection(tmp_path, monkeypatch):
    """A rule may define its own selection under the name a pack exception reads; the guard, built
    from the pack's cue words, must then leave that exception to be evaluated."""
    pack = _copy_base(tmp_path)
    path = pack / "rules" / "finance.yaml"
    text = path.read_text(encoding="utf-8")
    first_selections = text.index("  selections:\n")  # FIN-PRINCIPAL-001, the first rule of the file
    path.write_text(text[:first_selections] + "  selections:\n    strong_warning: {terms: [温馨说明], within: sentence:50}\n"
                    + text[first_selections + len("  selections:\n"):], encoding="utf-8")
    doc = {"body": "温馨说明：本理财产品保本保息，年化收益8%"}
    for guard in ("on", "off"):
        monkeypatch.setenv("FANGXIN_RULES_GUARD", guard)
        hits = rules.load_engine([pack]).check(doc)
        assert "FIN-PRINCIPAL-001" not in {h.rule for h in hits}, guard
    assert "FIN-PRINCIPAL-001" in {h.rule for h in rules.load_engine([pack]).check({"body": "本理财产品保本保息，年化收益8%"})}


def test_guided_document_search_finds_what_the_whole_search_finds(engine):
    """A whole-document regex searched only around its literals answers as a search of the whole
    text would, also where look-arounds and greedy parts meet a window's end."""
    import random

    import regex

    from rules.cues import lookaround_width, max_width, regex_literals
    from rules.engine import _Check

    rng = random.Random(3)
    alphabet = list("丸子血栓塞炎灵贴膏片止痛降压好的。，") + ["  "]
    patterns = [r"(?<![肉鱼])丸(?!子)|(?<![血])栓(?!塞)", r"(?:炎|痛|压)灵(?=贴|膏)", r"止痛\p{Han}{0,2}(?:膏|贴)(?!子)"]
    chk = _Check(engine, float("inf"), None)
    outcomes = set()
    for src in patterns:
        rx = regex.compile(src)
        lits = regex_literals(src)
        guide = ("|".join(map(regex.escape, lits)), max_width(src) + max(map(len, lits)), lookaround_width(src))
        for _ in range(400):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(600, 900)))
            got = chk._guided_search(rx, guide, text, 0, len(text))
            assert (got is None) == (rx.search(text) is None), (src, text)
            outcomes.add((src, got is None))
    assert len(outcomes) >= 5  # found and not found, for most patterns


def test_document_regex_literal_branches_are_read_off_the_scan(engine):
    """A whole-document regex's literal branches move to the automaton (rules.loader
    split_literal_branches); the selection still answers, on every corpus text, as a search of
    the whole text with the pack's original pattern would."""
    import regex
    import yaml

    from rules.loader import expand_defines, split_literal_branches, top_level_branches

    steps = tuple(engine.steps)
    assert top_level_branches("地铁口|(?:工作|生活)在[^|]{1,8}|cbd") == ["地铁口", "(?:工作|生活)在[^|]{1,8}", "cbd"]
    assert top_level_branches("(?i)a|b") is None  # a leading flag applies to every branch
    assert split_literal_branches("地铁口|商圈|工作在[^，]{1,8}?生活在", steps) == (["地铁口", "商圈"], "工作在[^，]{1,8}?生活在")
    # not a literal in normalised text: a traditional character, an upper-case letter under IGNORECASE
    assert split_literal_branches("學區房|地铁口|CBD", steps) == (["地铁口"], "學區房|CBD")
    assert split_literal_branches("丸(?!子)|栓", steps) == (["栓"], "丸(?!子)")
    # the base pack's document regexes, as written, against what the engine answers
    # as written, with (?&name) references spelled out from the rule's and pack.yaml's define:
    pack_define = yaml.safe_load((BASE / "pack.yaml").read_text(encoding="utf-8")).get("define") or {}
    written = {}
    for path in sorted((BASE / "rules").glob("*.yaml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")):
            defines = {**pack_define, **(rule.get("define") or {})}
            for name, spec in (rule.get("selections") or {}).items():
                if isinstance(spec, dict) and spec.get("within") == "document" and spec.get("regex"):
                    written[(rule["id"], name)] = expand_defines(spec["regex"], defines)
    split = [(rid, name, src) for (rid, name), src in written.items()
             if (sel := engine.rule(rid).selections[name]).regex_source != src and not sel.not_followed_by]
    assert len(split) >= 20
    from rules.engine import _Check, _Field

    compiled = [(engine.rule(rid), engine.rule(rid).selections[name], regex.compile(src, regex.IGNORECASE))
                for rid, name, src in split]
    found = 0
    for it in load_corpus():
        f = _Field("body", rules.normalize(it["text"], engine.steps))
        chk = _Check(engine, float("inf"), None)
        engine._scan(chk, [f])
        for rule, sel, original in compiled:
            expected = original.search(f.text) is not None
            assert chk.eval_selection(sel, f, rule, 0, 0, 0) == expected, (rule.id, sel.name, it["id"])
            found += expected
    assert found > 100


def test_regex_check_without_compiling_agrees_with_regex_module():
    """The loader checks a pattern's syntax with the standard parser instead of compiling it
    (rules.loader._pattern); whatever that check accepts, the `regex` module must compile."""
    import random

    import regex as regex_module

    from rules.loader import _pattern

    pieces = list("ab中文1,-") + [
        "\\d", "\\s", "\\w", "\\b", "\\p{Han}", "\\p{Foo}", "\\P{Han}", "\\G", "(?=", "(?!", "(?<=", "(?<!",
        "(?:", "(?P<n>", "(?P=n)", "(?>", "(", ")", "[", "]", "[^", "{2}", "{1,3}", "{,3}", "{3,1}", "*", "+",
        "?", "*?", "+?", "*+", "|", "^", "$", ".", "\\", "\\1", "\\x4", "\\u4e2", "{", "}", "(?i)", "(?i:",
        "\\N{DIGIT ONE}", "[[:alpha:]]", "\\Z", "\\p{", "\\pL", "\\X", "(?V1)", "(?|", "&&", "--", "{e<=1}",
        "\\{", "\\}", "\\\\", "(?x)", "#", " ", "\\0", "\\K", "(*F)",
    ]
    rng = random.Random(3)
    accepted = 0
    for _ in range(20000):
        src = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7)))
        try:
            lazy = _pattern(src)
        except Exception:
            continue
        accepted += 1
        regex_module.compile(src, lazy.flags)  # raises if the shortcut let a bad pattern through
    assert accepted > 2000


def test_min_ratio_reads_spoken_and_separated_prices(tmp_path):
    """A trigger's ref/now groups may capture Chinese numerals or thousands separators: the gap
    is computed on their values (rules.engine.price_value)."""
    pack, _ = _one_price_rule_pack(
        tmp_path, "ZZ-RATIO-001",
        "      regex: '标价(?P<ref>[\\d,]+|[零一二两三四五六七八九十百千万]+)[^。]{0,6}?售价(?P<now>[\\d.]+|[零一二两三四五六七八九十百千万块]+)'\n"
        "      anchors: [标价]\n      min_ratio: 4",
        "{must_match: [标价六百九十九售价六十九, '标价2,999售价299'], must_not_match: [标价一百售价九十, '标价1,000售价600']}")
    _assert_fires_only_on(rules.load_engine([pack]), "ZZ-RATIO-001",
                          fires=["标价六百九十九，售价六十九", "标价2,999 售价299", "标价两万三售价五千", "标价九十九售价九块九"],
                          quiet=["标价一百售价九十", "标价1,000售价600", "标价一千二售价八百", "标价十二售价五块"])


def _one_price_rule_pack(tmp_path, rid: str, claim: str, tests: str):
    """A copy of the base pack plus one price rule whose single selection `claim` is the YAML given."""
    pack = _copy_base(tmp_path)
    path = pack / "rules" / f"{rid.lower()}.yaml"
    path.write_text(_rule_yaml(rid, "\n    claim:\n" + claim, tests, category="price_fraud",
                               legal="[{law: 明码标价规定, article: 19, item: 4}]"), encoding="utf-8")
    return pack, path


def _assert_fires_only_on(eng, rid: str, *, fires: list[str], quiet: list[str]) -> None:
    assert [t for t in fires if not any(h.rule == rid for h in eng.check_text(t))] == []
    assert [t for t in quiet if any(h.rule == rid for h in eng.check_text(t))] == []


def test_compare_judges_the_sum_a_coupon_gives_and_a_bad_comparison_is_refused_with_its_line(tmp_path):
    """`compare` keeps a match only when its arithmetic over the captured amounts holds: an
    after-coupon price the list price less the coupon does not give, in either word order. A
    comparison naming a group the regex lacks, or using a call, stops the load at its line."""
    pack, path = _one_price_rule_pack(
        tmp_path, "ZZ-SUM-001",
        "      regex: '标价(?P<list>[\\d,.]+)[^。]{0,8}?券(?P<off>[\\d.]+)[^。]{0,8}?券后(?:价)?(?P<now>[\\d.]+)"
        "|券后(?:价)?(?P<now>[\\d.]+)[^。]{0,8}?标价(?P<list>[\\d,.]+)[^。]{0,8}?券(?P<off>[\\d.]+)'\n"
        "      anchors: [券后]\n      compare: 'list - off > now * 1.02'",
        "{must_match: [标价179，领券50，券后99, 券后价89（标价199，店铺券30）], "
        "must_not_match: [标价179，领券50，券后129, 券后价169（标价199，店铺券30）]}")
    eng = rules.load_engine([pack])
    _assert_fires_only_on(eng, "ZZ-SUM-001",
                          fires=["标价1,299 用券200 券后999", "券后价99（标价199，券50）", "标价299，领券100，券后价189"],
                          quiet=["标价1,299 用券200 券后1099", "券后价149（标价199，券50）", "标价299，领券100，券后价199",
                                 "券后价149（标价待定，券50）"])
    rule = next(r for r in eng.rules if r.id == "ZZ-SUM-001")  # `rules explain` writes it out again
    assert unparse_compare(rule.selections["claim"].compare) == "list - off > now * 1.02"
    good = path.read_text(encoding="utf-8")
    for bad, problem in [("list - coupon > now", "'coupon'"), ("__import__('os') > 1", "only numbers"),
                         ("list - off == now", "< <= > >=")]:
        path.write_text(good.replace("'list - off > now * 1.02'", f'"{bad}"'), encoding="utf-8")
        with pytest.raises(rules.PackError) as info:
            rules.load_engine([pack])
        assert info.value.field.endswith("compare") and problem in info.value.problem, str(info.value)
        assert info.value.line == good.splitlines().index("      compare: 'list - off > now * 1.02'") + 1
    path.write_text(good.replace("      anchors: [券后]\n", "      anchors: [券后]\n      within: field\n"), encoding="utf-8")
    with pytest.raises(rules.PackError) as info:  # on a selection that is no trigger it would be ignored
        rules.load_engine([pack])
    assert info.value.field.endswith("claim.compare") and "trigger regex only" in info.value.problem, str(info.value)


def test_define_writes_a_fragment_once_and_a_bad_definition_stops_the_load_at_its_line(tmp_path):
    """`define:` (in pack.yaml, or in a rule) names a pattern fragment that a regex writes as
    (?&name), nested as deep as it likes: the rule fires exactly where the same regex written out
    in full fires; a rule's definition shadows pack.yaml's of the same name. A name with no
    definition, a definition that reaches itself and a rule's definition no regex of it uses stop
    the load, each at its line."""
    pack, path = _one_price_rule_pack(
        tmp_path, "ZZ-DEFINE-001",
        "      regex: '(?&ref)(?P<ref>(?&amount))[^。]{0,6}?(?&now)(?P<now>(?&amount))'\n"
        "      anchors: [原价, 标价]\n      min_ratio: 3",
        "{must_match: [原价300现价99, 标价500秒杀价100], must_not_match: [原价300现价200, 售价300现价99]}")
    good = path.read_text(encoding="utf-8").replace(
        "  selections:", "  define:\n    ref: '原价|标价'\n    now: '(?&sale)价?'\n    sale: '现|秒杀'\n  selections:")
    path.write_text(good, encoding="utf-8")
    # the test's pack fragments join the base pack's own `define:` block (one key per mapping)
    pack_yaml = pack / "pack.yaml"
    text = pack_yaml.read_text(encoding="utf-8")
    extra = "  amount: '\\d+(?:\\.\\d+)?'\n  sale: '特价'\n"
    if "\ndefine:" in text:
        head, key, rest = text.partition("\ndefine:")
        end = rest.index("\n") + 1
        text = head + key + rest[:end] + extra + rest[end:]
    else:
        text += "define:\n" + extra
    pack_yaml.write_text(text, encoding="utf-8")
    written_out = (tmp_path / "written_out" / "cn-base")
    shutil.copytree(pack, written_out)
    (written_out / "rules" / path.name).write_text(good.replace(
        "(?&ref)(?P<ref>(?&amount))[^。]{0,6}?(?&now)(?P<now>(?&amount))",
        "(?:原价|标价)(?P<ref>\\d+(?:\\.\\d+)?)[^。]{0,6}?(?:(?:现|秒杀)价?)(?P<now>\\d+(?:\\.\\d+)?)"
    ).replace("  define:\n    ref: '原价|标价'\n    now: '(?&sale)价?'\n    sale: '现|秒杀'\n", ""), encoding="utf-8")
    texts = ["原价300 现价99", "标价500，秒杀价100", "原价1299.00现价399", "原价300 现价200", "售价300 现价99",
             "标价500，秒杀价199", "原价三百现价九十九"]
    fired = {t for t in texts if any(h.rule == "ZZ-DEFINE-001" for h in rules.load_engine([pack]).check_text(t))}
    assert fired == {"原价300 现价99", "标价500，秒杀价100", "原价1299.00现价399"}
    inline = rules.load_engine([written_out])
    assert fired == {t for t in texts if any(h.rule == "ZZ-DEFINE-001" for h in inline.check_text(t))}
    lines = good.splitlines()
    for bad, field, problem, line in [
        (good.replace("(?&sale)价?", "(?&sales)价?"), "ZZ-DEFINE-001.selections.claim.regex",
         "(?&sales) names no definition", lines.index("    claim:") + 2),
        (good.replace("sale: '现|秒杀'", "sale: '现|(?&now)'"), "ZZ-DEFINE-001.selections.claim.regex",
         "now → sale → now", lines.index("    claim:") + 2),
        (good.replace("    sale: '现|秒杀'\n", "    sale: '现|秒杀'\n    unused: '特价'\n"), "ZZ-DEFINE-001.define.unused",
         "used by no regex", lines.index("    sale: '现|秒杀'") + 2),
    ]:
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(rules.PackError) as info:
            rules.load_engine([pack])
        assert (info.value.field, info.value.line) == (field, line) and problem in info.value.problem, str(info.value)


def test_rules_check_jsonl_stops_at_a_bad_line_with_its_number_and_keeps_what_came_before(tmp_path):
    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "a", "text": "全网最低价，保证无效退款"}, ensure_ascii=False).encode()
    for bad, problem in [(b'{"id": "b", "text": "\xe5\xae"}', "not UTF-8"), (b'{"id": "b"}', "not a JSON object")]:
        src.write_bytes(good + b"\n\n" + bad + b"\n" + good + b"\n")
        res = run_fangxin("rules", "check", "--jsonl", str(src))
        assert res.returncode == 2
        assert res.stderr.strip() == f"{src}:3: input: {problem}" + ("" if "UTF" in problem else " with a text")
        assert res.stdout and all(json.loads(line)["id"] == "a" for line in res.stdout.splitlines())


def test_rules_check_jsonl_progress_counts_documents_and_hits(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": i, "text": "全网最低价，保证无效退款" if i % 2 else "普通的文字"} for i in range(10)]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    res = run_fangxin("rules", "check", "--jsonl", str(src), "--progress")
    assert res.returncode == 0
    hits = len(res.stdout.splitlines())
    assert hits >= 5
    last = res.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("10 documents, ") and last.endswith(f" {hits} hits"), last
    quiet = run_fangxin("rules", "check", "--jsonl", str(src))  # stderr is not a terminal here
    assert quiet.stderr == "" and quiet.stdout == res.stdout


def test_bench_literal_scan_baseline_reads_terms_as_literals():
    """The bench's Hyperscan baseline compiles the pack's literals: a term holding ( or . is text."""
    pytest.importorskip("hyperscan")
    from fangxin.commands.bench_rules import _time_hyperscan

    assert _time_hyperscan(["(详询", "no.1", "99.9%"], "价格(详询)，no.1，99.9%") is not None


def test_hyperscan_database_compiles_on_first_scan_and_finds_what_ahocorasick_finds(monkeypatch):
    """Without a pack cache entry the Hyperscan database waits for the first document (a load
    that checks nothing never compiles it); its hits equal the ahocorasick_rs scanner's."""
    pytest.importorskip("hyperscan")
    monkeypatch.setenv("FANGXIN_RULES_CACHE", "off")
    eng = rules.load_engine()
    assert eng.scanner == "hyperscan" and eng._hs._db is None
    monkeypatch.setenv("FANGXIN_RULES_SCANNER", "ahocorasick")
    plain = rules.load_engine()
    assert plain.scanner == "ahocorasick_rs"
    for it in load_corpus()[::41]:
        doc = {it["field"]: it["text"]}
        assert [h.to_dict() for h in eng.check(doc)] == [h.to_dict() for h in plain.check(doc)], it["id"]
    assert eng._hs._db is not None


def test_first_document_after_a_load_gets_its_whole_deadline(tmp_path, monkeypatch):
    """One-time work after a load (the collector's pass over what loading left, the literal
    database without a cache entry, a field's targets) runs before the document's deadline
    starts: a short text checked first under a 200 ms deadline is not cut off."""
    monkeypatch.setenv("FANGXIN_RULES_CACHE", "off")
    eng = rules.load_engine()
    hits = eng.check({"title": "本理财产品保本保息，年化收益8%"}, deadline_ms=200)
    assert not hits.timed_out and "FIN-PRINCIPAL-001" in {h.rule for h in hits}


def test_bench_split_dev_shows_no_held_out_figure():
    """`bench rules --split dev --errors`, what rule authors run: the dev table and its errors, and
    no held-out or overall figure that could steer an edit."""
    res = CliRunner().invoke(cli, ["bench", "rules", "--skip-throughput", "--split", "dev", "--errors"])
    assert res.exit_code == 0, res.output
    assert "[dev]" in res.output and "dev-split errors:" in res.output
    assert "[heldout]" not in res.output and "[all]" not in res.output
