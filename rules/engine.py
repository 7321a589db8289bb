"""The compiled matcher and evaluator."""

from __future__ import annotations

import datetime
import gc
import operator
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping

import ahocorasick_rs

from rules.compare import group_refs as compare_groups
from rules.compare import holds as compare_holds
from rules.condition import names_in
from rules.cues import (
    ast_cues,
    discriminating_literals,
    guardable,
    lookaround_width,
    max_width,
    regex_literals,
    safe_width,
    selection_literals,
)
from rules.errors import DeadlineExceeded, PackError
from rules.model import FIELDS, Hit, Hits, Pack, Rule, Selection, rule_identity
from rules.normalize import Normalized, normalize, preset_tables, tables_state

CLAUSE_STOPS = frozenset("，,。！？；!?;\n\r")
SENTENCE_STOPS = frozenset("。！？；!?;\n\r")
_CLAUSE_RX = re.compile("[，,。！？；!?;\n\r]")
_SENTENCE_RX = re.compile("[。！？；!?;\n\r]")
_CLAUSE_CHARS = tuple("，,。！？；!?;\n\r")
_SENTENCE_CHARS = tuple("。！？；!?;\n\r")
OVERLAP_PAD = 40
BOUND_REACH = 400  # clause/sentence bounds look at most this far either side of a span
GUIDED_FROM = 600  # a regex search over more characters than this is guided by its literals


class _Values(dict):
    """Message interpolation values; an unknown name becomes an empty string."""

    def __missing__(self, key):
        return ""


class _Field:
    """Per-field state of one check: normalised text and memoised selection results."""

    __slots__ = ("name", "norm", "text", "cands", "memo", "found", "stops")

    def __init__(self, name: str, norm: Normalized) -> None:
        self.name = name
        self.norm = norm
        self.text = norm.text
        self.cands: dict[tuple[int, str], list[tuple[int, int]]] = {}
        self.memo: dict = {}
        self.found: list = []
        self.stops: dict[bool, list[str]] = {}

    def bounds(self, clause: bool, s: int, e: int) -> tuple[int, int]:
        """The clause (sentence) around [s, e), at most BOUND_REACH characters either side;
        memoised per span and shared by every selection that asks."""
        key = (clause, s, e)
        got = self.memo.get(key)
        if got is not None:
            return got
        text = self.text
        stops = self.stops.get(clause)
        if stops is None:  # only the stop characters this field contains
            stops = self.stops[clause] = [c for c in (_CLAUSE_CHARS if clause else _SENTENCE_CHARS) if c in text]
        floor = s - BOUND_REACH
        if floor < 0:
            floor = 0
        lo = floor
        for c in stops:  # str.rfind/find per stop character: C scans, no match objects
            p = text.rfind(c, lo, s)
            if p >= 0:
                lo = p + 1
        ceil = e + BOUND_REACH
        if ceil > len(text):
            ceil = len(text)
        hi = ceil
        for c in stops:
            p = text.find(c, e, hi)
            if p >= 0:
                hi = p
        got = self.memo[key] = (lo, hi)
        return got


