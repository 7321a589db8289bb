"""`fangxin hits --jsonl | --csv`."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from fangxin.commands.hits import csv_safe, hits
from pipelines.store import Store


def _db(tmp_path) -> str:
    path = str(tmp_path / "h.db")
    store = Store(path)
    run = store.start_run("adhoc", "t", {})
    evil = {"rule": "abs.best", "category": "absolute_terms", "severity": "high", "law": "广告法 第九条",
            "field": "body", "start": 0, "end": 2, "match": "=cmd|' /C calc'!A0", "excerpt": "@SUM(1+1)*cmd 最佳"}  # fmt: skip
    store.save_capture(
        run,
        {"url": "http://a.test/=1", "status": 200, "body": b"x", "fetched_at": "2025-06-01T00:00:00Z"},
        [evil],
    )
    store.save_capture(run, {"url": "http://a.test/2", "status": 200, "body": b"y", "fetched_at": "2025-07-01T00:00:00Z"},
                       [dict(evil, match="最佳", excerpt="全网最佳")])  # fmt: skip
    store.set_hit_state(2, "confirmed", "inspector")
    store.close()
    return path


def test_jsonl_lines_and_filters(tmp_path):
    db = _db(tmp_path)
    result = CliRunner().invoke(hits, ["--db", db, "--jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in lines] == [1, 2]
    assert list(lines[0]) == [
        "id",
        "url",
        "rule",
        "category",
        "severity",
        "law",
        "field",
        "match",
        "excerpt",
        "state",
        "captured_at",
    ]
    out = CliRunner().invoke(hits, ["--db", db, "--jsonl", "--state", "confirmed"]).output
    assert [json.loads(x)["id"] for x in out.splitlines()] == [2]
    out = CliRunner().invoke(hits, ["--db", db, "--jsonl", "--since", "2025-06-15"]).output
    assert [json.loads(x)["id"] for x in out.splitlines()] == [2]


def test_csv_is_safe_against_formula_injection(tmp_path):
    db = _db(tmp_path)
    result = CliRunner().invoke(hits, ["--db", db, "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][0] == "id" and len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["match"] == "'=cmd|' /C calc'!A0"
    assert first["excerpt"] == "'@SUM(1+1)*cmd 最佳"
    assert first["url"] == "http://a.test/=1"  # only a leading formula character is neutralised
    assert csv_safe("-2+3") == "'-2+3" and csv_safe(" =1") == "' =1" and csv_safe(42) == 42


def test_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(hits, ["--db", str(tmp_path / "missing.db"), "--csv"])
    assert result.exit_code == 1 and "database not found" in result.output
    result = CliRunner().invoke(hits, ["--db", _db(tmp_path), "--jsonl", "--since", "yesterday"])
    assert result.exit_code == 2 and "--since" in result.output
