"""Text normalisation with an offset map back to the original characters.

Steps (each can be switched off per pack in ``pack.yaml`` ``normalize:``):

* ``fullwidth``  - full-width ASCII letters, digits and symbols to half-width, U+3000 to space;
* ``nfkc``       - NFKC for the compatibility characters evaders use (circled digits ①, Kangxi
                   radicals, compatibility ideographs, ideograph emoji); ``①`` becomes ``1``,
                   ``🈚`` becomes ``无``;
* ``zero_width`` - zero-width and soft-hyphen characters removed;
* ``t2s``        - traditional to simplified Chinese, character by character, from OpenCC's t2s table,
                   then a few regional words to the mainland word (私訊 → 私信, 轉帳 → 转账);
* ``variants``   - the variant and look-alike characters evaders write for a banned word's
                   character (``蕞佳`` ``冣好`` for 最, ``笫一`` for 第一);
* ``lowercase``  - ASCII letters lower-cased (``NO.1`` and ``no.1`` match alike);
* ``pinyin``     - the pinyin evaders write for one character of a banned word, right before the
                   rest of it (``zui佳`` ``b a o 本`` ``jue对``): a short table of syllables, each
                   with the characters that may follow it;
* ``joiners``    - evasion joiners between two Han characters removed: ``最 佳``, ``最*好``, ``最·佳``;
                   one or two decorative symbols right between two Han characters (``最❤️佳``,
                   ``国家★级``, ``保🔥本``; not when spaced out like a bullet, and not pictographs
                   that are content such as 🚬, check and cross marks, arrows); brackets around
                   one Han character (``最(佳)``, ``最【佳】``); digits spaced one by one
                   (``¥ 2 9 8 0``) are joined.

Fast path: a text containing none of the affected characters is returned as is with an
identity map (``None``). When every change is one character for one character the map is still
the identity; only deletions and expansions build an explicit list of original indices.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

ALL_STEPS = ("fullwidth", "nfkc", "zero_width", "t2s", "variants", "lowercase", "pinyin", "joiners")

ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
# characters that may sit between two Han characters to break a keyword (after full-width mapping);
# not `=`, which says something (某牌吸尘器＝噪音制造机)
JOINER_CHARS = " \t*·・.-_~#|/\\+^`@•°"
# decorative symbols and emoji that evaders put between the characters of a banned word
# (最❤️佳, 国家★级, 保🔥本): hearts, stars, sparkles, flowers, geometric shapes, notes, fire, 100,
# the faces block. Pictographs of things (🚬 for tobacco) are content, not decoration.
DECORATIVE = (
    "❤♥♡❣💕💖💗💓💞💘💝💜💙💚💛🧡🖤🤍🤎★☆⭐🌟✨✰✩✪✫✬✭✮✯✦✧❀✿❁❃❋🌸🌹🌺🌼🌷🍀"
    "◆◇■□●○▲△▼▽♦♢◎◉◈♪♫♬🎵🎶🔥💯🎉🎊👍👏🙏💥💫⚡"
    + "".join(chr(cp) for cp in range(0x1F600, 0x1F650))  # faces 😀…🙏
)
# what may ride on a decorative symbol without counting: variation selectors, skin tones
SYMBOL_MODIFIERS = "".join(chr(cp) for cp in (*range(0xFE00, 0xFE10), *range(0x1F3FB, 0x1F400)))
# brackets evaders put around one character of a banned word (最(佳), 最【佳】)
_BRACKETED = re.compile("[(（【「〔\\[]([\u3400-\u4dbf\u4e00-\u9fff])[)）】」〕\\]]")
# look-alike and variant characters written for a banned word's character
VARIANTS = {"蕞": "最", "冣": "最", "㝡": "最", "笫": "第", "満": "满", "営": "营"}  # 満 営: Japanese forms (🈵 🈺)
# regional words that character-by-character t2s leaves in their Taiwan/Hong Kong form, mapped to
# the mainland word the rules are written with (same length: the index map is unchanged); applied
# only where a traditional character was converted
PHRASES = {"私讯": "私信", "转帐": "转账", "帐户": "账户", "帐号": "账号", "网路": "网络"}
_PHRASE_CHARS = frozenset("".join(PHRASES))
# pinyin written for the first character of a banned word: syllable -> (character, what may follow)
PINYIN = {
    "zui": ("最", None),  # zui佳, zui低价: before any Han character
    "bao": ("保", "本息过证值赚治险底"),  # bao本, bao过
    "jue": ("绝", "对"),  # jue对有效
    "guo": ("国", "家"),  # guo家级
    "di": ("第", "一1"),  # di一
    "zhi": ("治", "愈疗好"),  # zhi愈
    "te": ("特", "效"),  # te效药
}
# lower-case letters (the lowercase step runs first), optionally spaced one by one (b a o 本), and
# the character after them; one factored alternation with no look-behind keeps the scan at a few
# microseconds a page (the look-behind and the per-syllable follow sets are checked in Python)
_PINYIN_RUN = re.compile("(?:" + "|".join(" ?".join(syl) for syl in PINYIN) + ") ?[\u3400-\u4dbf\u4e00-\u9fff1]")
# digits spaced one by one (¥ 2 9 8 0); the gate (a digit between two spaces) is a literal-prefix
# search, a few times faster than the run pattern over a page that has none
_SPACED_DIGIT_GATE = re.compile(" [0-9] ")
_SPACED_DIGITS = re.compile("[0-9](?: [0-9]){2,}")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Single-character traditional→simplified map derived from OpenCC's t2s conversion."""
    import opencc

    chars = [chr(c) for c in range(0x4E00, 0xA000)] + [chr(c) for c in range(0x3400, 0x4DC0)]
    # newline-separated so that OpenCC's phrase dictionary never joins two neighbours
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    table: dict[int, str] = {}
    if len(converted) != len(chars):  # pragma: no cover - defensive
        return table
    for src, dst in zip(chars, converted, strict=True):
        if dst != src and len(dst) == 1:
            table[ord(src)] = dst
    return table


