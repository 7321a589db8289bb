"""Required literals ("cues") of selections and conditions, for the exception guard.

Every candidate that reaches the end of a rule's condition is checked against the pack-wide
exceptions (law quoted, warning, question, listed examples, allowed names …), and for almost every
candidate all of them are false because none of their cue words is anywhere near. The engine
therefore asks one question first: does any cue literal of those exceptions occur within reach of
the candidate? If not, they are all false without evaluating them one by one.

``ast_literals`` returns a list of strings such that the condition can only be true when one of
them occurs in its window, or None when no such list can be proved (then the exception is always
evaluated). Soundness matters more than selectivity: a literal is only taken where the pattern
cannot match without it.
"""

from __future__ import annotations

import functools
import re

try:  # the standard library's regular-expression parser (Python >= 3.11)
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover - other Pythons: no guard for regexes
    _c = _p = None


def _caseless(ch: str) -> bool:
    """A character that only matches itself under IGNORECASE (the packs' regex flag)."""
    return ch.lower() == ch and ch.upper() == ch and ch.casefold() == ch


def _score(alts: list[str]) -> tuple[int, int]:
    return min(len(a) for a in alts), -len(alts)


def _required(items) -> list[str] | None:
    """The most selective literal set the sequence requires (longest shortest literal first)."""
    return _best(_all_sets(items, _best))


def _best(sets: list[list[str]]) -> list[str] | None:
    return max(sets, key=_score) if sets else None


_G_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\\G")
_PROPERTY = re.compile(r"(?<!\\)((?:\\\\)*)\\([pP])\{[^}]*\}")


@functools.lru_cache(maxsize=4096)
def parse(source: str):
    """The standard parser's tree of a pack regex, or None. Two pieces of `regex`-module syntax
    are rewritten first: \\G (an anchor: removing it only widens the matches) and \\p{…} /
    \\P{…} (a character property: read as the class \\w / \\W — one character either way)."""
    if _p is None:
        return None
    source = _G_ANCHOR.sub(r"\1", source)
    source = _PROPERTY.sub(lambda m: m.group(1) + ("\\w" if m.group(2) == "p" else "\\W"), source)
    try:
        parsed = _p.parse(source)
    except Exception:  # other syntax `re` does not know
        return None
    if parsed.state.flags & _c.SRE_FLAG_VERBOSE:  # pragma: no cover - not used by the packs
        return None
    return tuple(parsed)  # cached and shared: callers only read it


def regex_literals(source: str) -> list[str] | None:
    """Literals one of which every match of ``source`` contains, or None (not provable)."""
    parsed = parse(source)
    return None if parsed is None else _required(parsed)


def selection_literals(sel) -> list[str] | None:
    """A selection's literal terms plus its regex's required literals; None when it can match
    without any literal we can name."""
    out: list[str] = list(sel.terms)
    if sel.regex is not None:
        got = regex_literals(sel.regex_source or sel.regex.pattern)
        if got is None:
            return None
        out.extend(got)
    return sorted(set(out)) or None


def ast_literals(node, literals_of) -> list[str] | None:
    """Cue literals of a condition AST: ``literals_of(name)`` gives a selection's. An `and` needs
    only one conjunct's cues (the rarer kind preferred), an `or` needs every branch's, a `not`
    proves nothing."""
    kind = node[0]
    if kind == "sel":
        return literals_of(node[1])
    if kind == "const":
        return [] if not node[1] else None
    if kind == "or":
        a, b = ast_literals(node[1], literals_of), ast_literals(node[2], literals_of)
        return None if a is None or b is None else sorted(set(a) | set(b))
    if kind == "and":
        got = [x for x in (ast_literals(node[1], literals_of), ast_literals(node[2], literals_of)) if x is not None]
        if not got:
            return None
        return max(got, key=lambda alts: (not _has_single_han(alts), -len(alts)))
    return None


def _has_single_han(alts: list[str]) -> bool:
    return any(len(a) == 1 and "\u3400" <= a <= "\u9fff" for a in alts)


