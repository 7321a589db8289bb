"""The page's own style sheets, read for the two things that change what a reader sees as text.

* Text drawn by CSS: ``.x::before { content: "最" }`` puts 最 on the screen although no element
  holds it, a known way to split a banned word so that the HTML never contains it whole
  (``<span class="x"></span>好``). The text of ``content`` (strings with their CSS escapes
  decoded, ``attr(name)``) is inserted before or after the element's own text.
* Elements a rule hides (``.seo { display: none }``, ``visibility: hidden``): their text is not
  shown and is left out, as an inline ``style="display:none"`` already is.

Only the page's ``<style>`` elements are read (a linked style sheet is another resource the
capture does not hold), rules inside ``@media``/``@supports`` blocks are read as if they applied,
other at-rules are skipped, and of several rules for one element the later one in the sheet
wins (specificity and ``!important`` are not weighed). Crawled CSS is hostile input: sheets,
rules and selector lengths are capped, and a selector lxml cannot translate is skipped.
"""

from __future__ import annotations

import re

from cssselect import SelectorError
from lxml.cssselect import CSSSelector

MAX_CSS_CHARS = 200_000  # of all <style> text on a page
MAX_RULES = 500  # rules that draw text or hide elements
MAX_QUERIES = 200  # selectors run against the page (after the class/id check below)
MAX_SELECTOR_CHARS = 300
MAX_CONTENT_CHARS = 200  # text one pseudo-element may draw

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_DECLARATION = re.compile(r"""([\w-]+)\s*:\s*((?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^;"'])*)""")
_PSEUDO = re.compile(r"::?(before|after)\s*$", re.I)
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t\n\r\f]?|\\(.)", re.S)
_CLASS_OR_ID = re.compile(r"([.#])(-?[_a-zA-Z][\w-]*)")
_NEGATED = re.compile(r":not\([^)]*\)|\[[^\]]*\]")  # what a selector excludes or quotes names no class it needs
# icon fonts draw their glyphs from the Private Use Areas: a picture, not text
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
_CONTENT_TOKEN = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|attr\(\s*([\w-]+)\s*\)', re.I)


def _unescape(s: str) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1):
            cp = int(m.group(1), 16)
            return chr(cp) if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else "\ufffd"
        return "" if m.group(2) == "\n" else m.group(2)

    return _ESCAPE.sub(repl, s)


def _declarations(block: str) -> dict[str, str]:
    """A rule's declarations by property name; a ";" inside a quoted string (content: "满减；包邮")
    does not end one."""
    return {m.group(1).lower(): m.group(2).replace("!important", "").strip() for m in _DECLARATION.finditer(block)}


def _rules(css: str):
    """Yield (selector list, declaration block) of the sheet's style rules, at-rule blocks
    (@media, @supports) flattened and other at-rules (@font-face, @keyframes, @import) skipped."""
    css = _COMMENT.sub("", css)
    i, n = 0, len(css)
    while i < n:
        brace = css.find("{", i)
        if brace < 0:
            return
        # what precedes the block: closing braces of an enclosing block and statement at-rules
        # (@import …;) end before the selector
        head = css[i:brace].replace("}", ";").rsplit(";", 1)[-1].strip()
        if head.lower().startswith(("@media", "@supports", "@layer", "@container")):
            i = brace + 1  # read the rules inside as if they applied
            continue
        depth, j = 1, brace + 1  # the block's end, nested braces counted
        while j < n and depth:
            c = css[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        if head and not head.startswith("@"):
            yield head, css[brace + 1:j - 1]
        i = j


def _content_text(value: str, el) -> str | None:
    if value.lower() in ("none", "normal", ""):
        return None
    parts = []
    for m in _CONTENT_TOKEN.finditer(value):
        if m.group(3) is not None:
            parts.append(el.get(m.group(3)) or "")
        else:
            parts.append(_unescape(m.group(1) if m.group(1) is not None else m.group(2)))
    text = _PRIVATE_USE.sub("", "".join(parts))[:MAX_CONTENT_CHARS]
    return text or None


class PageStyle:
    """What the page's style sheets hide and draw, by element. Elements are kept referenced so
    that ``id(el)`` of each stays the id of that element while the object lives."""

    def __init__(self) -> None:
        self.hidden: set[int] = set()
        self.before: dict[int, str] = {}
        self.after: dict[int, str] = {}
        self._keep: list = []

    def __bool__(self) -> bool:
        return bool(self.hidden or self.before or self.after)

    @classmethod
    def of(cls, doc) -> PageStyle:
        style = cls()
        css = "\n".join((s.text or "") for s in doc.iter("style"))[:MAX_CSS_CHARS]
        if not css.strip():
            return style
        classes: set[str] = set()
        ids: set[str] = set()
        for el in doc.iter():
            if isinstance(el.tag, str):
                classes.update((el.get("class") or "").split())
                if el.get("id"):
                    ids.add(el.get("id"))
        taken = queries = 0
        compiled: dict[str, object] = {}
        for selectors, block in _rules(css):
            decls = _declarations(block)
            draws = "content" in decls
            hides = decls.get("display", "").lower() == "none" or decls.get("visibility", "").lower() in ("hidden", "collapse")
            if not (draws or hides):
                continue
            taken += 1
            if taken > MAX_RULES:
                break
            for sel in selectors.split(","):
                sel = sel.strip()
                if not sel or len(sel) > MAX_SELECTOR_CHARS:
                    continue
                pm = _PSEUDO.search(sel)
                base = sel[:pm.start()].strip() if pm else sel
                if pm is None and re.search(r"::?[\w-]+\s*$", sel) and not re.search(r":(?:first|last|nth|only|not|empty|root|checked)", sel):
                    continue  # another pseudo-element or a state (::marker, :hover): draws or hides nothing here
                # a selector naming a class or id the page does not use matches nothing (an icon
                # font's sheet has a rule per icon): skip it without querying the page
                if any((name not in classes) if kind == "." else (name not in ids)
                       for kind, name in _CLASS_OR_ID.findall(_NEGATED.sub("", base))):
                    continue
                query = compiled.get(base)
                if query is None:
                    queries += 1
                    if queries > MAX_QUERIES:
                        return style
                    try:
                        query = compiled[base] = CSSSelector(base or "*", translator="html")
                    except (SelectorError, ValueError, SyntaxError):
                        compiled[base] = False
                        continue
                if query is False:
                    continue
                matched = query(doc)
                for el in matched:
                    if pm is None:
                        if hides:
                            style.hidden.add(id(el))
                            style._keep.append(el)
                        continue
                    where = style.before if pm.group(1).lower() == "before" else style.after
                    if decls.get("display", "").lower() == "none":
                        where.pop(id(el), None)
                        continue
                    if draws:
                        text = _content_text(decls["content"], el)
                        if text is None:
                            where.pop(id(el), None)
                        else:
                            where[id(el)] = text
                            style._keep.append(el)
        return style