class Engine:
    """All loaded packs compiled into one automaton plus per-rule evaluators."""

    def __init__(self, packs: list[Pack], sources: list[str] | None = None, *, scanner_db: bytes | None = None,
                 derived: dict | None = None) -> None:
        self._scanner_db = scanner_db  # a serialised Hyperscan database from the pack cache, if any
        # facts derived from pattern sources alone (safe widths, required literals, match widths),
        # keyed by (kind, source, …): kept in the pack cache so a cached load recomputes none
        self._derived: dict = dict(derived or {})
        self.packs = packs
        self.sources = sources
        self.loaded_at = time.time()
        base = packs[0] if packs else None
        self.steps = base.normalize if base else ()
        self.defaults = dict(base.defaults) if base else {}
        disabled = {rid for p in packs for rid in p.disable}
        by_id: dict[str, Rule] = {}
        for pack in packs:
            for rule in pack.rules:
                by_id[rule.id] = rule  # an extending pack overrides its base
        self._rules: dict[str, Rule] = {rid: r for rid, r in by_id.items() if rid not in disabled}
        self.rules: list[Rule] = list(self._rules.values())
        # position of each loaded rule, by id (the engine's per-rule tables are indexed by it)
        self._index: dict[str, int] = {r.id: i for i, r in enumerate(self.rules)}
        self._pack_of = {p.id: p for p in packs}
        self._compile()

    # ------------------------------------------------------------------ compile
    def _compile(self) -> None:
        pattern_ids: dict[str, int] = {}
        targets: list[list[tuple[int, str, str]]] = []  # pid -> [(rule index, selection, kind)]
        for ri, rule in enumerate(self.rules):
            for tname in rule.triggers:
                sel = rule.selections[tname]
                for term in sel.terms:
                    self._add(pattern_ids, targets, term, (ri, tname, "term"))
                if sel.regex is not None:
                    for term in sel.anchors:
                        self._add(pattern_ids, targets, term, (ri, tname, "anchor"))
        # whole-document literal selections (sector contexts) share the automaton: their presence
        # is read off the same scan instead of a regex search per document. A selection with a
        # regex as well (the branches of a context regex that are not literals stay there, see
        # rules.loader.split_literal_branches) is true when a term is present, and searches the
        # document with its regex only when none is.
        self._doc_sels: dict[int, Selection] = {}
        doc_targets: dict[int, list[int]] = {}
        for rule in self.rules:
            for sel in list(rule.selections.values()) + list(self._pack_of[rule.pack].selections.values()):
                if sel.within[0] != "document" or not sel.terms:
                    continue
                if sel.not_followed_by or sel.not_preceded_by or id(sel) in self._doc_sels:
                    continue
                self._doc_sels[id(sel)] = sel
                for term in sel.terms:
                    pid = pattern_ids.get(term)
                    if pid is None:
                        pid = pattern_ids[term] = len(targets)
                        targets.append([])
                    doc_targets.setdefault(pid, []).append(id(sel))
        self._doc_targets = doc_targets
        self.patterns = list(pattern_ids)
        self._ac = None  # the ahocorasick_rs automaton, built on first use (see _automaton)
        self.scanner = "ahocorasick_rs"
        self._collect_first = True
        # a literal that only tells a document context is present (no rule's trigger) is reported
        # once per field, not at every occurrence (Hyperscan's single-match flag)
        once = [not targets[pid] and _aligned_only(p) for pid, p in enumerate(self.patterns)]
        self._hs = (_HyperscanScanner.build(self.patterns, self._scanner_db, fallback=lambda: self._automaton,
                                            once=once)
                    if self.patterns else None)
        self._scanner_db = None
        if self._hs is not None:
            self.scanner = "hyperscan"
        # per field: pid -> targets of the rules whose scopes include that field, built the first
        # time a document has that field (a crawl of product pages never asks for most of them)
        self._pid_targets = targets
        self._targets: dict[str, dict[int, tuple] | None] = {}
        self._supersedes = {r.id: set(r.supersedes) for r in self.rules if r.supersedes}
        self._exc_names: dict[str, tuple[str, ...]] = {}
        self._identity: dict[str, dict] = {}  # rule id -> rule_identity(rule), built on first hit
        self._content_keys: dict[int, tuple] = {}  # id(selection) -> _content_key
        self._guide_finders: dict[str, object] = {}  # literal alternation -> compiled finditer
        # document-level gates: what the whole-document selections of a condition (sector context
        # such as drug_ctx, a bill on the page) say of it before any span is known (see
        # _document_gate). Checked once per document, before any candidate of the rule is built.
        self._gates: list[list] = []
        # selection names per condition AST node; pack-wide exception ASTs are shared by every rule
        names_memo = self._names_memo = {}
        for rule in self.rules:
            doc_names = {n for n in names_in(rule.condition, names_memo)
                         if self._selection(rule, n).within[0] == "document"}
            gate = _document_gate(rule.condition, doc_names) if doc_names else TRUE_NODE
            self._gates.append([] if gate == TRUE_NODE else [gate])
        # `regex` patterns whose worst-case backtracking in a window of up to N characters is
        # bounded (see rules.cues.safe_width) run there without the per-call timeout, which costs more than
        # the search itself; wider windows and every other pattern keep the timeout
        # Like the regexes themselves, a width not in the pack cache is computed on the pattern's
        # first search (_safe_width_of), or when the cache is written (derive_all).
        self._safe_w: dict[int, int] = {}
        self._safe_src: dict[int, str] = {}
        derived = self._derived
        sels = [sel for r in self.rules for sel in r.selections.values()]
        sels += [sel for p in self.packs for sel in p.selections.values()]
        for rx in [sel.regex for sel in sels] + [x[0] for r in self.rules for x in r.extract.values()]:
            if rx is not None and type(rx) is not re.Pattern and id(rx) not in self._safe_w:
                w = derived.get(("safe", rx.pattern))
                if w is None:
                    self._safe_src[id(rx)] = rx.pattern
                else:
                    self._safe_w[id(rx)] = w
        # literal pre-filters of `regex` patterns (rules.cues): a window (or document) without any
        # literal the pattern requires cannot match, so one `re` literal search replaces the regex
        # there. A trigger regex uses literals that not every one of its anchors contains (a list
        # each anchor holds is present in every window) and may use single Han characters (see
        # _worth_prefilter).
        self._prefilter: dict[int, object] = {}
        self._lazy_keys: list[tuple] = []  # pre-filter facts not in the pack cache (see derive_all)
        if os.environ.get("FANGXIN_RULES_GUARD", "on").lower() not in ("off", "0", "no", "false"):
            trig = {id(r.selections[t]) for r in self.rules for t in r.triggers}
            for sel in sels:
                rx = sel.regex
                if rx is None or type(rx) is re.Pattern or id(rx) in self._prefilter:
                    continue
                src = sel.regex_source or rx.pattern
                key = ("disc", src, tuple(sel.anchors)) if id(sel) in trig else ("lits", src)
                if key not in derived:  # derived on the first search (or when the cache is written)
                    self._prefilter[id(rx)] = _lazy_prefilter(derived, key, self._prefilter, id(rx))
                    self._lazy_keys.append(key)
                    continue
                lits = derived[key]
                if _worth_prefilter(key, lits):
                    alt = "|".join(re.escape(t) for t in sorted(lits, key=len, reverse=True))
                    self._prefilter[id(rx)] = _lazy_search(alt, self._prefilter, id(rx))
        # whole-document regexes (sector and product-form contexts) are searched only around the
        # occurrences of a literal they require: (finditer of those literals, how far a match can
        # reach from one, how far its look-arounds see)
        self._guides: dict[int, tuple] = {}
        if self._prefilter is not None and os.environ.get("FANGXIN_RULES_GUARD", "on").lower() not in (
                "off", "0", "no", "false"):
            for sel in sels:
                rx = sel.regex
                if rx is None or type(rx) is re.Pattern or sel.within[0] not in ("document", "field"):
                    continue
                src = sel.regex_source or rx.pattern
                for kind, fn in (("lits", regex_literals), ("width", max_width), ("look", lookaround_width)):
                    if (kind, src) not in derived:
                        derived[(kind, src)] = fn(src)
                lits, width, look = derived[("lits", src)], derived[("width", src)], derived[("look", src)]
                if lits and width is not None and look is not None:
                    alt = "|".join(re.escape(t) for t in sorted(lits, key=len, reverse=True))
                    self._guides[id(rx)] = (alt, width + max(map(len, lits)), look)
        # how far around an anchor a trigger regex can match: its window, or less when no match can
        # be longer (a match that touches the anchor lies within max_width - 1 of it)
        # A window's end is the end of the string for the regex: a look-ahead there sees nothing
        # (最佳(?!食用) would match in 最佳食用期), so the search also reaches past it by the widest
        # look-ahead (look-behinds see before the start by themselves).
        # Derived on a trigger's first window (_trigger_reach), or read from the pack cache:
        # id(selection) -> (reach, look-ahead past the window end)
        self._reach: dict[int, tuple[int, int]] = {}
        self._trigger_sels = [r.selections[t] for r in self.rules for t in r.triggers
                              if r.selections[t].regex is not None]
        # per rule: selection name -> (specialised evaluator, shared-memo key or None)
        # A windowed selection's result depends on its content and the span only, so rules that
        # carry the same one (a copied report or negation exception) share its memo as pack-level
        # selections do: the first such selection object stands for the group.
        self._sel_fns: list[dict[str, tuple]] = []
        canonical: dict[tuple, int] = {}
        for ri, rule in enumerate(self.rules):
            fns: dict[str, tuple] = {}
            for name in sorted(names_in(rule.condition, names_memo)):
                own = rule.selections.get(name)
                sel = own if own is not None else self._pack_of[rule.pack].selections[name]
                skey = id(sel)
                if own is not None:
                    skey = None
                    if sel.within[0] not in ("match", "document", "field", "fields"):
                        skey = canonical.setdefault(self._content_key(sel) + (sel.within,), id(sel))
                fns[name] = (_selection_fn(self, rule, ri, sel), skey)
            self._sel_fns.append(fns)
        # per rule: the condition as one function of (check, field, start, end, shared memo) calling
        # the selection evaluators directly (no per-candidate closure or memo dict)
        # the exception guard (rules.cues): per pack, one literal search near a candidate stands for
        # the pack-wide exceptions whose cue words can all be named (FANGXIN_RULES_GUARD=off: none)
        self._guards: dict[str, list | None] = {}
        if os.environ.get("FANGXIN_RULES_GUARD", "on").lower() not in ("off", "0", "no", "false"):
            self._guards = {p.id: _exception_guard(p) for p in self.packs}
        self._fast_conds = [
            _compile_fast_condition(self._guarded_condition(r), fns)
            for r, fns in zip(self.rules, self._sel_fns, strict=True)
        ]
        self._gate_fns = [
            [_compile_fast_condition(g, fns) for g in gates] for gates, fns in zip(self._gates, self._sel_fns, strict=True)
        ]
        # the memo's name sets (a set per AST node, about a fifth of the engine's memory) are needed
        # only while conditions compile
        self._names_memo = None

    def _safe_width_of(self, rx) -> int:
        """rules.cues.safe_width of a `regex` pattern not in the pack cache, on its first search."""
        src = self._safe_src.pop(id(rx), None)
        w = 0 if src is None else safe_width(src)
        if src is not None:
            self._derived[("safe", src)] = w
        self._safe_w[id(rx)] = w
        return w

    def derive_all(self) -> None:
        """Compute the pattern facts that are otherwise derived on first use (safe widths, literal
        pre-filters), so that a pack cache written now holds them all."""
        for src in self._safe_src.values():
            if ("safe", src) not in self._derived:
                self._derived[("safe", src)] = safe_width(src)
        for key in self._lazy_keys:
            if key not in self._derived:
                self._derived[key] = _derive_literals(key)
        for sel in self._trigger_sels:
            self._trigger_reach(sel)

    def _trigger_reach(self, sel: Selection) -> tuple[int, int]:
        """How far around an anchor a trigger regex can match, and how far past that its
        look-aheads see: computed on the trigger's first window (or when the cache is written)."""
        derived = self._derived
        src = sel.regex_source or sel.regex.pattern
        for kind, fn in (("width", max_width), ("look", lookaround_width)):
            if (kind, src) not in derived:
                derived[(kind, src)] = fn(src)
        width, look = derived[("width", src)], derived[("look", src)]
        reach = sel.window if width is None else min(sel.window, max(width - 1, 0))
        past = 0 if look == 0 else BOUND_REACH if look is None else int(look)
        self._reach[id(sel)] = (reach, past)
        return reach, past

    def _field_targets(self, fname: str) -> dict[int, tuple]:
        """pid -> ((rule index, selection name, kind, selection, has term filters), …) for the
        rules that read field ``fname``; built once per field."""
        reads = [fname in rule.scopes for rule in self.rules]
        entry: dict[tuple, tuple] = {}  # (rule index, selection, kind) -> its target tuple, built once
        got: dict[int, tuple] = {}
        for pid, tlist in enumerate(self._pid_targets):
            out = []
            for t in tlist:
                if reads[t[0]]:
                    x = entry.get(t)
                    if x is None:
                        ri, sname, kind = t
                        sel = self.rules[ri].selections[sname]
                        x = entry[t] = (ri, sname, kind, sel, bool(sel.not_followed_by or sel.not_preceded_by))
                    out.append(x)
            if out:
                got[pid] = tuple(out)
        self._targets[fname] = got
        return got

    def _guarded_condition(self, rule: Rule):
        """The rule's condition with its guarded pack-wide exceptions folded into one
        ("guard", fn, [exception ASTs]) node per guard group: true at once when the group's guard
        finds no cue."""
        groups = self._guards.get(rule.pack) or []
        pack = self._pack_of[rule.pack]
        own = set(rule.selections)
        exc_asts = {id(pack.exceptions[n][1]) for n in rule.exceptions if n in pack.exceptions}
        # an exception whose selections the rule shadows with its own is not what the guard read
        group_of = {id(pack.exceptions[n][1]): gi for gi, (names, _fn) in enumerate(groups) for n in rule.exceptions
                    if n in names and not names_in(pack.exceptions[n][1], self._names_memo) & own}
        kept: list = []
        guarded: dict[int, list] = {}
        block: list = []  # the other pack-wide exceptions: one shared lambda (see _compile_fast_condition)
        for conj in _conjuncts(rule.condition):
            gi = group_of.get(id(conj[1])) if conj[0] == "not" else None
            if gi is not None:
                guarded.setdefault(gi, []).append(conj[1])
            elif conj[0] == "not" and id(conj[1]) in exc_asts:
                block.append(conj[1])
            else:
                kept.append(conj)
        if not guarded and len(block) < 2:
            return rule.condition
        nodes = [("guard", groups[gi][1], asts) for gi, asts in sorted(guarded.items())]
        if block:
            nodes.append(("block", block))
        node = nodes[-1]
        for other in reversed(kept + nodes[:-1]):
            node = ("and", other, node)
        return node

    def _content_key(self, sel: Selection) -> tuple:
        """What a selection matches (regex, terms and their filters): equal keys, equal results."""
        key = self._content_keys.get(id(sel))
        if key is None:
            key = self._content_keys[id(sel)] = (sel.regex_source, tuple(sel.terms), tuple(sel.not_followed_by),
                                                 tuple(sel.not_preceded_by))
        return key

    def _selection(self, rule: Rule, name: str) -> Selection:
        sel = rule.selections.get(name)
        return sel if sel is not None else self._pack_of[rule.pack].selections[name]

    @staticmethod
    def _add(pattern_ids, targets, term, target) -> None:
        pid = pattern_ids.get(term)
        if pid is None:
            pid = pattern_ids[term] = len(targets)
            targets.append([])
        if target not in targets[pid]:
            targets[pid].append(target)

    @property
    def _automaton(self):
        """The ahocorasick_rs automaton over the same literals (the scanner when Hyperscan is
        missing; the bench compares both). Built on first use: 10 ms a start saved otherwise."""
        if self._ac is None and self.patterns:
            self._ac = ahocorasick_rs.AhoCorasick(self.patterns)
        return self._ac

    # ------------------------------------------------------------------ public
    def rule(self, rule_id: str) -> Rule:
        """The rule object of that id, or KeyError."""
        return self._rules[rule_id]

    def rule_index(self, rule: Rule) -> int:
        """The position of a loaded rule in ``self.rules`` (ValueError for a rule not loaded).

        By id, then identity: ``list.index`` would compare the dataclasses field by field."""
        i = self._index.get(rule.id)
        if i is None or self.rules[i] is not rule:
            raise ValueError(f"{rule.id} is not a rule of this engine")
        return i

    def literal_terms(self) -> list[str]:
        """Every literal of the automaton (for the grep -F baseline)."""
        return list(self.patterns)

    def check_text(self, text: str, field: str = "body", **kw) -> Hits:
        return self.check({field: text}, **kw)

    def check(
        self, doc: Mapping[str, object], deadline_ms: float | None = None, rules: Iterable[str] | None = None,
        as_of: datetime.date | None = None,
    ) -> Hits:
        """Hits for a document (field name → text). Evaluation stops at the deadline (``hits.timed_out``).
        ``as_of``: the date the document is judged at (default today), for rules that count years
        (``min_years_ago``: a patent number's term); a stored capture is re-checked as of its date."""
        return self.check_with(_Check, doc, deadline_ms, rules, as_of)

    def check_with(
        self, state: type[_Check], doc: Mapping[str, object], deadline_ms: float | None = None,
        rules: Iterable[str] | None = None, as_of: datetime.date | None = None,
    ) -> Hits:
        """``check`` with ``state`` (a subclass of the per-check state) for this call only: rules.trace
        and rules.profile observe a check this way and leave the engine as it was (safe beside other
        threads' checks)."""
        budget = (deadline_ms if deadline_ms is not None else self.defaults.get("document_deadline_ms", 1000)) / 1000
        # one-time work is not the document's time: the collector's pass over the ~10^5 objects a
        # load leaves (loading runs with the collector off; its first pass otherwise lands inside
        # the first document's deadline, 0.1-0.4 s), compiling the literal database (no cache
        # entry) and the targets of a field name first seen
        if self._collect_first:
            self._collect_first = False
            if gc.isenabled():
                gc.collect()
        if self._hs is not None and self._hs._db is None:
            self._hs._database()
        for fname in doc:
            if fname not in self._targets and fname in FIELDS:
                self._field_targets(fname)
        ctx = state(self, time.perf_counter() + budget, set(rules) if rules is not None else None)
        if as_of is not None:
            ctx.year = as_of.year
        out = Hits()
        fields: list[_Field] = []
        for fname, value in doc.items():
            if value is None:
                continue
            if not isinstance(value, str):
                value = "\n".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            if not value:
                continue
            fields.append(_Field(fname, normalize(value, self.steps)))
        self._scan(ctx, fields)
        try:
            for f in fields:
                ctx.check_field(f, out)
        except DeadlineExceeded:
            out.timed_out = True
        out.regex_timeouts = ctx.regex_timeouts
        if self._supersedes and len(out) > 1:
            out[:] = _resolve_supersedes(out, self._supersedes)
        if len(out) > 1:  # deterministic order: document field order, then position, then rule
            order = {f.name: i for i, f in enumerate(fields)}
            out.sort(key=lambda h: (order.get(h.field, 0), h.start, h.end, h.rule))
        return out

    def _scan(self, ctx: _Check, fields: list[_Field]) -> None:
        """The literal scan of each field (``field.found``) and the whole-document contexts it
        shows present (``ctx.doc_present``); rules.testing builds one check's state with it too."""
        ctx.fields = fields
        automaton = self._automaton if self._hs is None else None
        doc_targets = self._doc_targets
        present = ctx.doc_present
        hs = self._hs
        for f in fields:
            if hs is not None:
                f.found = hs.scan(f.text)
            else:
                f.found = automaton.find_matches_as_indexes(f.text, overlapping=True) if automaton else []
            if doc_targets:
                for pid, _s, _e in f.found:
                    keys = doc_targets.get(pid)
                    if keys:
                        present.update(keys)