def _nfkc_candidates() -> Iterable[int]:
    yield from range(0x2460, 0x24FF + 1)  # enclosed alphanumerics ① ⑴ ⒈ Ⓐ
    yield from range(0x2776, 0x2793 + 1)  # dingbat circled digits (no NFKC form; mapped by hand below)
    yield from range(0x2F00, 0x2FD5 + 1)  # Kangxi radicals
    yield from range(0x2E80, 0x2EF3 + 1)  # CJK radicals supplement
    yield from range(0x3220, 0x3247 + 1)  # parenthesised ideographs ㈠
    yield from range(0x3280, 0x32B0 + 1)  # circled ideographs ㊀
    yield from range(0xF900, 0xFAFF + 1)  # compatibility ideographs
    yield from range(0x2160, 0x2188 + 1)  # roman numerals
    yield from range(0x00B2, 0x00B9 + 1)  # superscripts
    yield from range(0x2070, 0x209F + 1)
    yield from range(0xFE50, 0xFE6B + 1)  # small form variants
    # squared and circled ideograph emoji that stand for their character (🈚 无, 🈶 有, 🉑 可, 🈲 禁):
    # 🈚副作用 is 无副作用 written past a keyword filter
    yield from range(0x1F210, 0x1F23B + 1)
    yield from range(0x1F250, 0x1F251 + 1)


_PRESET: dict[tuple[str, ...], tuple] = {}


def build_tables(steps: tuple[str, ...]) -> tuple[dict[int, str], dict[int, str], re.Pattern | None]:
    """Return (one-to-one map, special map for deletions/expansions, detector regex)."""
    got = _PRESET.get(steps)
    return got if got is not None else _build_tables(steps)


def tables_state(steps: tuple[str, ...]) -> tuple:
    """The tables of ``steps`` as plain data (for the engine's pack cache)."""
    one, special, detector = build_tables(steps)
    return one, special, detector.pattern if detector is not None else None


def preset_tables(steps: tuple[str, ...], state: tuple) -> None:
    """Install tables saved by ``tables_state`` (skips building the OpenCC map at start-up)."""
    one, special, pattern = state
    _PRESET[steps] = (one, special, re.compile(pattern) if pattern is not None else None)


