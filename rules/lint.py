"""Pack lint: everything the loader refuses, plus regex-safety and hygiene checks."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import regex

from rules.engine import Engine, load_engine
from rules.errors import PackError
from rules.model import Selection
from rules.ordinary import ordinary_pages
from rules.profile import count_candidates

# a group that contains a quantifier and is itself quantified: (a+)+ (.*x)* (\w+\s?)+ …
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d+(?:,\d*)?\})")
_UNBOUNDED_DOT = re.compile(r"(?<!\\)\.[*+](?!\?)")

ADVERSARIAL = [
    "最" * 4000,
    "保" * 2000 + "本" * 2000,
    ("最好，" * 1500),
    ("a" * 3000) + "!",
    ("。" + "不" * 50) * 80,
    "，".join(["保证通过"] * 800),
    " ".join(["1"] * 3000),
]


@dataclass
class Finding:
    level: str  # "error" | "warning"
    file: str
    line: int
    field: str
    problem: str

    def text(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.level}: {self.problem}"


def lint(packs: list[str] | None = None, time_budget_ms: float = 50.0) -> tuple[Engine | None, list[Finding]]:
    findings: list[Finding] = []
    try:
        engine = load_engine(packs)
    except PackError as exc:
        findings.append(Finding("error", exc.file, exc.line, exc.field, exc.problem))
        return None, findings
    for rule in engine.rules:
        for name, sel in rule.selections.items():
            where = f"{rule.id}.selections.{name}"
            findings.extend(_check_selection(sel, rule.file, sel.line or rule.line, where, time_budget_ms))
            if (sel.regex is not None and name in rule.triggers and (sel.not_followed_by or sel.not_preceded_by)
                    and not sel.anchors and not sel.terms):
                findings.append(
                    Finding("warning", rule.file, sel.line or rule.line, where,
                            "not_followed_by / not_preceded_by filter literal terms and a trigger regex's "
                            "anchors, and this selection has neither: put a look-around in the regex")
                )
            if sel.within[0] == "match":
                for term in sel.terms:
                    if len(term) == 1 and not (sel.not_followed_by or sel.not_preceded_by):
                        findings.append(
                            Finding("warning", rule.file, sel.line or rule.line, where,
                                    f"single-character trigger term {term!r} without context filters")
                        )
        if len(rule.must_match) < 2 or len(rule.must_not_match) < 2:
            findings.append(Finding("error", rule.file, rule.line, f"{rule.id}.tests", "needs >=2 must_match and >=2 must_not_match"))
        for name, (rx, _within, _group) in rule.extract.items():
            try:
                rx.compiled()
            except regex.error as exc:
                findings.append(Finding("error", rule.file, rule.line, f"{rule.id}.extract.{name}.regex",
                                        f"does not compile: {exc}"))
    for pack in engine.packs:
        for name, sel in pack.selections.items():
            findings.extend(_check_selection(sel, f"{pack.path}/pack.yaml", sel.line, f"selections.{name}", time_budget_ms))
    findings.extend(ordinary_load(engine))
    return engine, findings


# a trigger literal met this often in ordinary shop text costs a regex window (or a candidate) on
# nearly every page: one per ~670 characters, about six on a 4 KB page
ORDINARY_LIMIT = 150.0  # occurrences per 100,000 characters of rules.ordinary text


def ordinary_load(engine: Engine, limit: float = ORDINARY_LIMIT) -> list[Finding]:
    """Trigger literals that ordinary product-page text (rules.ordinary) is full of.

    The pages go through Engine.check as a `body` field (rules.profile.count_candidates), so
    scopes, document gates and the not_followed_by / not_preceded_by filters count as they do in
    a crawl."""
    pages = ordinary_pages()
    chars = sum(map(len, pages))
    counts = count_candidates(engine, ({"body": page} for page in pages))
    owner = {id(sel): (rule, name) for rule in engine.rules for name, sel in rule.selections.items()}
    out = []
    for (sid, literal, what), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        rate = n * 100_000 / chars
        if rate < limit or sid not in owner:
            continue
        rule, name = owner[sid]
        sel = rule.selections[name]
        out.append(Finding(
            "warning", rule.file, sel.line or rule.line, f"{rule.id}.selections.{name}",
            f"{literal!r} {what} {rate:.0f} times per 100,000 characters of ordinary shop text "
            "(rules/ordinary.py): anchor on a rarer literal every match contains, or filter its "
            "ordinary context with not_followed_by / not_preceded_by"))
    return out


def _check_selection(sel: Selection, file: str, line: int, where: str, budget_ms: float) -> list[Finding]:
    out: list[Finding] = []
    if sel.regex_source is None:
        return out
    src = sel.regex_source
    if _NESTED.search(src):
        out.append(Finding("error", file, line, f"{where}.regex", "nested quantifier (catastrophic backtracking risk)"))
    if _UNBOUNDED_DOT.search(src):
        out.append(Finding("warning", file, line, f"{where}.regex", "unbounded greedy .* / .+; bound it, e.g. .{0,20}"))
    try:  # compiled before the clock starts: a pattern is compiled on its first use (rules.lazyregex)
        rx = sel.regex.compiled() if hasattr(sel.regex, "compiled") else sel.regex
    except regex.error as exc:  # the loader checks syntax only (rules.loader._pattern)
        out.append(Finding("error", file, line, f"{where}.regex", f"does not compile: {exc}"))
        return out
    worst = 0.0
    for sample in ADVERSARIAL:
        best = None
        # a sample over budget is timed up to three times and its best time counts, so another
        # process busy on the machine does not make a fast pattern look slow
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                list(rx.finditer(sample, timeout=max(0.2, budget_ms / 100)))
            except TimeoutError:
                out.append(Finding("error", file, line, f"{where}.regex", "timed out on adversarial input"))
                return out
            took = time.perf_counter() - t0
            best = took if best is None else min(best, took)
            if best * 1000 <= budget_ms:
                break
        worst = max(worst, best)
    if worst * 1000 > budget_ms:
        out.append(Finding("warning", file, line, f"{where}.regex",
                           f"slow on adversarial input ({worst * 1000:.0f} ms on ~4000 chars)"))
    return out