def _aligned_only(literal: str) -> bool:
    """Can the literal's UTF-32-LE bytes match the text only on a character boundary? A match
    shifted by 1, 2 or 3 bytes needs every character below U+1100, every character's second byte
    zero, or every character's low byte zero (最 U+6700 alone matches 3 bytes into …g); a literal
    with a character that breaks each condition cannot. Only such a literal may be reported once:
    a discarded misaligned first match would hide the real ones."""
    cps = [ord(c) for c in literal]
    return any(c > 0x10FF for c in cps) and any(c & 0xFF for c in cps) and any((c >> 8) & 0xFF for c in cps)


def hyperscan_literal(data: bytes) -> bytes:
    """A literal as a Hyperscan expression: every byte escaped (terms hold ( . [ as in （详询, 99.9%)."""
    if not data:
        return b""
    # b"\\x28\\xff..." built by bytes.hex with a one-character separator: no Python loop per byte
    return ("\\x" + data.hex("\\").replace("\\", "\\x")).encode()


class _HyperscanScanner:
    """Optional accelerator for the literal scan: the same literals in a Hyperscan block database.

    Text and patterns are scanned as UTF-32-LE, so a byte offset divided by four is a character
    offset; matches not aligned on code units are discarded. Results equal ahocorasick_rs's
    overlapping matches, except that a literal flagged in ``once`` (one that only tells a document
    context is present, and cannot match off a character boundary: _aligned_only) is reported at
    its first occurrence only. Used when the `hyperscan` package imports and FANGXIN_RULES_SCANNER is
    not "ahocorasick"; each thread gets its own scratch space.

    A database from the pack cache is loaded at once; otherwise it is compiled on the first scan
    (or dump), as the regexes are (rules.lazyregex): 0.24 s for the base pack's 13,000 literals,
    which a process that loads packs without checking a document (lint, explain) never pays. A
    database that does not compile leaves the scan to ``fallback()``, the ahocorasick_rs automaton.
    """

    def __init__(self, hyperscan, db, lengths: list[int], exprs: list[bytes] | None = None,
                 fallback=None, once: list[bool] | None = None) -> None:
        self._hyperscan = hyperscan
        self._db = db
        self._lengths = lengths
        self._exprs = exprs  # to compile on first use, when no database was loaded
        self._once = once  # per literal: compiled with HS_FLAG_SINGLEMATCH
        self._fallback = fallback
        self._lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def build(cls, patterns: list[str], serialized: bytes | None = None, fallback=None,
              once: list[bool] | None = None):
        if os.environ.get("FANGXIN_RULES_SCANNER", "auto").lower() in ("ahocorasick", "ahocorasick_rs", "ac"):
            return None
        try:
            import hyperscan
        except ImportError:
            return None
        raw = [p.encode("utf-32-le") for p in patterns]
        if serialized is not None:
            try:
                return cls(hyperscan, hyperscan.loadb(serialized, hyperscan.HS_MODE_BLOCK), [len(r) for r in raw])
            except Exception:  # pragma: no cover - a stale or foreign database: compile afresh
                pass
        exprs = [hyperscan_literal(r) for r in raw]
        return cls(hyperscan, None, [len(r) for r in raw], exprs, fallback, once)

    def _database(self):
        db = self._db
        if db is None and self._exprs is not None:
            with self._lock:
                if self._db is None and self._exprs is not None:
                    exprs = self._exprs
                    try:
                        db = self._hyperscan.Database(mode=self._hyperscan.HS_MODE_BLOCK)
                        single = self._hyperscan.HS_FLAG_SINGLEMATCH
                        flags = [single if o else 0 for o in self._once] if self._once else 0
                        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
                        self._db = db
                    except Exception:  # pragma: no cover - an unusable build: the fallback scans
                        self._db = None
                    self._exprs = None
                db = self._db
        return db

    def dump(self) -> bytes | None:
        db = self._database()
        return self._hyperscan.dumpb(db) if db is not None else None

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        db = self._db or self._database()
        if db is None:
            automaton = self._fallback() if self._fallback is not None else None
            return automaton.find_matches_as_indexes(text, overlapping=True) if automaton else []
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hyperscan.Scratch(db)
        out: list[tuple[int, int, int]] = []
        append = out.append
        lengths = self._lengths

        def on_match(pid, _from, to, _flags, _ctx):
            start = to - lengths[pid]
            if not (to & 3) and not (start & 3):
                append((pid, start >> 2, to >> 2))

        db.scan(text.encode("utf-32-le"), match_event_handler=on_match, scratch=scratch)
        out.sort(key=_END_THEN_PID)
        return out


