"""What a pack pattern requires and how far it reaches: required literals ("cues") for the
exception guard and the pre-filters, match and look-around widths, and the backtracking bound.

Every candidate that reaches the end of a rule's condition is checked against the pack-wide
exceptions (law quoted, warning, question, listed examples, allowed names …), and for almost every
candidate all of them are false because none of their cue words is anywhere near. The engine
therefore asks one question first: does any cue literal of those exceptions occur within reach of
the candidate? If not, they are all false without evaluating them one by one.

``ast_cues`` returns a list of strings such that the condition can only be true when one of
them occurs within its reach, or None when no such list can be proved (then the exception is
always evaluated). Soundness matters more than selectivity: a literal is only taken where the pattern
cannot match without it.
"""

from __future__ import annotations

import functools
import math
import re
import warnings

try:  # the standard library's regular-expression parser (Python >= 3.11)
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover - other Pythons: no guard for regexes
    _c = _p = None
_SubPattern = getattr(_p, "SubPattern", None)


@functools.lru_cache(maxsize=4096)
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
_GROUP_NAME = re.compile(r"(?<!\\)\(\?P?<(?![=!])([A-Za-z_]\w*)>")


def group_names(source: str) -> set[str]:
    """The names of a pattern's named groups as written ((?P<name>…) or (?<name>…))."""
    return set(_GROUP_NAME.findall(source))


@functools.lru_cache(maxsize=4096)
def parse(source: str):
    """The standard parser's tree of a pack regex, or None. Two pieces of `regex`-module syntax
    are rewritten first: \\G (an anchor: removing it only widens the matches) and \\p{…} /
    \\P{…} (a character property: read as the class \\w / \\W — one character either way)."""
    if _p is None:
        return None
    source = _G_ANCHOR.sub(r"\1", source)
    source = _PROPERTY.sub(lambda m: m.group(1) + ("\\w" if m.group(2) == "p" else "\\W"), source)
    if "(?P=" not in source and "\\g<" not in source:
        # a name used twice ((?P<now>…)|(?P<now>…), allowed by `regex`) stops the standard parser;
        # with no back-reference the names change nothing the analyses read
        source = _GROUP_NAME.sub("(?:", source)
    try:
        with warnings.catch_warnings():  # "possible nested set" and the like: `regex` reads those
            warnings.simplefilter("ignore")
            parsed = _p.parse(source)
    except Exception:  # other syntax `re` does not know
        return None
    if parsed.state.flags & _c.SRE_FLAG_VERBOSE:  # pragma: no cover - not used by the packs
        return None
    return parsed.data  # cached and shared: callers only read it


def _items(node) -> list:
    """The (opcode, argument) list of a parsed (sub)pattern. The walks below read the parser's
    SubPattern through its ``data`` list: indexing a SubPattern goes through a Python method, and
    copying the whole tree into tuples first cost more than the walks themselves."""
    return node.data if type(node) is _SubPattern else node


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


def ast_cues(node, literals_of, reach_of) -> tuple[list[str], int] | None:
    """Cue literals of a condition AST and how far from a span they count: ``literals_of(name)``
    gives a selection's literals and ``reach_of(name)`` its reach. An `and` needs only one
    conjunct's cues (the rarer kind preferred), an `or` needs every branch's, a `not` proves
    nothing and so bounds nothing. Returns (literals one of which must lie within ``reach``
    characters of a span for the condition to hold, reach), or None."""
    kind = node[0]
    if kind == "sel":
        lits = literals_of(node[1])
        reach = reach_of(node[1])
        return None if lits is None or reach is None else (lits, reach)
    if kind == "const":
        return ([], 0) if not node[1] else None
    if kind == "or":
        a, b = ast_cues(node[1], literals_of, reach_of), ast_cues(node[2], literals_of, reach_of)
        return None if a is None or b is None else (sorted(set(a[0]) | set(b[0])), max(a[1], b[1]))
    if kind == "and":
        got = [x for x in (ast_cues(node[1], literals_of, reach_of), ast_cues(node[2], literals_of, reach_of))
               if x is not None]
        if not got:
            return None
        return max(got, key=lambda x: (not _has_single_han(x[0]), -len(x[0]), -x[1]))
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

    for op, av in _items(items):
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