@lru_cache(maxsize=16)
def _build_tables(steps: tuple[str, ...]) -> tuple[dict[int, str], dict[int, str], re.Pattern | None]:
    one: dict[int, str] = {}
    special: dict[int, str] = {}
    if "t2s" in steps:
        one.update(_t2s_table())
    if "variants" in steps:
        one.update({ord(k): v for k, v in VARIANTS.items()})
    if "nfkc" in steps:
        for cp in _nfkc_candidates():
            ch = chr(cp)
            if 0x2776 <= cp <= 0x2793:  # ❶..❿ ➀..➉ ➊..➓
                out = str((cp - 0x2776) % 10 + 1)
            else:
                out = unicodedata.normalize("NFKC", ch)
            if out == ch or not out:
                continue
            if "t2s" in steps and len(out) == 1 and ord(out) in one:
                out = one[ord(out)]
            if len(out) == 1:
                one[cp] = out
            else:
                special[cp] = out
    if "fullwidth" in steps:
        for cp in range(0xFF01, 0xFF5F):
            ch = chr(cp)
            # keep the CJK punctuation that Chinese text is written with: rules match it as is
            if ch in "，（）：；！？＂＇":
                continue
            one[cp] = chr(cp - 0xFEE0)
        one[0x3000] = " "
        one[0xFFE5] = "¥"
    if "lowercase" in steps:
        for cp in range(ord("A"), ord("Z") + 1):
            one[cp] = chr(cp + 32)
        # full-width capitals go straight to lower case
        for cp in range(0xFF21, 0xFF3B):
            if cp in one:
                one[cp] = one[cp].lower()
    if "zero_width" in steps:
        for ch in ZERO_WIDTH:
            one.pop(ord(ch), None)
            special[ord(ch)] = ""
    chars = set(one) | set(special)
    if "joiners" in steps:
        # full-width joiners are handled after the one-to-one map, so detect them as well
        # (the whole pictograph plane, not each decorative emoji: a class of scattered characters
        # above U+FFFF makes the detector several times slower)
        chars |= {ord(c) for c in _JOINER_TRIGGERS if ord(c) <= 0xFFFF} | set(range(0x1F300, 0x1FB00))
        chars |= {cp for cp, v in one.items() if v in _JOINER_SET}
    if not chars:
        return one, special, None
    detector = re.compile("[" + "".join(_class_ranges(sorted(chars))) + "]")
    return one, special, detector


def _class_ranges(cps: list[int]) -> list[str]:
    out: list[str] = []
    start = prev = cps[0]
    for cp in cps[1:] + [-2]:
        if cp == prev + 1:
            prev = cp
            continue
        out.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        start = prev = cp
    return out




class Normalized:
    """Normalised text plus the map from normalised index to original index."""

    __slots__ = ("text", "original", "_map")

    def __init__(self, text: str, original: str, index_map: list[int] | None) -> None:
        self.text = text
        self.original = original
        self._map = index_map

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for a normalised [start, end)."""
        m = self._map
        if m is None:
            return start, end
        if end <= start:
            o = m[start] if start < len(m) else len(self.original)
            return o, o
        return m[start], m[end - 1] + 1


def normalize(text: str, steps: tuple[str, ...] = ALL_STEPS) -> Normalized:
    """Normalise ``text``; see the module docstring for the steps."""
    one, special, detector = build_tables(steps)
    pinyin = "pinyin" in steps
    found = set(detector.findall(text)) if detector is not None else set()
    if not found:
        # nothing to map: the text is its own lower case, so pinyin is searched on it directly
        if pinyin and _PINYIN_RUN.search(text):
            return _cut(text, text, None, steps)
        return Normalized(text, text, None)
    if special and any(ord(ch) in special for ch in found):
        return _slow(text, one, special, steps)
    changes = {ch: one[ord(ch)] for ch in found if ord(ch) in one}
    mapped = text
    if changes:
        if len(changes) <= 12:
            # few distinct characters to map: str.replace per character beats translate,
            # which walks every character through a dict
            for ch, rep in changes.items():
                mapped = mapped.replace(ch, rep)
        else:
            mapped = text.translate(one)
        if "t2s" in steps and any(v in _PHRASE_CHARS for v in changes.values()):
            mapped = _phrases(mapped)
    joiners = "joiners" in steps
    plain = joiners and (bool(found & _JOINER_SET) or any(v in _JOINER_SET for v in changes.values()))
    symbols = joiners and any(ch in _DECORATIVE_SET or ch > "\uffff" for ch in found)
    brackets = joiners and bool(found & _BRACKETS)
    if not (plain or symbols or brackets) and not (pinyin and _PINYIN_RUN.search(mapped)):
        return Normalized(mapped, text, None)
    return _cut(mapped, text, None, steps, plain, symbols, brackets)


def _cut(mapped: str, text: str, index: list[int] | None, steps: tuple[str, ...],
         plain: bool = True, symbols: bool = True, brackets: bool = True) -> Normalized:
    """Apply the pinyin and joiner steps to ``mapped`` (the one-for-one mapped text; ``index`` maps
    it to ``text``, None for the identity): pinyin syllables become their character in place,
    and the rest of each syllable and the joiner runs are cut."""
    cuts: list[tuple[int, int]] = []
    if "pinyin" in steps:
        mapped, cuts = _pinyin_edits(mapped)
    if "joiners" in steps:
        more = _joiner_runs(mapped, plain, symbols, brackets)
        if more:
            cuts = _merge(cuts + more) if cuts else more
    if not cuts:
        return Normalized(mapped, text, index)
    out: list[str] = []
    out_index: list[int] = []
    pos = 0
    for a, b in cuts:
        out.append(mapped[pos:a])
        out_index.extend(range(pos, a) if index is None else index[pos:a])
        pos = b
    out.append(mapped[pos:])
    out_index.extend(range(pos, len(mapped)) if index is None else index[pos:])
    return Normalized("".join(out), text, out_index)


def _phrases(text: str) -> str:
    for src, dst in PHRASES.items():
        if src in text:
            text = text.replace(src, dst)
    return text


def _pinyin_edits(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with each pinyin syllable's first letter replaced by its character (same length),
    and the spans to cut: the syllable's other letters and spaces."""
    cuts: list[tuple[int, int]] = []
    chars: list[str] | None = None
    for m in _PINYIN_RUN.finditer(text):
        a, b = m.span()
        if a and "a" <= text[a - 1] <= "z":  # the end of a longer Latin word
            continue
        ch, follow = PINYIN[text[a:b - 1].replace(" ", "")]
        if follow is not None and text[b - 1] not in follow:
            continue
        if chars is None:
            chars = list(text)
        chars[a] = ch
        cuts.append((a + 1, b - 1))
    return ("".join(chars) if chars is not None else text), cuts