_END_THEN_PID = operator.itemgetter(2, 0)  # scan matches in the order ahocorasick_rs reports them

# condition source -> code object; filled by compilation and by the pack cache (marshal)
_CONDITION_CODE: dict[str, object] = {}


def _shared_eval(memo: dict, skey: int, fn, chk, f, s: int, e: int) -> bool:
    """A pack-level selection does not depend on the rule: evaluated once per span and field."""
    key = (skey, s, e)
    val = memo.get(key)
    if val is None:
        val = memo[key] = fn(chk, f, s, e)
    return val


def _compile_fast_condition(node, fns: dict[str, tuple], guard_block: bool = False):
    """The condition AST as ``fn(check, field, s, e, memo) -> bool`` calling each selection's
    evaluator directly, with the same short-circuit order as the condition.

    The guarded pack-wide exceptions (a "guard" node, the same for nearly every rule of a pack)
    and the other pack-wide exceptions (a "block" node) each become a lambda of their own, called
    from the rule's: their text does not depend on the rule, so it is compiled once, not once per
    rule (with ``guard_block`` the node itself is that lambda's body)."""
    env: dict = {"__builtins__": {}, "_sh": _shared_eval}
    slots: dict[str, int] = {}

    def expr(n) -> str:
        kind = n[0]
        if kind in ("guard", "block") and not guard_block:
            hi = sum(1 for k in env if k.startswith("H"))
            env[f"H{hi}"] = _compile_fast_condition(n, fns, guard_block=True)
            return f"H{hi}(c, f, s, e, m)"
        if kind == "block":  # pack-wide exceptions the guard does not cover: every one false
            return "(" + " and ".join(f"(not {expr(x)})" for x in n[1]) + ")"
        if kind == "guard":  # no cue near the span, or else every guarded exception false
            gi = sum(1 for k in env if k.startswith("G"))
            env[f"G{gi}"] = n[1]
            inner = " and ".join(f"(not {expr(x)})" for x in n[2])
            return f"(G{gi}(m, f, s, e) or ({inner}))"
        if kind == "sel":
            fn, skey = fns[n[1]]
            i = slots.setdefault(n[1], len(slots))
            env[f"F{i}"] = fn
            if skey is None:
                return f"F{i}(c, f, s, e)"
            env[f"K{i}"] = skey
            return f"_sh(m, K{i}, F{i}, c, f, s, e)"
        if kind == "const":
            return "True" if n[1] else "False"
        if kind == "not":
            return f"(not {expr(n[1])})"
        return f"({expr(n[1])} {kind} {expr(n[2])})"

    src = f"lambda c, f, s, e, m: {expr(node)}"
    code = _CONDITION_CODE.get(src)
    if code is None:
        code = _CONDITION_CODE[src] = compile(src, "<condition>", "eval")
    return eval(code, env)  # noqa: S307 - built from validated selection names


def _selection_reach(sel: Selection) -> int | None:
    """How far from a candidate span a match of the selection can lie (None: anywhere)."""
    kind, n = sel.within
    if kind in ("before", "after", "around"):
        return n
    if kind in ("clause", "clause_before", "clause_after", "sentence", "sentence_before", "sentence_after"):
        return n or BOUND_REACH
    if kind in ("overlap", "match"):
        return OVERLAP_PAD + max((len(t) for t in sel.terms), default=0)
    return None


def _derive_literals(key: tuple):
    """The literals a pattern's matches require (for a trigger: besides its anchors)."""
    return discriminating_literals(key[1], list(key[2])) if key[0] == "disc" else regex_literals(key[1])


def _worth_prefilter(key: tuple, lits) -> bool:
    """Whether a literal pre-filter is worth a search before the regex.

    A whole-document or context pattern is searched over long spans: a single Han character (一 无
    非) occurs in nearly every one, so a set that holds one is not worth searching for
    (rules.cues.guardable). A trigger regex is searched in a window of a few dozen characters around
    its anchor, where even a single character (最, 岁) is absent from most windows, and one literal
    search there costs a twentieth of the regex."""
    if not lits:
        return False
    return key[0] == "disc" or guardable(lits)


def _passes(text: str, lo: int, hi: int) -> bool:
    return True  # a pattern with no usable literal pre-filter: always search


def _lazy_prefilter(derived: dict, key: tuple, table: dict, rid: int):
    """A literal pre-filter derived and compiled on its first call; it then replaces itself in
    ``table`` by the literal search, or by a pass when the pattern requires no usable literal."""
    def first(text: str, lo: int, hi: int):
        lits = derived.get(key)
        if lits is None:
            lits = derived[key] = _derive_literals(key)
        if _worth_prefilter(key, lits):
            alt = "|".join(re.escape(t) for t in sorted(lits, key=len, reverse=True))
            search = table[rid] = re.compile(alt).search
        else:
            search = table[rid] = _passes
        return search(text, lo, hi)
    return first


def _lazy_search(alternation: str, table: dict, key: int):
    """A literal pre-filter compiled on its first call (it then replaces itself in ``table``)."""
    def first(text: str, lo: int, hi: int):
        search = table[key] = re.compile(alternation).search
        return search(text, lo, hi)
    return first