class _AnchorLike:
    """Does every anchor already contain one of a set of literals? Then finding an anchor finds
    the set too, and searching a window for it rejects nothing. A set that some anchor lacks is
    worth searching for: a window found by that anchor may hold none of it. Answered per literal
    (a scan of each anchor) and remembered for the rest of one pattern's analysis."""

    def __init__(self, anchors: tuple[str, ...]) -> None:
        self.anchors = anchors
        self.seen: dict[str, frozenset[int]] = {}

    def __call__(self, alts) -> bool:
        if not self.anchors:
            return False
        seen = self.seen
        covered: set[int] = set()
        for x in alts:
            got = seen.get(x)
            if got is None:  # the anchors (by index) that contain x
                got = seen[x] = frozenset(i for i, a in enumerate(self.anchors) if x in a)
            covered |= got
            if len(covered) == len(self.anchors):
                return True
        return False


def _pick(sets: list[list[str]], anchor_like: _AnchorLike) -> list[str] | None:
    """The most useful requirement: one that is not just the anchors again, then the longest."""
    if not sets:
        return None
    return max(sets, key=lambda alts: (not anchor_like(alts), _score(alts)))


def discriminating_literals(source: str, anchors: list[str]) -> list[str] | None:
    """For a trigger regex located by ``anchors``: literals one of which every match contains and
    that not every anchor contains (so their absence near an anchor skips the regex), or None."""
    parsed = parse(source)
    if parsed is None:
        return None
    anchor_like = _AnchorLike(tuple(anchors))
    got = _pick(_all_sets(parsed, lambda sets: _pick(sets, anchor_like)), anchor_like)
    if got is None or anchor_like(got):
        return None
    return got


def _measure(source: str, walk) -> int | None:
    parsed = parse(source)
    got = float("inf") if parsed is None else walk(parsed)
    return None if got == float("inf") else int(got)


def max_width(source: str) -> int | None:
    """The most characters a match of ``source`` can span, or None (unbounded or unreadable)."""
    return _measure(source, _width)


def _width(items) -> float:
    total = 0.0
    for op, av in _items(items):
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY, _c.CATEGORY):
            total += 1
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            _lo, hi, body = av
            if hi == _c.MAXREPEAT:
                return float("inf")
            total += hi * _width(body)
        elif op is _c.SUBPATTERN:
            total += _width(av[-1])
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            total += _width(av)
        elif op is _c.BRANCH:
            total += max(_width(b) for b in av[1])
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        else:  # back-references and anything unknown
            return float("inf")
    return total


def lookaround_width(source: str) -> int | None:
    """The widest look-ahead or look-behind of ``source`` (0 without any), or None (unbounded or
    unreadable): how far past a match's end (or before its start) the pattern may look."""
    if "(?=" not in source and "(?!" not in source and "(?<" not in source:  # no look-around
        return None if parse(source) is None else 0
    return _measure(source, _look)


def _look(items) -> float:
    widest = 0.0
    for op, av in _items(items):
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


