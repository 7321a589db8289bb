"""Errors raised while loading packs."""

from __future__ import annotations


class PackError(Exception):
    """A malformed pack. ``str()`` is one line: ``FILE:LINE: FIELD: problem``."""

    def __init__(self, file: str, line: int, field: str, problem: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(f"{file}:{line}: {field}: {problem}")


class DeadlineExceeded(Exception):
    """Internal: the per-document deadline passed while evaluating."""