GUARD_BANDS = (12, 60)  # exceptions are guarded in groups by how far their cues can lie from a span


def _exception_guard(pack: Pack) -> list[tuple[frozenset[str], object]] | None:
    """[(names of guarded pack-wide exceptions, guard function), …] or None: one group per band of
    reach (GUARD_BANDS), so a common cue word of an exception that looks two characters around a
    span (× in 30×40cm) is searched for there only, not as far as a clause-wide one looks. A guard
    function ``g(memo, field, s, e)`` is True when none of its group's cue literals occurs within
    the group's reach of the span, which proves every exception of the group false there."""
    def literals_of(name: str):
        sel = pack.selections.get(name)
        return None if sel is None or _selection_reach(sel) is None else selection_literals(sel)

    def reach_of(name: str):
        sel = pack.selections.get(name)
        return None if sel is None else _selection_reach(sel)

    bands: dict[int, tuple[list[str], set[str], list[int]]] = {}
    for name, (_source, ast) in pack.exceptions.items():
        got = ast_cues(ast, literals_of, reach_of)
        if got is None or not got[0] or not guardable(got[0]):
            continue
        alts, reach = got
        band = sum(1 for b in GUARD_BANDS if reach > b)
        names, cues, reaches = bands.setdefault(band, ([], set(), []))
        names.append(name)
        cues.update(alts)
        reaches.append(reach)
    if not bands:
        return None
    return [_guard_fn(pack.id, band, names, cues, max(reaches)) for band, (names, cues, reaches) in sorted(bands.items())]


def _guard_fn(pack_id: str, band: int, names: list[str], cues: set[str], reach: int):
    search = re.compile("|".join(re.escape(t) for t in sorted(cues, key=len, reverse=True))).search
    key0 = ("guard", pack_id, band)

    def guard(memo: dict, f: _Field, s: int, e: int) -> bool:
        key = (key0, s, e)
        val = memo.get(key)
        if val is None:
            val = memo[key] = search(f.text, s - reach if s > reach else 0, e + reach) is None
        return val

    return frozenset(names), guard


TRUE_NODE = ("const", True)
FALSE_NODE = ("const", False)


def _and(a, b):
    if a == FALSE_NODE or b == FALSE_NODE:
        return FALSE_NODE
    return b if a == TRUE_NODE else a if b == TRUE_NODE or a == b else ("and", a, b)


def _or(a, b):
    if a == TRUE_NODE or b == TRUE_NODE:
        return TRUE_NODE
    return b if a == FALSE_NODE else a if b == FALSE_NODE or a == b else ("or", a, b)


def _not(a):
    if a[0] == "not":
        return a[1]
    return FALSE_NODE if a == TRUE_NODE else TRUE_NODE if a == FALSE_NODE else ("not", a)


def _document_gate(node, doc_names: set[str], definitely: bool = False):
    """A condition over the whole-document selections ``doc_names`` alone that holds whenever
    ``node`` can hold at some span of the document (``definitely``: that holds only when
    ``node`` holds at every span). Three-valued reading: every other selection, and the guarded
    exception groups, may be true or false at a span. ``(bill_doc and claim) or at_door`` gives
    no gate; ``(bill_doc and claim or bill_doc and noextra) and not clinic_ctx`` gives
    ``bill_doc and not clinic_ctx``. Whole-document selections do not depend on the span, so a
    document where the gate is false cannot produce a hit of the rule: same hits, fewer windows."""
    kind = node[0]
    if kind == "sel":
        if node[1] in doc_names:
            return node
        return FALSE_NODE if definitely else TRUE_NODE
    if kind == "const":
        return node
    if kind == "not":
        return _not(_document_gate(node[1], doc_names, not definitely))
    if kind in ("and", "or"):
        a = _document_gate(node[1], doc_names, definitely)
        b = _document_gate(node[2], doc_names, definitely)
        return _and(a, b) if kind == "and" else _or(a, b)
    return FALSE_NODE if definitely else TRUE_NODE  # anything else: unknown


def _conjuncts(node) -> list:
    if node[0] == "and":
        return _conjuncts(node[1]) + _conjuncts(node[2])
    return [node]


def _resolve_supersedes(hits: list[Hit], sup: dict[str, set[str]]) -> list[Hit]:
    keep = []
    for h in hits:
        beaten = False
        for o in hits:
            if o is h or o.field != h.field or h.rule not in sup.get(o.rule, ()):
                continue
            if o.start < h.end and h.start < o.end:
                beaten = True
                break
        if not beaten:
            keep.append(h)
    return keep


