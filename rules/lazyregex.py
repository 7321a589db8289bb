"""`regex` patterns compiled on first use.

A base pack holds several hundred `regex` patterns; compiling them all costs most of a second,
and a process that checks one text or a few pages uses a handful. Loading packs from YAML still
checks every pattern without compiling it (rules.loader._pattern), and a process compiles a
pattern the first time the engine runs it.

The compiled pack cache stores each pattern compiled: `regex` pickles a pattern as its compiled
program (the arguments of its C constructor), so a cached load restores all of them in a few
hundredths of a second with no parsing, where compiling them costs most of a second. Writing the
cache therefore compiles every pattern once.
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

    def __reduce__(self):  # pickled compiled: unpickling restores the program, parses nothing
        return (LazyPattern, (self.pattern, self.flags, self.compiled()))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"
