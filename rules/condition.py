"""The boolean ``condition`` language of a rule.

Grammar (precedence low to high)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | "1 of" GLOB | "all of" GLOB | "triggers" | NAME

``GLOB`` is a selection name with an optional trailing ``*`` (``1 of exc_*``).
The result is a nested tuple: ("sel", name) | ("and", a, b) | ("or", a, b) | ("not", a) | ("const", bool).
"""

from __future__ import annotations

import fnmatch
import re

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(1\s+of|all\s+of|any\s+of)\s+([a-z_][a-z0-9_]*\*?)|([a-z_][a-z0-9_]*))")


class ConditionError(ValueError):
    pass


def parse(source: str, names: list[str], triggers: list[str]):
    tokens: list[tuple[str, str]] = []
    pos = 0
    src = source.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"cannot parse condition near {src[pos:pos + 12]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3):
            quant = "all" if m.group(3).startswith("all") else "any"
            tokens.append((quant, m.group(4)))
        else:
            word = m.group(5)
            tokens.append((word if word in ("and", "or", "not") else "name", word))
        while pos < len(src) and src[pos].isspace():
            pos += 1
    state = {"i": 0}

    def peek():
        return tokens[state["i"]] if state["i"] < len(tokens) else (None, None)

    def take():
        tok = peek()
        state["i"] += 1
        return tok

    def expr():
        node = term()
        while peek()[0] == "or":
            take()
            node = ("or", node, term())
        return node

    def term():
        node = factor()
        while peek()[0] == "and":
            take()
            node = ("and", node, factor())
        return node

    def factor():
        kind, value = take()
        if kind == "not":
            return ("not", factor())
        if kind == "(":
            node = expr()
            if take()[0] != ")":
                raise ConditionError("missing ')'")
            return node
        if kind in ("any", "all"):
            matched = [n for n in names if fnmatch.fnmatchcase(n, value)]
            if not matched:
                if kind == "any" and value.endswith("*"):
                    return ("const", False)
                raise ConditionError(f"no selection matches {value!r}")
            node = ("sel", matched[0])
            for n in matched[1:]:
                node = ("or" if kind == "any" else "and", node, ("sel", n))
            return node
        if kind == "name":
            if value == "triggers":
                node = ("sel", triggers[0])
                for n in triggers[1:]:
                    node = ("or", node, ("sel", n))
                return node
            if value not in names:
                raise ConditionError(f"unknown selection {value!r}")
            return ("sel", value)
        raise ConditionError(f"unexpected {value or 'end of condition'!r}")

    node = expr()
    if state["i"] != len(tokens):
        raise ConditionError(f"unexpected {tokens[state['i']][1]!r}")
    return node


def names_in(node, memo: dict | None = None) -> frozenset[str]:
    """The selection names a condition AST reads. ``memo`` (id(node) -> names) remembers them per
    node while the nodes live: pack-wide exception ASTs are shared by every rule of a pack."""
    if memo is not None:
        got = memo.get(id(node))
        if got is not None:
            return got
    kind = node[0]
    if kind == "sel":
        got = frozenset((node[1],))
    elif kind == "const":
        got = frozenset()
    else:
        got = frozenset().union(*(names_in(child, memo) for child in node[1:]))
    if memo is not None:
        memo[id(node)] = got
    return got