# ---------------------------------------------------------------------- backtracking bound
def _quantifier_factors(src: str) -> list[int] | None:
    """The repetition bounds of a pattern's quantifiers (-1 = unbounded), or None when a quantifier
    applies to a group or the pattern uses a back-reference (no cheap worst-case bound then)."""
    out: list[int] = []
    i, n = 0, len(src)
    prev_group_end = False
    while i < n:
        c = src[i]
        after_group = prev_group_end
        prev_group_end = False
        if c == "\\":
            nxt = src[i + 1] if i + 1 < n else ""
            if nxt.isdigit() and nxt != "0" or nxt in ("g", "k"):
                return None  # back-reference
            if nxt in "pPNx" and i + 2 < n and src[i + 2] == "{":
                j = src.find("}", i + 2)
                i = (j + 1) if j > 0 else n
            else:
                i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and src[j] == "^":
                j += 1
            if j < n and src[j] == "]":
                j += 1
            while j < n and src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            i += 1
            if i < n and src[i] == "?":  # group syntax, not a quantifier
                i += 1
            continue
        if c == ")":
            prev_group_end = True
            i += 1
            continue
        bound = None
        if c in "*+":
            bound, i = -1, i + 1
        elif c == "?":
            bound, i = 1, i + 1
        elif c == "{":
            j = src.find("}", i)
            body = src[i + 1 : j] if j > 0 else ""
            lo, sep, hi = body.partition(",")
            if j > 0 and lo.strip().isdigit() or (sep and hi.strip().isdigit()):
                if not sep:
                    bound = 0  # fixed count: no backtracking choice
                else:
                    bound = int(hi) if hi.strip() else -1
                i = j + 1
            else:
                i += 1
                continue
        else:
            i += 1
            continue
        if i < n and src[i] in "?+":  # lazy or possessive modifier
            i += 1
        if after_group and bound != 1:
            return None  # a repeated group: its inner choices multiply (catastrophic backtracking)
        if bound:
            out.append(bound)
    return out


def _paths(items, w: int) -> float:
    """An upper bound on the backtracking paths of a parsed pattern from one start position in a
    window of ``w`` characters: a sequence multiplies, an alternation adds, a repeat of one
    character has (hi - lo + 1) choices, a repeat of a group raises its paths to the count."""
    c = _c
    total = 1.0
    for op, av in _items(items):
        if op is c.LITERAL:
            continue
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            lo, hi, body = av
            hi = max(lo, min(w, hi))  # MAXREPEAT is larger than any window
            inner = _items(body)
            if len(inner) == 1 and inner[0][0] in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.CATEGORY):
                total *= max(1, hi - lo + 1)
            else:
                sub = _paths(inner, w)
                if sub <= 1:
                    total *= max(1, hi - lo + 1)
                elif sub == float("inf") or (hi + 1) * math.log10(sub) > 15:
                    return float("inf")
                else:  # sub**lo + … + sub**hi
                    total *= sub ** lo * (sub ** (hi - lo + 1) - 1) / (sub - 1)
        elif op is c.BRANCH:
            # branches that begin with different literal characters cannot both match at one
            # position: only the largest such group (plus the branches of any other start) goes on
            by_first: dict[int, float] = {}
            other = 0.0
            for b in av[1]:
                paths = _paths(b, w)
                b = _items(b)
                if b and b[0][0] is c.LITERAL:
                    by_first[b[0][1]] = by_first.get(b[0][1], 0.0) + paths
                else:
                    other += paths
            total *= max(by_first.values(), default=0.0) + other
        elif op is c.SUBPATTERN:
            total *= _paths(av[-1], w)
        elif op is getattr(c, "ATOMIC_GROUP", None):
            total *= _paths(av, w)
        elif op in (c.GROUPREF, c.GROUPREF_EXISTS, c.ASSERT, c.ASSERT_NOT):
            if op in (c.ASSERT, c.ASSERT_NOT):
                total *= _paths(av[1], w)
            else:
                return float("inf")
        if total > 1e12:
            return float("inf")
    return total


def safe_width(src: str, limit: float = 5e5, cap: int = 400) -> int:
    """The widest window in which every backtracking path of the pattern fits in ``limit`` steps
    (width x paths from one start, see _paths); 0 when no such bound can be given. Patterns that
    the standard parser does not read fall back to the product of all repetition bounds."""
    parsed = parse(src)
    if parsed is not None:  # paths grow with the window: most patterns are safe at the cap, else bisect
        if cap * _paths(parsed, cap) <= limit:
            return cap
        lo, hi = 0, cap // 8 - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if 8 * mid * _paths(parsed, 8 * mid) > limit:
                hi = mid - 1
            else:
                lo = mid
        return 8 * lo
    factors = _quantifier_factors(src)
    if factors is None:
        return 0
    best = 0
    for w in range(8, cap + 1, 8):
        steps = float(w)
        for b in factors:
            steps *= (min(b, w) if b > 0 else w) + 1
            if steps > limit:
                break
        if steps > limit:
            break
        best = w
    return best