class _Check:
    """State of one ``Engine.check`` call."""

    def __init__(self, engine: Engine, deadline: float, only: set[str] | None) -> None:
        self.engine = engine
        self.deadline = deadline
        self.only = only
        self.fields: list[_Field] = []
        self.regex_timeouts = 0
        self.doc_memo: dict = {}
        self.gate_ok: dict[int, bool] = {}
        self.doc_present: set[int] = set()
        self.timeout_s = engine.defaults.get("regex_timeout_ms", 50) / 1000
        self.safe_w = engine._safe_w
        self.prefilter = engine._prefilter
        self.gates = engine._gate_fns  # per rule: its document-level gates (rules.trace lifts one)
        # the year a check is made in: a rule's `min_years_ago` counts from it (a patent filed in
        # 2015 has lapsed by 2026); `Engine.check(as_of=…)` re-checks a capture as of its own date
        self.year = time.localtime().tm_year

    # -------------------------------------------------------------- per field
    def check_field(self, f: _Field, out: Hits) -> None:
        engine = self.engine
        if not engine.patterns:
            return
        targets = engine._targets.get(f.name)  # built in check() for every known field name
        if not targets:
            return
        text = f.text
        found = f.found
        if not found:
            return
        per_rule: dict[int, None] = {}
        pending: dict[tuple[int, str], list[tuple[int, int]]] = {}
        cands = f.cands
        only = self.only
        rules = engine.rules
        gates = self.gates
        gate_ok = self.gate_ok
        gate_memo: dict = {}
        get_targets = targets.get
        for pid, s, e in found:
            for ri, sname, kind, sel, filtered in get_targets(pid, ()):
                if only is not None and rules[ri].id not in only:
                    continue
                if gates[ri]:
                    ok = gate_ok.get(ri)
                    if ok is None:  # document-level: the span arguments are unused
                        ok = gate_ok[ri] = all(g(self, f, 0, 0, gate_memo) for g in gates[ri])
                    if not ok:
                        continue
                if filtered:  # a literal, or a trigger regex's anchor, in a context the rule names
                    if sel.not_followed_by and _followed(text, e, sel.not_followed_by):
                        continue
                    if sel.not_preceded_by and _preceded(text, s, sel.not_preceded_by):
                        continue
                if kind == "term":
                    cands.setdefault((ri, sname), []).append((s, e))
                else:
                    pending.setdefault((ri, sname), []).append((s, e))
                per_rule[ri] = None
        for (ri, sname), anchors in pending.items():
            spans = self.regex_around(text, rules[ri].selections[sname], anchors)
            if spans:
                cands.setdefault((ri, sname), []).extend(spans)
        for ri in per_rule:
            self.evaluate_rule(f, rules[ri], ri, out)

    def regex_around(self, text: str, sel: Selection, anchors: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Run a trigger regex in the merged windows around its anchor hits; keep the matches
        that contain (overlap) an anchor."""
        w, la = self.engine._reach.get(id(sel)) or self.engine._trigger_reach(sel)
        out: list[tuple[int, int]] = []
        if len(anchors) == 1:  # the common case: one anchor, one window
            as_, ae = anchors[0]
            if time.perf_counter() > self.deadline:
                raise DeadlineExceeded()
            hi = ae + w + la if ae + w + la < len(text) else len(text)
            for m in self._finditer(sel.regex, text, as_ - w if as_ > w else 0, hi, overlapped=False):
                ms, me = m.span()
                if ms < ae and as_ < me and me > ms:
                    if sel.min_ratio is not None and not _ratio_ok(m, sel.min_ratio):
                        continue
                    if sel.min_years_ago is not None and not _years_ok(m, sel.min_years_ago, self.year):
                        continue
                    if sel.compare is not None and not _compare_ok(m, sel.compare):
                        continue
                    out.append((ms, me))
            return out
        anchors.sort()
        i = 0
        n = len(anchors)
        while i < n:
            lo = max(0, anchors[i][0] - w)
            hi = min(len(text), anchors[i][1] + w + la)
            j = i + 1
            while j < n and anchors[j][0] - w <= hi:
                hi = min(len(text), max(hi, anchors[j][1] + w + la))
                j += 1
            group = anchors[i:j]
            if time.perf_counter() > self.deadline:
                raise DeadlineExceeded()
            for m in self._finditer(sel.regex, text, lo, hi, overlapped=False):
                ms, me = m.span()
                if me > ms and any(ms < ae and as_ < me for as_, ae in group):
                    if sel.min_ratio is not None and not _ratio_ok(m, sel.min_ratio):
                        continue
                    if sel.min_years_ago is not None and not _years_ok(m, sel.min_years_ago, self.year):
                        continue
                    if sel.compare is not None and not _compare_ok(m, sel.compare):
                        continue
                    out.append((ms, me))
            i = j
        return out

    def _finditer(self, rx, text: str, lo: int, hi: int, overlapped: bool):
        if type(rx) is re.Pattern:  # literal alternation: linear, no timeout needed
            if not overlapped:
                return list(rx.finditer(text, lo, hi))
            return [m for i in range(lo, hi) if (m := rx.match(text, i, hi))]
        pf = self.prefilter.get(id(rx))
        if pf is not None and pf(text, lo, hi) is None:
            return []
        # each call is bounded by the regex timeout; the document deadline is checked between
        # candidates (evaluate_rule) and between regex windows (regex_around)
        sw = self.safe_w.get(id(rx))
        if sw is None:
            sw = self.engine._safe_width_of(rx)
        if not overlapped and hi - lo <= sw:
            return list(rx.finditer(text, lo, hi))
        try:
            return list(rx.finditer(text, lo, hi, overlapped=overlapped, timeout=self.timeout_s))
        except TimeoutError:
            self.regex_timeouts += 1
            if time.perf_counter() > self.deadline:
                raise DeadlineExceeded() from None
            return []

    def _search(self, rx, text: str, lo: int, hi: int):
        if type(rx) is re.Pattern:
            return rx.search(text, lo, hi)
        if hi - lo > GUIDED_FROM:
            guide = self.engine._guides.get(id(rx))
            if guide is not None:
                return self._guided_search(rx, guide, text, lo, hi)
        pf = self.prefilter.get(id(rx))
        if pf is not None and pf(text, lo, hi) is None:
            return None
        return self._search_plain(rx, text, lo, hi)

    def _guided_search(self, rx, guide, text: str, lo: int, hi: int):
        """``rx.search(text, lo, hi)`` for existence, run only in the merged windows around the
        literals every match contains. A match found near a window's end is confirmed on the whole
        range (a window end could hide what a look-ahead or a greedy part would see)."""
        alt, reach, look = guide
        finder = self.engine._guide_finders.get(alt)
        if finder is None:
            finder = self.engine._guide_finders[alt] = re.compile(alt).finditer
        windows: list[list[int]] = []
        for m in finder(text, lo, hi):
            a = m.start() - reach - look
            b = m.end() + reach + look
            a = lo if a < lo else a
            b = hi if b > hi else b
            if windows and a <= windows[-1][1]:
                windows[-1][1] = b
            else:
                windows.append([a, b])
        for a, b in windows:
            r = self._search_plain(rx, text, a, b)
            if r is not None:
                if b == hi or r.end() + look < b:
                    return r
                return self._search_plain(rx, text, lo, hi)  # near the window end: decide on the whole range
        return None

    def _search_plain(self, rx, text: str, lo: int, hi: int):
        """One `regex` search: without a timeout where the pattern's backtracking is bounded for
        this width (rules.cues.safe_width), else under the regex timeout and the document deadline."""
        sw = self.safe_w.get(id(rx))
        if sw is None:
            sw = self.engine._safe_width_of(rx)
        if hi - lo <= sw:
            return rx.search(text, lo, hi)
        try:
            return rx.search(text, lo, hi, timeout=self.timeout_s)
        except TimeoutError:
            self.regex_timeouts += 1
            if time.perf_counter() > self.deadline:
                raise DeadlineExceeded() from None
            return None

    # -------------------------------------------------------------- per rule
    def evaluate_rule(self, f: _Field, rule: Rule, ri: int, out: Hits) -> None:
        spans: set[tuple[int, int]] = set()
        for t in rule.triggers:
            spans.update(f.cands.get((ri, t), ()))
        if not spans:
            return
        # longest first at each start, so a hit covers the whole claim
        ordered = sorted(spans, key=lambda x: (x[0], -(x[1] - x[0])))
        cond = self.engine._fast_conds[ri]
        shared = f.memo
        emitted: list[tuple[int, int]] = []
        for s, e in ordered:
            if emitted and any(s < ee and ss < e for ss, ee in emitted):
                continue
            if cond(self, f, s, e, shared):
                emitted.append((s, e))
                out.append(self.make_hit(f, rule, s, e))
            if time.perf_counter() > self.deadline:
                raise DeadlineExceeded()

    def window(self, f: _Field, within: tuple[str, int], s: int, e: int) -> tuple[int, int]:
        kind, n = within
        text = f.text
        if kind == "before":
            return max(0, s - n), s
        if kind == "after":
            return e, min(len(text), e + n)
        if kind == "around":
            return max(0, s - n), min(len(text), e + n)
        if kind in ("clause", "clause_before", "clause_after", "sentence", "sentence_before", "sentence_after"):
            lo, hi = f.bounds(kind.startswith("clause"), s, e)
            if n:
                lo = max(lo, s - n)
                hi = min(hi, e + n)
            if kind.endswith("_before"):
                return lo, s
            if kind.endswith("_after"):
                return e, hi
            return lo, hi
        if kind == "overlap":
            return max(0, s - OVERLAP_PAD), min(len(text), e + OVERLAP_PAD)
        return 0, len(text)

    def eval_selection(self, sel: Selection, f: _Field, rule: Rule, ri: int, s: int, e: int) -> bool:
        kind = sel.within[0]
        if kind == "fields":
            return f.name in sel.fields
        if kind == "match":
            # a trigger: true when one of its candidates overlaps this one
            cands = f.cands.get((ri, sel.name))
            if cands is None and sel.name not in rule.triggers:
                return self._overlaps(sel, f, s, e)
            return any(cs < e and s < ce for cs, ce in (cands or ()))
        if kind == "document":
            read_off = id(sel) in self.engine._doc_sels  # its terms: from the automaton scan
            if read_off and (id(sel) in self.doc_present or sel.regex is None):
                return id(sel) in self.doc_present
            # keyed by what the selection matches, not by the object: rules that each carry the
            # same whole-document regex (a product-form context, say) search the document once
            key = self.engine._content_key(sel)
            if key not in self.doc_memo:
                if read_off:  # no term is present: the regex alone decides
                    rx = sel.regex
                    self.doc_memo[key] = any(self._search(rx, g.text, 0, len(g.text)) is not None
                                             for g in self.fields)
                else:
                    self.doc_memo[key] = any(self._any_in(sel, g.text, 0, len(g.text)) for g in self.fields)
            return self.doc_memo[key]
        if kind == "field":
            key = ("field", self.engine._content_key(sel))
            if key not in f.memo:
                f.memo[key] = self._any_in(sel, f.text, 0, len(f.text))
            return f.memo[key]
        if kind == "overlap":
            return self._overlaps(sel, f, s, e)
        lo, hi = self.window(f, sel.within, s, e)
        if kind.endswith("before"):
            # a cue may run into the claim (不承诺 before 承诺录取): look a little past the start,
            # but only accept matches that begin before it
            return self._starts_in(sel, f.text, lo, s, min(e, s + 6))
        if hi <= lo:
            return False
        return self._any_in(sel, f.text, lo, hi)

    def _starts_in(self, sel: Selection, text: str, lo: int, s: int, hi: int) -> bool:
        """Does a match begin in [lo, s)? One search: the leftmost match starts before s or none does."""
        if s <= lo:
            return False
        for rx in (sel.context_re, sel.regex):
            if rx is None:
                continue
            m = self._search(rx, text, lo, hi)
            if m is not None and m.start() < s:
                return True
        return False

    def _overlaps(self, sel: Selection, f: _Field, s: int, e: int) -> bool:
        lo, hi = max(0, s - OVERLAP_PAD), min(len(f.text), e + OVERLAP_PAD)
        rx = sel.context_re
        if type(rx) is re.Pattern:
            longest = max(map(len, sel.terms))
            text = f.text
            first = max(0, s - longest + 1)
            m = rx.search(text, first, hi)  # the leftmost match: none starting before e means none
            if m is not None and m.start() < e:
                if m.end() > s:
                    return True
                for i in range(m.start() + 1, e):
                    m = rx.match(text, i, hi)
                    if m and m.end() > s:
                        return True
            rx = None
        for pattern in (rx, sel.regex):
            if pattern is None or self._search(pattern, f.text, lo, hi) is None:
                continue
            for m in self._finditer(pattern, f.text, lo, hi, overlapped=True):
                if m.start() < e and s < m.end():
                    return True
        return False

    def _any_in(self, sel: Selection, text: str, lo: int, hi: int) -> bool:
        if sel.context_re is not None and self._search(sel.context_re, text, lo, hi):
            return True
        if sel.regex is not None and self._search(sel.regex, text, lo, hi):
            return True
        return False

    # -------------------------------------------------------------- output
    def make_hit(self, f: _Field, rule: Rule, s: int, e: int) -> Hit:
        os_, oe = f.norm.span(s, e)
        original = f.norm.original
        match = original[os_:oe]
        extracted: dict[str, str] = {}
        for name, (rx, within, group) in rule.extract.items():
            lo, hi = self.window(f, within, s, e)
            m = self._search(rx, f.text, lo, hi)
            if m is not None:
                try:
                    extracted[name] = m.group(group)
                except IndexError:
                    extracted[name] = m.group(0)
        pad = self.engine.defaults.get("excerpt_chars", 30)
        excerpt = original[max(0, os_ - pad) : oe + pad]
        message = rule.message.format_map(_Values(extracted, match=match, field=f.name))
        ident = self.engine._identity.get(rule.id)
        if ident is None:
            ident = self.engine._identity[rule.id] = rule_identity(rule)
        return Hit(
            **ident,
            message=message,
            field=f.name,
            start=os_,
            end=oe,
            match=match,
            excerpt=excerpt,
            extracted=extracted,
            exceptions=list(self._exception_names(rule)),
        )

    def _exception_names(self, rule: Rule) -> tuple[str, ...]:
        names = self.engine._exc_names.get(rule.id)
        if names is None:
            names = self.engine._exc_names[rule.id] = tuple(rule.exceptions) + tuple(
                n for n in rule.selections if n.startswith("exc_"))
        return names


def _selection_fn(engine: Engine, rule: Rule, ri: int, sel: Selection):
    """One function ``fn(check, field, s, e) -> bool`` for a selection of a rule, specialised on its
    ``within`` so the per-candidate path is a call or two; same results as ``_Check.eval_selection``."""
    kind, n = sel.within
    if kind == "match":
        key = (ri, sel.name)
        if sel.name not in rule.triggers:
            def match_other(chk, f, s, e):
                cands = f.cands.get(key)
                if cands is None:
                    return chk._overlaps(sel, f, s, e)
                return any(cs < e and s < ce for cs, ce in cands)
            return match_other

        def match(chk, f, s, e):
            for cs, ce in f.cands.get(key, ()):
                if cs < e and s < ce:
                    return True
            return False
        return match
    if kind == "fields":  # whose voice: the candidate's field
        names = sel.fields
        return lambda chk, f, s, e: f.name in names
    if kind == "document" and id(sel) in engine._doc_sels and sel.regex is None:
        sid = id(sel)  # literal sector context: read off the automaton scan of the document
        return lambda chk, f, s, e: sid in chk.doc_present
    if kind in ("document", "field", "overlap") or kind not in _WINDOWED:
        return lambda chk, f, s, e: chk.eval_selection(sel, f, rule, ri, s, e)
    ctx, rx = sel.context_re, sel.regex
    plain = ctx is not None and rx is None and type(ctx) is re.Pattern
    if plain:
        csearch = ctx.search

        def search(chk, text, lo, hi):
            return csearch(text, lo, hi) is not None

        def starts(chk, text, lo, s, hi):
            m = csearch(text, lo, hi)
            return m is not None and m.start() < s
    else:
        def search(chk, text, lo, hi):
            return chk._any_in(sel, text, lo, hi)

        def starts(chk, text, lo, s, hi):
            return chk._starts_in(sel, text, lo, s, hi)
    if kind == "before":
        def before(chk, f, s, e):
            lo = s - n if s > n else 0
            return s > lo and starts(chk, f.text, lo, s, e if e < s + 6 else s + 6)
        return before
    if kind == "after":
        def after(chk, f, s, e):
            text = f.text
            hi = e + n
            if hi > len(text):
                hi = len(text)
            return hi > e and search(chk, text, e, hi)
        return after
    if kind == "around":
        def around(chk, f, s, e):
            text = f.text
            lo = s - n if s > n else 0
            hi = e + n
            if hi > len(text):
                hi = len(text)
            return hi > lo and search(chk, text, lo, hi)
        return around
    clause = kind.startswith("clause")
    part = "before" if kind.endswith("_before") else "after" if kind.endswith("_after") else ""

    def bounded(chk, f, s, e):
        lo, hi = f.bounds(clause, s, e)
        if n:
            if lo < s - n:
                lo = s - n
            if hi > e + n:
                hi = e + n
        if part == "before":
            return s > lo and starts(chk, f.text, lo, s, e if e < s + 6 else s + 6)
        if part == "after":
            lo = e
        return hi > lo and search(chk, f.text, lo, hi)
    return bounded


_WINDOWED = frozenset(
    ["before", "after", "around", "clause", "clause_before", "clause_after", "sentence", "sentence_before", "sentence_after"]
)


def _years_ok(m, min_years_ago: int, year: int) -> bool:
    try:
        y = m.group("year")
    except IndexError:
        return False
    return y is not None and y.isdigit() and len(y) == 4 and year - int(y) >= min_years_ago


def _compare_ok(m, tree: tuple) -> bool:
    """A selection's `compare` over the amounts its groups captured. A group that took no part in
    the match, or whose text is no amount, has no value: the comparisons reading it are false."""
    values = {}
    for name in compare_groups(tree):
        try:
            v = price_value(m.group(name))
        except IndexError:
            continue
        if v is not None:
            values[name] = v
    return compare_holds(tree, values)


def _ratio_ok(m, min_ratio: float) -> bool:
    try:
        ref = price_value(m.group("ref"))
        now = price_value(m.group("now"))
    except IndexError:
        return False
    return ref is not None and now is not None and now > 0 and ref / now >= min_ratio


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}


def price_value(text: str | None) -> float | None:
    """A price as a number: digits with an optional decimal part and thousands separators
    (2,999 / 1,299.50), or Chinese numerals as spoken (六百九十九, 一千二, 两万三, 九块九); None
    when the text is neither."""
    if not text:
        return None
    t = text.strip().replace(",", "").replace("，", "")
    try:
        return float(t)
    except ValueError:
        pass
    if t[-1:] in ("万", "千") and len(t) > 1:  # 1.5万, 2千
        try:
            return float(t[:-1]) * (10000 if t[-1] == "万" else 1000)
        except ValueError:
            pass
    if "块" in t:  # 九块九 = 9.9, 十二块 = 12
        whole, _, cents = t.partition("块")
        w = price_value(whole)
        if w is None or (cents and (len(cents) != 1 or cents not in _ZH_DIGITS)):
            return None
        return w + (_ZH_DIGITS[cents] / 10 if cents else 0)
    total = section = 0
    digit = None
    last_unit = 1
    for ch in t:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            unit = _ZH_UNITS[ch]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit, last_unit = 0, None, 10000
        else:
            return None
    if digit is not None:  # 一千二 = 1200: a trailing digit counts in the unit below the last one
        section += digit * (last_unit // 10 if last_unit >= 100 and len(t) > 1 and t[-2] in "百千万" else 1)
    return float(total + section)


def _followed(text: str, e: int, options: list[str]) -> bool:
    return any(text.startswith(x, e) for x in options)


def _preceded(text: str, s: int, options: list[str]) -> bool:
    return any(s >= len(x) and text.startswith(x, s - len(x)) for x in options)


# ---------------------------------------------------------------------- loading
def load_engine(packs: Iterable[str] | None = None) -> Engine:
    """Load packs (all under rules/packs/ by default, base packs first) into one engine.

    A successfully loaded set of packs is cached (see ``_PackCache``): the next load of byte-identical
    pack files and engine code skips YAML parsing, schema validation and regex compilation."""
    # loading allocates ~10^5 objects and frees almost none: the cyclic collector's passes over
    # them cost a quarter of a cached load, so it waits until the engine is built
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_engine(packs)
    finally:
        if was_enabled:
            gc.enable()


def _load_engine(packs: Iterable[str] | None) -> Engine:
    folders = [str(p) for p in packs] if packs else None
    cache = _PackCache.open(folders)
    cached = cache.load() if cache is not None else None
    if cached is not None:
        try:
            for steps, state in cached.get("normalize", {}).items():
                preset_tables(steps, state)
            import marshal

            for src, blob in cached.get("conditions", {}).items():
                _CONDITION_CODE.setdefault(src, marshal.loads(blob))
            return Engine(cached["packs"], folders, scanner_db=cached.get("scanner_db"),
                          derived=cached.get("derived"))
        except Exception:  # pragma: no cover - an unusable cache entry: load from the files
            pass
    from rules.loader import load_packs

    loaded = load_packs(folders)
    engine = Engine(loaded, folders)
    if cache is not None:
        engine.derive_all()  # the cache keeps every derived fact: a cached load computes none
        cache.store(loaded, engine)
    return engine


class _PackCache:
    """Pickled packs (with their compiled regexes) and the Hyperscan database, keyed by a hash of
    the path, size, mtime, ctime and inode of every pack file and of the engine's own sources and
    schemas, and the library versions.

    Where: ``$FANGXIN_RULES_CACHE`` (a folder; ``off`` disables it), else
    ``$XDG_CACHE_HOME/fangxin/rules`` or ``~/.cache/fangxin/rules``. The folder is created private
    (0700) and an entry is only read when it belongs to this user and nobody else may write it;
    a malformed pack never reaches the cache (loading raises before anything is stored).
    """

    VERSION = 3  # 2: derived pattern facts; 3: regexes pickled compiled (rules.lazyregex)
    KEEP = 8  # most recent entries kept; older ones are removed when a new one is written

    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, f"packs-{key}.pickle")

    @classmethod
    def open(cls, folders: list[str] | None) -> _PackCache | None:
        env = os.environ.get("FANGXIN_RULES_CACHE")
        if env is not None and env.strip().lower() in ("", "0", "off", "no", "false", "none"):
            return None
        if env:
            folder = env
        else:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            folder = os.path.join(base, "fangxin", "rules")
        try:
            return cls(folder, cls._key(folders))
        except OSError:
            return None

    @classmethod
    def _key(cls, folders: list[str] | None) -> str:
        import hashlib
        import sys

        import regex

        h = hashlib.sha256()
        try:
            import hyperscan

            hs_version = getattr(hyperscan, "__version__", "?")
        except ImportError:
            hs_version = "-"
        import importlib.util

        spec = importlib.util.find_spec("opencc")  # the t2s table comes from OpenCC's dictionaries
        if spec is not None and spec.origin and os.path.exists(spec.origin):
            st = os.stat(os.path.dirname(spec.origin))
            hs_version += f"|opencc {st.st_mtime_ns}"
        h.update(f"{cls.VERSION}|{sys.version}|{regex.__version__}|{hs_version}|"
                 f"{os.environ.get('FANGXIN_RULES_SCANNER', '')}".encode())
        here = os.path.dirname(os.path.abspath(__file__))
        files = [os.path.join(here, n) for n in sorted(os.listdir(here)) if n.endswith(".py")]
        schema = os.path.join(here, "schema")
        if os.path.isdir(schema):
            files += [os.path.join(schema, n) for n in sorted(os.listdir(schema))]
        if folders is None:
            packs_dir = os.path.join(here, "packs")
            folders = sorted(
                os.path.join(packs_dir, d) for d in os.listdir(packs_dir)
                if os.path.isfile(os.path.join(packs_dir, d, "pack.yaml"))
            ) if os.path.isdir(packs_dir) else []
            h.update(b"default")
        for folder in folders:
            folder = os.path.realpath(folder)
            h.update(b"\0pack\0" + folder.encode())
            for root, dirs, names in os.walk(folder):
                dirs.sort()
                files += [os.path.join(root, n) for n in sorted(names)]
        for path in files:  # path, size and modification time (what EngineHolder watches too)
            try:
                st = os.stat(path)
            except OSError:
                continue
            # ctime and inode too: a copy that keeps the old mtime (cp -p, rsync -t) still changes them
            h.update(f"\0{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}".encode())
        return h.hexdigest()[:32]

    def load(self) -> dict | None:
        import pickle

        try:
            st = os.stat(self.path)
        except OSError:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            return None
        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)  # noqa: S301 - private folder, owner-only entries (see class doc)
        except Exception:
            return None
        return data if isinstance(data, dict) and data.get("version") == self.VERSION else None

    def store(self, packs: list[Pack], engine: Engine) -> None:
        import marshal
        import pickle
        import tempfile

        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            data = {"version": self.VERSION, "packs": packs,
                    "scanner_db": engine._hs.dump() if engine._hs is not None else None,
                    "derived": engine._derived,
                    "normalize": {tuple(engine.steps): tables_state(tuple(engine.steps))},
                    "conditions": {src: marshal.dumps(code) for src, code in _CONDITION_CODE.items()}}
            blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(blob)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
            entries = sorted(
                (os.path.join(self.folder, n) for n in os.listdir(self.folder)
                 if n.startswith("packs-") and n.endswith(".pickle")),
                key=lambda p: os.stat(p).st_mtime, reverse=True,
            )
            for old in entries[self.KEEP:]:
                os.unlink(old)
        except Exception:  # the cache is an optimisation: never fail a load because of it
            return


def reload(old: Engine) -> tuple[Engine, PackError | None]:
    """Reload the packs ``old`` came from. On a malformed pack return ``(old, error)``."""
    try:
        return load_engine(old.sources), None
    except PackError as exc:
        return old, exc


class EngineHolder:
    """Holds the current engine for a long-running process and keeps the last good one.

    ``holder.engine`` is always a working engine; ``holder.reload()`` swaps in a freshly loaded
    one, or keeps the current one and returns the PackError; ``holder.reload_if_changed()`` does so
    only when a pack file's modification time changed. The holder also answers like the engine
    (``holder.check``, ``holder.check_text``, ``holder.packs``, ``holder.rule(id)`` …).
    """

    def __init__(self, packs: Iterable[str] | None = None) -> None:
        self.sources = [str(p) for p in packs] if packs else None
        self._lock = threading.Lock()
        self.engine = load_engine(self.sources)
        self.last_error: PackError | None = None
        self._stamp = self._fingerprint()

    def _fingerprint(self) -> tuple:
        from rules.loader import discover

        stamps = []
        for folder in self.sources or discover():
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    p = os.path.join(root, name)
                    try:
                        stamps.append((p, os.stat(p).st_mtime_ns))
                    except OSError:
                        pass
        return tuple(sorted(stamps))

    def reload(self) -> PackError | None:
        with self._lock:
            try:
                engine = load_engine(self.sources)
            except PackError as exc:
                self.last_error = exc
                return exc
            self.engine = engine
            self.last_error = None
            self._stamp = self._fingerprint()
            return None

    def reload_if_changed(self) -> PackError | None:
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return None
        err = self.reload()
        if err is not None:
            self._stamp = stamp  # do not retry the same broken files on every call
        return err

    def check(self, doc: Mapping[str, object], **kw) -> Hits:
        return self.engine.check(doc, **kw)

    def check_text(self, text: str, field: str = "body", **kw) -> Hits:
        return self.engine.check_text(text, field=field, **kw)

    def __getattr__(self, name: str):
        # everything else (packs, rules, rule(), literal_terms() …) from the current engine
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)
