"""Run every rule's embedded cases through ``Engine.check`` (the production path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.engine import Engine
from rules.model import Rule, TestCase


@dataclass
class Failure:
    rule: Rule
    kind: str  # "miss" (must_match did not fire) | "false hit" (must_not_match fired)
    case: TestCase
    detail: str = ""

    def line(self) -> str:
        return f"{self.rule.file}:{self.case.line}: {self.rule.id}: {self.kind}: [{self.case.field}] {self.case.text}{self.detail}"


@dataclass
class TestReport:
    rules: int = 0
    cases: int = 0
    todo: int = 0  # known gaps: reported, never failing
    failures: list[Failure] = field(default_factory=list)
    todo_firing: list[tuple[Rule, TestCase]] = field(default_factory=list)
    uncovered: list[tuple[Rule, str]] = field(default_factory=list)  # (rule, trigger never exercised)


def _fires(engine: Engine, rule: Rule, case: TestCase):
    hits = engine.check({case.field: case.text})
    return [h for h in hits if h.rule == rule.id], hits


def run_tests(engine: Engine, pack_ids: set[str] | None = None, rule_ids: set[str] | None = None) -> TestReport:
    """The cases of every rule (of the packs in ``pack_ids``; only the rules in ``rule_ids`` when given)."""
    report = TestReport()
    for rule in engine.rules:
        if pack_ids and rule.pack not in pack_ids:
            continue
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        report.rules += 1
        fired_triggers: set[str] = set()
        for case in rule.must_match:
            report.cases += 1
            mine, _all = _fires(engine, rule, case)
            if not mine:
                report.failures.append(Failure(rule, "miss", case))
            else:
                for h in mine:
                    fired_triggers.update(_triggers_at(engine, rule, case, h))
        for case in rule.must_not_match:
            report.cases += 1
            mine, _all = _fires(engine, rule, case)
            if mine:
                report.failures.append(Failure(rule, "false hit", case, f"  (matched 「{mine[0].match}」)"))
        for case in rule.todo:
            report.todo += 1
            mine, _all = _fires(engine, rule, case)
            if mine:
                report.todo_firing.append((rule, case))
        for t in rule.triggers:
            if t not in fired_triggers:
                report.uncovered.append((rule, t))
    return report


def _triggers_at(engine: Engine, rule: Rule, case: TestCase, hit) -> set[str]:
    """Which trigger selections of the rule produce a candidate in this case."""
    from rules.engine import _Check, _Field
    from rules.normalize import normalize

    ctx = _Check(engine, float("inf"), {rule.id})
    f = _Field(case.field, normalize(case.text, engine.steps))
    engine._scan(ctx, [f])
    sink: list = []
    ctx.check_field(f, sink)  # fills f.cands
    ri = engine.rule_index(rule)
    return {t for t in rule.triggers if f.cands.get((ri, t))}
