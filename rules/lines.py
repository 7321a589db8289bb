"""Containers that remember their source lines (built by rules.yamlio).

Kept apart from the YAML parser so that unpickling cached packs does not import it.
"""

from __future__ import annotations


class LineDict(dict):
    """A dict that knows the 1-based line of itself and of each key."""

    line: int = 1
    key_lines: dict


class LineList(list):
    """A list that knows the 1-based line of itself and of each item."""

    line: int = 1
    item_lines: list