def guardable(alts: list[str] | None) -> bool:
    """Worth guarding: cues that are not single Han characters (一 无 非 occur everywhere)."""
    return alts is not None and not _has_single_han(alts)


def _all_sets(items, choose) -> list[list[str]]:
    """Every literal set the sequence provably requires (each alone is a requirement). For an
    alternation, ``choose`` picks one requirement of each branch; their union is required."""
    sets: list[list[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            sets.append(["".join(run)])
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            ch = chr(av)
            if _caseless(ch):
                run.append(ch)
                continue
            close()
            continue
        close()
        if op is _c.SUBPATTERN:
            sets.extend(_all_sets(av[-1], choose))
        elif op is _c.BRANCH:
            alts: list[str] = []
            for branch in av[1]:
                got = choose(_all_sets(branch, choose))
                if got is None:
                    alts = []
                    break
                alts.extend(got)
            if alts:
                sets.append(sorted(set(alts)))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            lo, _hi, body = av
            if lo >= 1:
                sets.extend(_all_sets(body, choose))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            sets.extend(_all_sets(av, choose))
        elif op is _c.IN and av and all(k is _c.LITERAL and _caseless(chr(v)) for k, v in av):
            sets.append(sorted({chr(v) for _k, v in av}))
    close()
    return sets


def _anchor_like(alts: list[str], anchors: tuple[str, ...]) -> bool:
    return any(a in x or x in a for x in alts for a in anchors)


def _pick(sets: list[list[str]], anchors: tuple[str, ...]) -> list[str] | None:
    """The most useful requirement: one that is not just the anchors again, then the longest."""
    if not sets:
        return None
    return max(sets, key=lambda alts: (not _anchor_like_cached(tuple(alts), anchors), _score(alts)))


@functools.lru_cache(maxsize=65536)
def _anchor_like_cached(alts: tuple[str, ...], anchors: tuple[str, ...]) -> bool:
    return _anchor_like(list(alts), anchors)


def discriminating_literals(source: str, anchors: list[str]) -> list[str] | None:
    """For a trigger regex located by ``anchors``: literals one of which every match contains and
    that are not the anchors themselves (so their absence near an anchor skips the regex), or None."""
    parsed = parse(source)
    if parsed is None:
        return None
    anchors = tuple(anchors)
    got = _pick(_all_sets(parsed, lambda sets: _pick(sets, anchors)), anchors)
    if got is None or _anchor_like(got, tuple(anchors)):
        return None
    return got


def max_width(source: str) -> int | None:
    """The most characters a match of ``source`` can span, or None (unbounded or unreadable)."""
    parsed = parse(source)
    if parsed is None:
        return None
    got = _width(parsed)
    return None if got == float("inf") else int(got)


def _width(items) -> float:
    total = 0.0
    for op, av in items:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY, _c.CATEGORY):
            total += 1
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            _lo, hi, body = av
            if hi == _c.MAXREPEAT:
                return float("inf")
            total += hi * _width(list(body))
        elif op is _c.SUBPATTERN:
            total += _width(list(av[-1]))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            total += _width(list(av))
        elif op is _c.BRANCH:
            total += max(_width(list(b)) for b in av[1])
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        else:  # back-references and anything unknown
            return float("inf")
    return total


def lookaround_width(source: str) -> int | None:
    """The widest look-ahead or look-behind of ``source`` (0 without any), or None (unbounded or
    unreadable): how far past a match's end (or before its start) the pattern may look."""
    parsed = parse(source)
    if parsed is None:
        return None
    got = _look(parsed)
    return None if got == float("inf") else int(got)


def _look(items) -> float:
    widest = 0.0
    for op, av in items:
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            widest = max(widest, _width(av[1]), _look(av[1]))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            widest = max(widest, _look(av[2]))
        elif op is _c.SUBPATTERN:
            widest = max(widest, _look(av[-1]))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            widest = max(widest, _look(av))
        elif op is _c.BRANCH:
            widest = max([widest] + [_look(b) for b in av[1]])
    return widest
