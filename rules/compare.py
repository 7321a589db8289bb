"""Arithmetic comparisons over the amounts a trigger regex captures (a selection's `compare`).

A rule author writes a comparison over named groups, such as ``list - off > now * 1.02`` (the
list price less the coupon is still above the advertised after-coupon price) or
``day * 366 < year`` (a daily price that the annual fee does not average to). The engine keeps a
match only when the comparison holds for the amounts the groups captured.

The expression is parsed by Python's own parser and then checked node by node against a small
whitelist (numbers, group names, ``+ - * /``, unary minus, parentheses, ``< <= > >=`` and
``and``/``or``); it is never passed to ``eval``. The checked tree is stored as nested tuples, so
the pack cache can pickle it.
"""

from __future__ import annotations

import ast
import functools
import operator

_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class CompareError(ValueError):
    """The expression is not a comparison the engine can evaluate; the message says why."""


def compile_compare(source: str, groups: set[str]) -> tuple:
    """Check `source` and return its tree. `groups` are the regex's named groups; every name the
    expression uses must be one of them."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise CompareError(f"is not an expression: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):  # brackets nested beyond the parser, a NUL byte
        raise CompareError("is not an expression the parser can read") from None
    return _test(tree, groups)


@functools.lru_cache(maxsize=1024)
def group_refs(tree: tuple) -> tuple[str, ...]:
    """The group names a compiled comparison reads, each once, in order of appearance."""
    kind = tree[0]
    if kind == "name":
        return (tree[1],)
    if kind == "num":
        return ()
    kids = tree[2] if kind in ("bool", "cmp") else (tree[1],) if kind == "neg" else tree[2:]
    return tuple(dict.fromkeys(n for kid in kids for n in group_refs(kid)))


def unparse(tree: tuple) -> str:
    """The comparison written out again (for `fangxin rules explain`)."""
    kind = tree[0]
    if kind == "bool":
        parts = (f"({unparse(t)})" if t[0] == "bool" and t[1] == "or" and tree[1] == "and" else unparse(t) for t in tree[2])
        return f" {tree[1]} ".join(parts)
    if kind == "cmp":
        out = _expr(tree[2][0], 0)
        for op, node in zip(tree[1], tree[2][1:], strict=True):
            out += f" {op} {_expr(node, 0)}"
        return out
    return _expr(tree, 0)


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _expr(node: tuple, outer: int, right: bool = False) -> str:
    kind = node[0]
    if kind == "num":
        return f"{node[1]:g}"
    if kind == "name":
        return node[1]
    if kind == "neg":
        return "-" + _expr(node[1], 3)
    prec = _PREC[node[1]]
    text = f"{_expr(node[2], prec)} {node[1]} {_expr(node[3], prec, right=True)}"
    return f"({text})" if prec < outer or (right and prec == outer) else text


def holds(tree: tuple, values: dict[str, float]) -> bool:
    """Whether the comparison holds for these amounts. A comparison (one ``a < b < c`` chain) that
    reads a group missing from `values`, or divides by zero, is false; ``or`` lets a rule offer
    alternatives for groups that only some branches of its regex capture."""
    return _truth(tree, values)


def _test(node, groups: set[str]) -> tuple:
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return ("bool", op, tuple(_test(v, groups) for v in node.values))
    if isinstance(node, ast.Compare):
        ops = []
        for op in node.ops:
            sym = _CMP.get(type(op))
            if sym is None:
                raise CompareError("compares with < <= > >= only (amounts are rarely exactly equal)")
            ops.append(sym)
        operands = [_value(node.left, groups)] + [_value(c, groups) for c in node.comparators]
        return ("cmp", tuple(ops), tuple(operands))
    raise CompareError("must be a comparison such as 'ref > now * 1.5', joined with and/or")


def _value(node, groups: set[str]) -> tuple:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return ("num", float(node.value))
    if isinstance(node, ast.Name):
        if node.id not in groups:
            known = ", ".join(sorted(groups)) or "none"
            raise CompareError(
                f"names '{node.id}', which is not a named group of the regex (groups: {known})"
            )
        return ("name", node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return ("arith", _ARITH[type(node.op)], _value(node.left, groups), _value(node.right, groups))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return ("neg", _value(node.operand, groups))
    raise CompareError(
        f"has '{ast.unparse(node)}': only numbers, group names, + - * / and brackets are allowed"
    )


def _truth(tree: tuple, values: dict[str, float]) -> bool:
    if tree[0] == "bool":
        parts = (_truth(t, values) for t in tree[2])
        return all(parts) if tree[1] == "and" else any(parts)
    try:
        return _chain(tree[1], tree[2], values)
    except (KeyError, ZeroDivisionError):
        return False


def _chain(ops: tuple, operands: tuple, values: dict[str, float]) -> bool:
    left = _num(operands[0], values)
    for op, node in zip(ops, operands[1:], strict=True):
        right = _num(node, values)
        if not _OPS[op](left, right):
            return False
        left = right
    return True


def _num(node: tuple, values: dict[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return values[node[1]]
    if kind == "neg":
        return -_num(node[1], values)
    return _OPS[node[1]](_num(node[2], values), _num(node[3], values))
