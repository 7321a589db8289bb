"""Why a rule fires, or does not, on a text (`fangxin rules explain RULE_ID --text …`).

For each candidate span of the rule's triggers, the rule's condition is split into its top-level
conjuncts (``claim``, ``not exc_tip``, ``not negation`` …) and each is evaluated on its own, with
the value of every selection it reads. A candidate becomes a hit when every conjunct holds; the
conjuncts that do not hold are what blocked it. The trace runs the engine's own per-check state (a
subclass of it, like rules.profile), so it sees exactly what `rules check` sees. It changes the
engine while it runs (see trace_rule): use it from one thread, as the command line does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.engine import Engine, _Check, _conjuncts
from rules.normalize import normalize


@dataclass
class Conjunct:
    source: str  # the conjunct as written (a pack exception by its name)
    value: bool
    selections: dict[str, bool]  # every selection it reads -> its value at the candidate


@dataclass
class Candidate:
    field: str
    start: int  # in the original text
    end: int
    match: str
    fired: bool
    conjuncts: list[Conjunct]

    @property
    def blocking(self) -> list[Conjunct]:
        return [c for c in self.conjuncts if not c.value]


@dataclass
class Trace:
    rule: str
    normalised: dict[str, str]  # field -> normalised text, where it differs from the input
    candidates: list[Candidate] = field(default_factory=list)
    timed_out: bool = False


def trace_rule(engine: Engine, rule_id: str, doc: dict[str, str]) -> Trace:
    """Candidates of ``rule_id`` in ``doc`` (field -> text), each with its conjuncts' values.
    Raises KeyError for an unknown rule."""
    rule = engine.rule(rule_id)
    pack = engine._pack_of[rule.pack]
    exc_names = {id(ast): name for name, (_src, ast) in pack.exceptions.items()}
    out = Trace(rule=rule_id, normalised={})

    def value(chk, f, ri, node, s, e, seen: dict[str, bool]) -> bool:
        kind = node[0]
        if kind == "sel":
            name = node[1]
            if name not in seen:
                sel = rule.selections.get(name) or pack.selections[name]
                seen[name] = bool(chk.eval_selection(sel, f, rule, ri, s, e))
            return seen[name]
        if kind == "const":
            return node[1]
        if kind == "not":
            return not value(chk, f, ri, node[1], s, e, seen)
        a = value(chk, f, ri, node[1], s, e, seen)
        b = value(chk, f, ri, node[2], s, e, seen)  # both sides: every selection gets a value
        return (a and b) if kind == "and" else (a or b)

    ri = engine.rule_index(rule)

    class Tracing(_Check):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            # document-level gates (conjuncts such as "not clinic_ctx") normally stop a rule before
            # its candidates are built; the trace lifts them so those candidates show, blocked by
            # the same conjuncts (the condition the candidates are evaluated with contains them:
            # same hits)
            self.gates = [g if i != ri else [] for i, g in enumerate(self.gates)]

        def evaluate_rule(self, f, r, ri, hits):
            if r is not rule:
                return
            before = len(hits)
            super().evaluate_rule(f, r, ri, hits)
            fired = {(h.start, h.end) for h in hits[before:]}
            spans: set[tuple[int, int]] = set()
            for t in r.triggers:
                spans.update(f.cands.get((ri, t), ()))
            for s, e in sorted(spans, key=lambda x: (x[0], -(x[1] - x[0]))):
                conj = []
                for node in _conjuncts(r.condition):
                    seen: dict[str, bool] = {}
                    v = value(self, f, ri, node, s, e, seen)
                    conj.append(Conjunct(_source(node, exc_names), v, seen))
                os_, oe = f.norm.span(s, e)
                out.candidates.append(Candidate(f.name, os_, oe, f.norm.original[os_:oe],
                                                (os_, oe) in fired, conj))

    hits = engine.check_with(Tracing, doc, rules=[rule_id])
    out.timed_out = hits.timed_out
    for fname, text in doc.items():
        norm = normalize(text, engine.steps).text
        if norm != text:
            out.normalised[fname] = norm
    return out


def _source(node, exc_names: dict[int, str]) -> str:
    """A condition AST as text; a pack exception's AST by its name."""
    name = exc_names.get(id(node))
    if name is not None:
        return name
    kind = node[0]
    if kind == "sel":
        return node[1]
    if kind == "const":
        return "true" if node[1] else "false"
    if kind == "not":
        inner = _source(node[1], exc_names)
        return f"not {inner}" if node[1][0] in ("sel", "not") or id(node[1]) in exc_names else f"not ({inner})"
    parts = []
    for child in node[1:]:
        text = _source(child, exc_names)
        if child[0] in ("and", "or") and child[0] != kind and id(child) not in exc_names:
            text = f"({text})"
        parts.append(text)
    return f" {kind} ".join(parts)


__all__ = ["Candidate", "Conjunct", "Trace", "trace_rule"]
