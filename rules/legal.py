"""Citation formatting: ``《中华人民共和国广告法》第九条第（三）项；罚则：第五十七条``."""

from __future__ import annotations

_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1..9999 in Chinese numerals as used in statute citations (第十六条, 第一百一十二条)."""
    if n <= 0:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    parts = []
    units = [(1000, "千"), (100, "百"), (10, "十")]
    rest = n
    zero = False
    for value, name in units:
        d, rest = divmod(rest, value)
        if d:
            if zero:
                parts.append("零")
                zero = False
            parts.append(_DIGITS[d] + name)
        elif parts:
            zero = True
    if rest:
        if zero:
            parts.append("零")
        parts.append(_DIGITS[rest])
    return "".join(parts)


def cite(entry: dict, law_name: str) -> str:
    """One legal entry as a display string (without the penalty)."""
    text = f"《{law_name}》第{cn_number(entry['article'])}条"
    if entry.get("paragraph"):
        text += f"第{cn_number(entry['paragraph'])}款"
    if entry.get("item"):
        text += f"第（{cn_number(entry['item'])}）项"
    return text


def law_line(legal: list[dict], names: dict[str, str]) -> str:
    """The one display line for a rule's legal list; the first entry is primary."""
    parts = []
    for entry in legal:
        name = names.get(entry["law"], entry["law"])
        part = cite(entry, name)
        if entry.get("penalty"):
            penalty = f"第{cn_number(entry['penalty'])}条"
            part += f"；罚则：{penalty}"
        parts.append(part)
    return "；".join(parts)
