"""`regex` patterns compiled on first use.

A base pack holds several hundred `regex` patterns; compiling them all costs most of a second,
and a process that checks one text or a few pages uses a handful. Loading packs from YAML still
compiles every pattern (a pattern that does not compile is a pack error); the compiled pack cache
stores each pattern as its source and flags, and a cached load compiles a pattern the first time
the engine runs it.
"""

from __future__ import annotations

import regex


class LazyPattern:
    """Stands for ``regex.compile(pattern, flags)``: the matching methods the engine uses, the
    ``pattern`` and ``flags`` attributes, and ``groupindex``."""

    __slots__ = ("pattern", "flags", "_rx")

    def __init__(self, pattern: str, flags: int, compiled=None) -> None:
        self.pattern = pattern
        self.flags = flags
        self._rx = compiled

    def compiled(self):
        rx = self._rx
        if rx is None:
            rx = self._rx = regex.compile(self.pattern, self.flags)
        return rx

    def search(self, *args, **kwargs):
        return (self._rx or self.compiled()).search(*args, **kwargs)

    def match(self, *args, **kwargs):
        return (self._rx or self.compiled()).match(*args, **kwargs)

    def finditer(self, *args, **kwargs):
        return (self._rx or self.compiled()).finditer(*args, **kwargs)

    def findall(self, *args, **kwargs):
        return (self._rx or self.compiled()).findall(*args, **kwargs)

    @property
    def groupindex(self):
        return self.compiled().groupindex

    def __reduce__(self):  # pickled as source and flags: unpickling compiles nothing
        return (LazyPattern, (self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"
