"""The rule authors' workbench: rules with their precision from verdicts, a text tester, false-positive examples.

The tester runs the same engine as the crawl (`rules.engine`), so a hit here
means the same as a hit in the queue.
"""

from __future__ import annotations

import json
import re
import threading

CONFIRMED = ("confirmed", "promoted")
SENTENCE_END = re.compile(r"[。！？!?；;\n]")
EXAMPLE_CHARS = 80

_holder = None
_holder_lock = threading.Lock()


def engine():
    """The shared engine, reloaded when a pack file changes (a broken pack keeps the last good engine)."""
    global _holder
    from rules.engine import EngineHolder

    with _holder_lock:
        if _holder is None:
            _holder = EngineHolder(pack_sources())
        else:
            _holder.reload_if_changed()
        return _holder


def precision(counts: dict[str, int]) -> dict:
    confirmed = sum(counts.get(s, 0) for s in CONFIRMED)
    dismissed = counts.get("false_positive", 0)
    decided = confirmed + dismissed
    return {
        "confirmed": confirmed,
        "false_positive": dismissed,
        "open": counts.get("new", 0) + counts.get("triaged", 0),
        "precision": round(confirmed / decided, 2) if decided else None,
    }


def rule_rows(eng, verdicts: dict[str, dict[str, int]]) -> list[dict]:
    """Every loaded rule with its tests and its precision from reviewers' verdicts."""
    rows = []
    for pack in eng.packs:
        for rule in pack.rules:
            rows.append({
                "id": rule.id, "title": rule.title, "category": rule.category, "severity": rule.severity,
                "status": rule.status, "law": rule.law, "pack": pack.id, "pack_version": pack.version,
                "must_match": len(rule.must_match), "must_not_match": len(rule.must_not_match),
                **precision(verdicts.get(rule.id, {})),
            })  # fmt: skip
    return rows


def try_text(eng, text: str, field: str = "body") -> list[dict]:
    """Hits of the engine on a text, each with (before, match, after) for marking in escaped HTML."""
    out = []
    for hit in eng.check_text(text, field=field):
        d = hit.to_dict()
        d["before"] = text[max(0, d["start"] - 40):d["start"]]
        d["after"] = text[d["end"]:d["end"] + 40]
        out.append(d)
    return out


def example_sentence(text: str | None, start: int | None, end: int | None, match: str, excerpt: str | None) -> str:
    """The sentence around a dismissed match: the must_not_match example proposed to the rule's author."""
    if text and start is not None and end is not None and 0 <= start <= end <= len(text):
        lo = start
        while lo > 0 and not SENTENCE_END.match(text[lo - 1]) and start - lo < EXAMPLE_CHARS:
            lo -= 1
        hi = end
        while hi < len(text) and not SENTENCE_END.match(text[hi]) and hi - end < EXAMPLE_CHARS:
            hi += 1
        return text[lo:hi].strip()
    return (excerpt or match or "").strip()


def yaml_snippet(rule_id: str, examples: list[str]) -> str:
    """The tests.must_not_match addition for a rule, as YAML (JSON strings are valid YAML scalars)."""
    lines = [f"# 规则 {rule_id}：将以下误报样例加入 tests.must_not_match，再运行 fangxin rules test 验证",
             f"- id: {rule_id}", "  tests:", "    must_not_match:"]  # fmt: skip
    lines += [f"      - {json.dumps(e, ensure_ascii=False)}" for e in dict.fromkeys(examples) if e]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- writing a must_not_match case

class ExampleError(RuntimeError):
    """The example cannot be added (with the reason, in Chinese, for the rule author)."""


def pack_sources() -> list[str] | None:
    """Pack folders for the review UI: $FANGXIN_REVIEW_PACKS (os.pathsep-separated), else the bundled packs."""
    import os

    value = os.environ.get("FANGXIN_REVIEW_PACKS")
    return [p for p in value.split(os.pathsep) if p] if value else None