def _merge(cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans (a bracket may also close a joiner run)."""
    cuts.sort()
    merged = [cuts[0]]
    for a, b in cuts[1:]:
        if a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        elif b > a:
            merged.append((a, b))
    return merged


_JOINER_RUN = re.compile("[" + re.escape(JOINER_CHARS) + "]+")
_JOINER_SET = frozenset(JOINER_CHARS)
_DECORATIVE_SET = frozenset(DECORATIVE + SYMBOL_MODIFIERS)
# candidate runs: the decorative characters of the BMP and the whole pictograph plane (ranges keep
# the regex fast); each run is then checked character by character against the decorative set
_SYMBOL_RUN = re.compile("[" + "".join(_class_ranges(sorted({ord(c) for c in _DECORATIVE_SET if ord(c) <= 0xFFFF})))
                         + "\U0001F300-\U0001FAFF]+")
_BRACKETS = frozenset("(（【「〔[")
_JOINER_TRIGGERS = _JOINER_SET | frozenset(DECORATIVE) | _BRACKETS  # what may start a cut


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def _symbols_in(run: str) -> int:
    return sum(1 for c in run if c not in SYMBOL_MODIFIERS)


def _joiner_runs(text: str, plain: bool = True, symbols: bool = True, brackets: bool = True) -> list[tuple[int, int]]:
    """Spans to delete, in order: runs of joiner characters between a Han character and a Han
    character or digit, one or two decorative symbols between two Han characters, and the two
    brackets around one Han character after a Han character. The flags skip the kinds the text
    has no character of."""
    cuts = []
    n = len(text)
    for m in _JOINER_RUN.finditer(text) if plain else ():
        a, b = m.span()
        if a and b < n and _is_han(text[a - 1]) and (_is_han(text[b]) or text[b].isdigit()):
            cuts.append((a, b))
    for m in _SYMBOL_RUN.finditer(text) if symbols else ():
        a, b = m.span()
        if a and b < n and _is_han(text[a - 1]) and _is_han(text[b]) and _symbols_in(m.group()) <= 2 \
                and all(c in _DECORATIVE_SET for c in m.group()):
            cuts.append((a, b))
    bracketed = [(m.start(), m.start() + 1) for m in (_BRACKETED.finditer(text) if brackets else ())
                 if m.start() and _is_han(text[m.start() - 1])]
    cuts += bracketed + [(a + 2, a + 3) for a, _b in bracketed]
    if plain and _SPACED_DIGIT_GATE.search(text):
        for m in _SPACED_DIGITS.finditer(text):
            a, b = m.span()
            if (a and text[a - 1] in "0123456789.") or (b < n and text[b] in "0123456789."):
                continue  # part of a longer number (1 2 3.5, 12 3 4)
            cuts += [(i, i + 1) for i in range(a + 1, b, 2)]
    return _merge(cuts) if len(cuts) > 1 else cuts


def _slow(text: str, one: dict[int, str], special: dict[int, str], steps: tuple[str, ...]) -> Normalized:
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        if cp in special:
            out = special[cp]
        else:
            out = one.get(cp, ch)
        for c in out:
            chars.append(c)
            index.append(i)
    mapped = "".join(chars)
    if "t2s" in steps and any(one.get(ord(c)) in _PHRASE_CHARS for c in set(text)):
        mapped = _phrases(mapped)
    return _cut(mapped, text, index, steps)