def _rule_file(folder: str, rule_id: str):
    from pathlib import Path

    pattern = re.compile(rf"^- id:\s*['\"]?{re.escape(rule_id)}['\"]?\s*$", re.M)
    for path in sorted(Path(folder).rglob("*.yaml")):
        if pattern.search(path.read_text(encoding="utf-8")):
            return path
    raise ExampleError("在规则包中找不到该规则。")


def add_must_not_match(text: str, rule_id: str, example: str) -> str:
    """The pack file text with `example` appended to the rule's tests.must_not_match (one-line flow or block list)."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"- id:\s*['\"]?{re.escape(rule_id)}['\"]?\s*",
                                                                     line)), None)  # fmt: skip
    if start is None:
        raise ExampleError("在规则文件中找不到该规则。")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("- ")), len(lines))
    quoted = json.dumps(example, ensure_ascii=False)
    for i in range(start, end):
        m = re.fullmatch(r"(\s*)must_not_match:\s*(.*?)\s*", lines[i])
        if not m:
            continue
        indent, rest = m.group(1), m.group(2)
        if rest.startswith("[") and rest.endswith("]") and rest.count("[") == rest.count("]"):
            inner = rest[1:-1].strip()
            lines[i] = f"{indent}must_not_match: [{inner + ', ' if inner else ''}{quoted}]"
            return "\n".join(lines)
        if rest == "":
            last = i
            for j in range(i + 1, end):
                if lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) > len(indent):
                    last = j
                elif lines[j].strip():
                    break
            item_indent = indent + "  "
            if last > i:
                item_indent = re.match(r"\s*", lines[i + 1]).group(0)
            lines.insert(last + 1, f"{item_indent}- {quoted}")
            return "\n".join(lines)
        raise ExampleError("该规则的 must_not_match 写法无法自动修改，请手工添加。")
    raise ExampleError("该规则没有 tests.must_not_match，请先手工添加测试段。")


def write_example(rule_id: str, example: str, sources: list[str] | None = None) -> str:
    """Add a must_not_match case to a rule's pack file, only if every pack test then passes.

    The change is tried on a copy of the packs first (loaded and tested with the
    same engine as `fangxin rules test`); only then is the real file replaced,
    atomically, and only if it did not change meanwhile. Returns the file's path.
    """
    import hashlib
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from rules.engine import load_engine
    from rules.errors import PackError
    from rules.loader import discover
    from rules.testing import run_tests

    example = example.strip()
    if not example or len(example) > 500:
        raise ExampleError("样例须为 1 至 500 字。")
    folders = sources or discover()
    owner = None
    for folder in folders:
        try:
            path = _rule_file(folder, rule_id)
        except ExampleError:
            continue
        owner = (folder, path)
        break
    if owner is None:
        raise ExampleError("在规则包中找不到该规则。")
    folder, path = owner
    original = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(original.encode()).hexdigest()
    changed = add_must_not_match(original, rule_id, example)
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for f in folders:
            dest = Path(tmp) / f"{len(copies)}-{Path(f).name}"
            shutil.copytree(f, dest)
            copies.append(str(dest))
        target = Path(copies[folders.index(folder)]) / path.relative_to(folder)
        target.write_text(changed, encoding="utf-8")
        try:
            report = run_tests(load_engine(copies))
        except PackError as exc:
            raise ExampleError(f"修改后的规则包无法加载：{exc}") from exc
    if report.failures:
        mine = [f for f in report.failures if f.rule.id == rule_id]
        first = (mine or report.failures)[0]
        if mine and first.kind == "false hit":
            raise ExampleError("规则仍会命中该样例：请先修改规则，再加入此样例。")
        raise ExampleError(f"规则测试未通过：{first.rule.id} {first.case.text}")
    if hashlib.sha256(path.read_text(encoding="utf-8").encode()).hexdigest() != digest:
        raise ExampleError("规则文件在此期间被修改，请重试。")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".fangxin-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(changed)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return str(path)
