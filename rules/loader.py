"""Read and validate packs. Any problem raises PackError; nothing is partially loaded."""

from __future__ import annotations

import functools
import json
import os
import re
from functools import lru_cache

import regex

from rules import condition as cond
from rules.compare import CompareError, compile_compare
from rules.cues import group_names, parse
from rules.errors import PackError
from rules.lazyregex import LazyPattern
from rules.legal import cite, law_line
from rules.model import FIELDS, Pack, Rule, Selection, TestCase
from rules.normalize import ALL_STEPS, normalize
from rules.yamlio import LineDict, LineList, display_path, line_of, load_yaml, yaml_files

HERE = os.path.dirname(os.path.abspath(__file__))
PACKS_DIR = os.path.join(HERE, "packs")
SCHEMA_DIR = os.path.join(HERE, "schema")

DEFAULTS = {
    "scopes": [
        "title", "body", "alt", "meta", "jsonld", "ocr", "chat", "product_cards", "pinned",
        "livestream_title", "transcript",
    ],
    "window": 30,
    "regex_timeout_ms": 50,
    "document_deadline_ms": 1000,
    "excerpt_chars": 30,
}
REGEX_FLAGS = regex.IGNORECASE | regex.VERSION0
_PURE_LITERALS = regex.compile(r"^[^\\.^$*+?{}\[\]()|]+(?:\|[^\\.^$*+?{}\[\]()|]+)*$")
# (?&name) in a pack pattern names a `define:` entry (not preceded by an odd run of backslashes)
_DEFINE_CALL = regex.compile(r"(?<!\\)((?:\\\\)*)\(\?&([A-Za-z_]\w*)\)")


class DefineError(ValueError):
    pass


def expand_defines(source: str, defines: dict[str, str], used: set[str] | None = None) -> str:
    """The pattern with every ``(?&name)`` replaced by ``(?:…)`` around the definition of name,
    itself expanded. The rest of the loader (syntax check, required literals, widths, literal
    branches), lint and the engine see the expanded pattern only, so a definition costs nothing at
    check time. Raises DefineError for a name with no definition or a definition that reaches
    itself. Names met are added to ``used``."""
    if "(?&" not in source:
        return source

    def expand(text: str, stack: tuple[str, ...]) -> str:
        def one(m) -> str:
            name = m.group(2)
            if name not in defines:
                raise DefineError(f"(?&{name}) names no definition (add it under define: in the rule or in pack.yaml)")
            if name in stack:
                raise DefineError(f"definition {name} refers to itself ({' → '.join(stack + (name,))})")
            if used is not None:
                used.add(name)
            return m.group(1) + "(?:" + expand(defines[name], stack + (name,)) + ")"

        return _DEFINE_CALL.sub(one, text)

    return expand(source, ())


@lru_cache(maxsize=4)
def _schema(name: str) -> dict:
    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=4)
def _validator(name: str):
    import jsonschema  # imported on first validation: a cached pack load never needs it

    schema = _schema(name)
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=4)
def _fast_validator(name: str):
    """jsonschema-rs over the same schema (about 50x faster), or None where it is not installed.
    It only answers valid or not: an invalid document goes to `jsonschema` for the message."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a dependency; the slower path gives the same result
        return None
    return jsonschema_rs.validator_for(_schema(name))


def _schema_error(name: str, data, file: str, prefix: str) -> None:
    """Raise PackError (file:line: field: problem) when ``data`` breaks schema ``name``."""
    fast = _fast_validator(name)
    if fast is not None and fast.is_valid(data):
        return
    validator = _validator(name)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if not errors:
        return
    err = errors[0]
    # prefer the most specific error of an anyOf/oneOf
    while err.context:
        err = sorted(err.context, key=lambda e: -len(e.absolute_path))[0]
    path = list(err.absolute_path)
    line = line_of(data, path)
    where = ".".join(str(p) for p in path) or "(top)"
    msg = err.message
    if len(msg) > 160:
        msg = msg[:157] + "..."
    raise PackError(file, line, f"{prefix}{where}" if prefix else where, msg)


# escapes and group syntax whose letters are not text to match
_NON_TEXT = regex.compile(r"\\[dDsSwWbBAZGntrfv]|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\[pP]\{Han\}"
                          r"|\(\?P<\w+>|\(\?P=\w+\)|\\\\")


def _flags(source: str) -> int:
    """The packs match case-insensitively; a pattern without any cased character to match (the
    text is lower-cased by normalisation anyway) runs about an eighth faster without the flag."""
    rest = _NON_TEXT.sub("", source)
    # a character with case makes the two differ; without one they are equal character for character
    return REGEX_FLAGS if rest.lower() != rest.upper() else regex.VERSION0


_PROPERTY_NAME = regex.compile(r"(?<!\\)(?:\\\\)*\\[pP]\{([^}]*)\}")
# braces both modules read alike: escaped, a counted repeat, a \p{Name} property
_PLAIN_BRACES = regex.compile(r"\\\\|\\[{}]|\\[pP]\{[A-Za-z_][\w=:]*\}|\{\d*(?:,\d*)?\}")


def _g_in_class(source: str) -> bool:
    """Is there a \\G inside a character class (``[\\G]``, an error in `regex`)? Outside one,
    `regex` reads \\G anywhere as an anchor."""
    i, n, in_class = 0, len(source), False
    while i < n:
        c = source[i]
        if c == "\\":
            if in_class and source.startswith("G", i + 1):
                return True
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1
            if source.startswith("^", i):
                i += 1
            if source.startswith("]", i):  # a ] right after [ or [^ is a literal
                i += 1
            continue
        i += 1
    return False


@functools.lru_cache(maxsize=4096)
def _pattern(source: str) -> LazyPattern:
    """A pack pattern, checked but not compiled: `regex.compile` costs about half a cold pack
    load, and a process compiles a pattern the first time it runs it (rules.lazyregex).

    The check: the standard library's parser reads the pattern (rules.cues.parse, which the
    engine's pattern analysis needs anyway) and each ``\\p{…}`` names a property the `regex`
    module knows; a pattern that parser cannot read is compiled by `regex` here. Raises
    regex.error. `fangxin rules lint` compiles every pattern with `regex`."""
    flags = _flags(source)
    # the syntax `regex` reads otherwise: \\G inside a character class (an error in `regex`; the
    # parser drops every \\G, and outside a class `regex` reads it anywhere), braces that are not a counted repeat ({e<=1} is a fuzzy constraint in `regex`, text in `re`)
    rest = _PLAIN_BRACES.sub("", source)
    if ("\\G" in source and _g_in_class(source)) or "{" in rest or "}" in rest or parse(source) is None:
        return LazyPattern(source, flags, regex.compile(source, flags))
    for name in _PROPERTY_NAME.findall(source):
        _property(name)
    return LazyPattern(source, flags)


@functools.lru_cache(maxsize=256)
def _property(name: str) -> None:
    regex.compile(rf"\p{{{name}}}")


def _norm_term(term: str, steps: tuple[str, ...]) -> str:
    return normalize(str(term).strip(), steps).text


def _read_list(path: str, steps: tuple[str, ...], file_for_errors: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise PackError(file_for_errors, 0, "lists", f"cannot read list: {exc.strerror}") from None
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(_norm_term(line, steps))
    return out


def parse_within(value: str | None, default: str) -> tuple[str, int]:
    value = value or default
    if ":" in value:
        kind, n = value.split(":", 1)
        return kind, int(n)
    return value, 0


def top_level_branches(source: str) -> list[str] | None:
    """The top-level alternatives of a pattern (split at each `|` outside groups and classes), or
    None when a leading inline flag group such as (?i) applies to every branch."""
    if source.startswith("(?") and len(source) > 2 and source[2].isalpha():
        return None
    out: list[str] = []
    depth = 0
    in_class = False
    start = i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if source.startswith("^]", i + 1):
                i += 2
            elif source.startswith("]", i + 1):
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(source[start:i])
            start = i + 1
        i += 1
    out.append(source[start:])
    return out


def split_literal_branches(source: str, steps: tuple[str, ...]) -> tuple[list[str], str | None]:
    """(literal branches, the pattern of the other branches or None) for a whole-document regex.

    A branch moves to the literal terms only when it matches exactly what the literal matches in
    normalised text: no special character, already in normal form, and no letter whose case the
    pattern's IGNORECASE would fold (unless normalisation lower-cases the text and the branch)."""
    branches = top_level_branches(source)
    if branches is None or len(branches) < 2:
        return [], source
    literal: list[str] = []
    rest: list[str] = []
    for b in branches:
        ok = bool(b) and _PURE_LITERALS.match(b) is not None and _norm_term(b, steps) == b
        if ok:
            ok = all(ch.lower() == ch.upper() or ("lowercase" in steps and ch.isascii() and ch.islower())
                     for ch in b)
        (literal if ok else rest).append(b)
    if not literal:
        return [], source
    return literal, ("|".join(rest) if rest else None)


def _literal_context_re(terms: list[str], nf: list[str], np_: list[str]):
    """An alternation of literal terms with the not_followed_by / not_preceded_by filters.

    Literals cannot backtrack catastrophically, so this compiles with the standard library `re`
    (faster per call than `regex`, no timeout needed) unless a lookbehind of unequal lengths
    requires `regex`."""
    if not terms:
        return None
    alt = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    pat = f"(?:{alt})"
    if nf:
        pat = pat + "(?!" + "|".join(re.escape(x) for x in nf) + ")"
    if np_:
        if len({len(x) for x in np_}) == 1:
            pat = "(?<!" + "|".join(re.escape(x) for x in np_) + ")" + pat
        else:
            pat = "(?<!" + "|".join(regex.escape(x) for x in np_) + ")" + pat
            return _pattern(pat)
    return re.compile(pat)


def build_selection(
    name: str, spec: dict, lists: dict[str, list[str]], steps: tuple[str, ...], default_within: str,
    window: int, file: str, where: str, defines: dict[str, str] | None = None, used: set[str] | None = None,
) -> Selection:
    line = getattr(spec, "line", 0)

    def err(key: str, problem: str):
        kl = spec.key_lines.get(key, line) if isinstance(spec, LineDict) else line
        raise PackError(file, kl, f"{where}.{key}", problem)

    if "fields" in spec:  # whose voice: the candidate's document field, no text matched
        others = sorted(k for k in spec if k not in ("fields", "description"))
        if others:
            err(others[0], "a fields selection stands alone (no terms, list, regex or within)")
        for fname in spec["fields"]:
            if fname not in FIELDS:
                err("fields", f"unknown field {fname!r} (one of {', '.join(FIELDS)})")
        return Selection(name=name, terms=[], regex=None, regex_source=None, anchors=[], window=0,
                         within=("fields", 0), not_followed_by=[], not_preceded_by=[], line=line,
                         fields=frozenset(spec["fields"]))
    terms = [_norm_term(t, steps) for t in spec.get("terms", [])]
    list_names = spec.get("list", [])
    if isinstance(list_names, str):
        list_names = [list_names]
    for ln in list_names:
        if ln not in lists:
            err("list", f"unknown list {ln!r} (declare it under lists: in pack.yaml)")
        terms.extend(lists[ln])
    if any(not t for t in terms):
        err("terms", "empty term after normalisation")
    within = parse_within(spec.get("within"), default_within)
    compiled = None
    source = spec.get("regex")
    if source is not None:
        try:
            source = expand_defines(source, defines or {}, used)
        except DefineError as exc:
            err("regex", str(exc))
    if source is not None and within[0] == "document" and _PURE_LITERALS.match(source):
        # a plain alternation of literals over the whole document goes into the automaton
        terms.extend(_norm_term(t, steps) for t in source.split("|"))
        source = None
    elif source is not None and within[0] == "document":
        # so do its literal branches: the regex keeps only the branches that need it
        # (地铁口|商圈|…|工作在[^，。]{1,8}?生活在 searches the document for the last one alone)
        literal, rest = split_literal_branches(source, steps)
        if literal:
            terms.extend(literal)
            source = rest
    if source is not None:
        try:
            compiled = _pattern(source)
        except regex.error as exc:
            err("regex", f"does not compile: {exc}")
    anchors = [_norm_term(a, steps) for a in spec.get("anchors", [])]
    nf = [_norm_term(x, steps) for x in spec.get("not_followed_by", [])]
    np_ = [_norm_term(x, steps) for x in spec.get("not_preceded_by", [])]
    sel = Selection(
        name=name,
        terms=sorted(set(terms), key=terms.index),
        regex=compiled,
        regex_source=source,
        anchors=anchors,
        window=int(spec.get("window", window)),
        within=within,
        not_followed_by=nf,
        not_preceded_by=np_,
        line=line,
    )
    sel.context_re = _literal_context_re(sel.terms, nf, np_)
    if "min_ratio" in spec:
        # the group names as written ((?P<name>…) or (?<name>…)), read without compiling the pattern
        if compiled is None or not {"ref", "now"} <= group_names(source or ""):
            err("min_ratio", "needs a regex with named groups (?P<ref>…) and (?P<now>…)")
        sel.min_ratio = float(spec["min_ratio"])
    if "compare" in spec:
        names = group_names(source or "")
        if compiled is None or not names:
            err("compare", "needs a regex with named groups (?P<name>…) holding the amounts it compares")
        try:
            sel.compare = compile_compare(str(spec["compare"]), names)
        except CompareError as exc:
            err("compare", f"'{spec['compare']}' {exc}")
    if "min_years_ago" in spec:
        if compiled is None or "year" not in group_names(source or ""):
            err("min_years_ago", "needs a regex with a named group (?P<year>…) holding a four-digit year")
        sel.min_years_ago = int(spec["min_years_ago"])
    return sel


def _tests(items, default_field: str) -> list[TestCase]:
    out = []
    if not items:
        return out
    for i, item in enumerate(items):
        line = items.item_lines[i] if isinstance(items, LineList) else 0
        if isinstance(item, str):
            out.append(TestCase(item, default_field, line))
        else:
            out.append(TestCase(item["text"], item.get("field", default_field), line))
    return out


def load_pack_meta(folder: str) -> tuple[Pack, LineDict, str]:
    path = os.path.join(folder, "pack.yaml")
    file = display_path(path)
    if not os.path.isfile(path):
        raise PackError(display_path(folder), 0, "pack.yaml", "missing pack.yaml")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise PackError(file, 1, "(top)", "pack.yaml must be a mapping")
    _schema_error("pack", data, file, "")
    steps = tuple(data.get("normalize", ALL_STEPS))
    laws: dict[str, str] = {}
    for src in data.get("legal_sources", []):
        laws[src["id"]] = src["name"]
        laws[src["name"]] = src["name"]
    lists: dict[str, list[str]] = {}
    for name, rel in data.get("lists", {}).items():
        lp = os.path.join(folder, rel)
        if not os.path.isfile(lp):
            raise PackError(file, data["lists"].key_lines.get(name, 0), f"lists.{name}", f"no such file {rel}")
        lists[name] = _read_list(lp, steps, display_path(lp))
    defaults = dict(DEFAULTS)
    defaults.update(data.get("defaults", {}))
    pack = Pack(
        id=data["id"],
        version=str(data["version"]),
        title=data["title"],
        jurisdiction=data["jurisdiction"],
        path=folder,
        extends=data.get("extends"),
        normalize=steps,
        laws=laws,
        legal_sources=[dict(x) for x in data.get("legal_sources", [])],
        lists=lists,
        selections={},
        exceptions={},
        defaults=defaults,
        disable=list(data.get("disable", [])),
        define={k: str(v) for k, v in data.get("define", {}).items()},
    )
    return pack, data, file


def finish_pack_shared(pack: Pack, data: LineDict, file: str, base: Pack | None) -> None:
    """Shared selections and exceptions (inherited from the extended pack, then overridden)."""
    if base is not None:
        merged_lists = dict(base.lists)
        for k, v in pack.lists.items():
            merged_lists[k] = merged_lists.get(k, []) + v if k in base.lists else v
        pack.lists = merged_lists
        laws = dict(base.laws)
        laws.update(pack.laws)
        pack.laws = laws
        pack.selections = dict(base.selections)
        pack.exceptions = dict(base.exceptions)
        pack.exception_categories = dict(base.exception_categories)
        pack.normalize = base.normalize
        pack.define = {**base.define, **pack.define}
    for name, source in data.get("define", {}).items():
        try:
            expand_defines(str(source), pack.define)
        except DefineError as exc:
            raise PackError(file, data["define"].key_lines.get(name, 0), f"define.{name}", str(exc)) from None
    sels = data.get("selections", {})
    for name, spec in sels.items():
        pack.selections[name] = build_selection(
            name, spec, pack.lists, pack.normalize, "overlap", pack.defaults["window"], file, f"selections.{name}",
            pack.define,
        )
    names = list(pack.selections)
    for name, spec in data.get("exceptions", {}).items():
        line = data["exceptions"].key_lines.get(name, 0)
        # a condition, or {when: condition, categories: [...]} for an exception only the rules of those
        # categories apply (a court's report quoting a clause exempts standard-term rules, not price rules)
        source, categories = (spec, None) if isinstance(spec, str) else (spec.get("when"), spec.get("categories"))
        try:
            ast = cond.parse(str(source), names, ["_"])
        except cond.ConditionError as exc:
            where = f"exceptions.{name}" + ("" if categories is None else ".when")
            raise PackError(file, line, where, str(exc)) from None
        pack.exceptions[name] = (str(source), ast)
        pack.exception_categories.pop(name, None)
        if categories is not None:  # the schema has checked them against the fixed vocabulary
            pack.exception_categories[name] = frozenset(categories)


def load_rules(pack: Pack, folder: str) -> list[Rule]:
    rules_dir = os.path.join(folder, "rules")
    out: list[Rule] = []
    if not os.path.isdir(rules_dir):
        return out
    for file, data in yaml_files(rules_dir):
        if not isinstance(data, list):
            raise PackError(file, getattr(data, "line", 1), "(top)", "a rules file is a YAML list of rules")
        for i, raw in enumerate(data):
            rline = data.item_lines[i]
            if not isinstance(raw, dict):
                raise PackError(file, rline, f"[{i}]", "a rule must be a mapping")
            label = str(raw.get("id", f"[{i}]"))
            _schema_error("rule", raw, file, f"{label}.")
            out.append(build_rule(pack, raw, file, rline))
    return out


def build_rule(pack: Pack, raw: LineDict, file: str, rline: int) -> Rule:
    rid = raw["id"]

    def err(key: str, problem: str, node: LineDict | None = None, sub: str | None = None):
        n = node if node is not None else raw
        line = n.key_lines.get(sub or key, n.line) if isinstance(n, LineDict) else rline
        raise PackError(file, line, f"{rid}.{key}", problem)

    for i, entry in enumerate(raw["legal"]):
        if entry["law"] not in pack.laws:
            err(f"legal[{i}].law", f"unknown law {entry['law']!r} (declare it in legal_sources)", entry, "law")
    window = pack.defaults["window"]
    own_define = raw.get("define", {})
    # a rule's definition shadows pack.yaml's of the same name, as a rule's selection does
    defines = {**pack.define, **{k: str(v) for k, v in own_define.items()}}
    used: set[str] = set()
    selections: dict[str, Selection] = {}
    explicit_triggers = raw.get("trigger")
    if isinstance(explicit_triggers, str):
        explicit_triggers = [explicit_triggers]
    for name, spec in raw["selections"].items():
        is_trigger = (
            name in explicit_triggers
            if explicit_triggers
            else ("within" not in spec and "fields" not in spec and not name.startswith(("exc_", "not_")))
        )
        sel = build_selection(
            name, spec, pack.lists, pack.normalize, "match" if is_trigger else "overlap", window, file,
            f"{rid}.selections.{name}", defines, used,
        )
        if is_trigger:
            if sel.within[0] == "fields":
                err(f"selections.{name}.fields", "a fields selection cannot be a trigger", spec, "fields")
            if sel.within[0] != "match":
                err(f"selections.{name}.within", "a trigger selection cannot have within", spec, "within")
            if sel.regex is not None and not sel.anchors and not sel.terms:
                err(f"selections.{name}.anchors", "a trigger regex needs anchors (literals that locate it)", spec, "regex")
        else:
            for key in ("min_ratio", "min_years_ago", "compare"):
                if key in spec:  # read only where trigger matches are kept: elsewhere it would be ignored
                    err(f"selections.{name}.{key}", "applies to a trigger regex only; this selection is not a trigger",
                        spec, key)
        selections[name] = sel
    triggers = [n for n, s in selections.items() if s.within[0] == "match"]
    if explicit_triggers:
        for t in explicit_triggers:
            if t not in selections:
                err("trigger", f"unknown selection {t!r}")
        triggers = list(explicit_triggers)
    if not triggers:
        err("selections", "no trigger selection (one without within: and not named exc_*/not_*)")
    names = list(selections) + [n for n in pack.selections if n not in selections]
    source = raw.get("condition")
    if source is None:
        excs = [n for n in selections if n.startswith("exc_")]
        source = "triggers" + (" and not 1 of exc_*" if excs else "")
    try:
        ast = cond.parse(source, names, triggers)
    except cond.ConditionError as exc:
        err("condition", str(exc))
    off = list(raw.get("exceptions_off", []))
    for name in off:
        if name not in pack.exceptions:
            err("exceptions_off", f"unknown pack exception {name!r}")
    scoped = pack.exception_categories
    applied = [n for n in pack.exceptions if n not in off and (n not in scoped or raw["category"] in scoped[n])]
    for name in applied:
        ast = ("and", ast, ("not", pack.exceptions[name][1]))
    extract = {}
    for name, spec in raw.get("extract", {}).items():
        try:
            rx = _pattern(expand_defines(spec["regex"], defines, used))
        except DefineError as exc:
            err(f"extract.{name}.regex", str(exc), spec, "regex")
        except regex.error as exc:
            err(f"extract.{name}.regex", f"does not compile: {exc}")
        extract[name] = (rx, parse_within(spec.get("within"), "around:30"), int(spec.get("group", 0)))
    for name in own_define:
        if name not in used:  # a fragment no pattern reads is dead text that a reviewer would still read
            err(f"define.{name}", "used by no regex of this rule (remove it, or write (?&" + name + ") where it belongs)",
                own_define, name)
    scopes = tuple(raw.get("scopes", pack.defaults["scopes"]))
    tests = raw["tests"]
    default_field = "terms" if scopes == ("terms",) else (scopes[0] if "body" not in scopes else "body")
    legal = []
    for x in raw["legal"]:
        entry = dict(x)
        entry["name"] = pack.laws[x["law"]]
        entry["citation"] = cite(x, entry["name"])
        legal.append(entry)
    return Rule(
        id=rid,
        title=raw["title"],
        message=raw["message"],
        category=raw["category"],
        severity=raw["severity"],
        confidence=float(raw["confidence"]),
        status=raw.get("status", "test"),
        legal=legal,
        law=law_line([dict(x) for x in raw["legal"]], pack.laws),
        scopes=scopes,
        selections=selections,
        triggers=triggers,
        condition_source=source,
        condition=ast,
        exceptions=applied,
        extract=extract,
        supersedes=list(raw.get("supersedes", [])),
        must_match=_tests(tests.get("must_match"), default_field),
        must_not_match=_tests(tests.get("must_not_match"), default_field),
        todo=_tests(tests.get("todo"), default_field),
        pack=pack.id,
        pack_version=pack.version,
        file=file,
        line=rline,
        description=raw.get("description", ""),
        sector=list(raw.get("sector", [])),
        falsepositives=list(raw.get("falsepositives", [])),
        provenance=dict(raw.get("provenance", {})),
    )


def rule_source(pack: Pack, rule: Rule) -> dict:
    """The rule's mapping as written in its YAML file, read again from the pack folder (the engine
    does not keep it: `fangxin rules explain --json` is its only reader)."""
    path = os.path.join(pack.path, "rules", os.path.basename(rule.file))
    for entry in load_yaml(path) or []:
        if isinstance(entry, dict) and entry.get("id") == rule.id:
            return json.loads(json.dumps(entry, ensure_ascii=False, default=str))
    raise PackError(display_path(path), 0, rule.id, "the rule is no longer in this file")


def discover(root: str = PACKS_DIR) -> list[str]:
    if not os.path.isdir(root):
        return []
    return [
        os.path.join(root, d)
        for d in sorted(os.listdir(root))
        if os.path.isfile(os.path.join(root, d, "pack.yaml"))
    ]


def load_packs(folders: list[str] | None = None) -> list[Pack]:
    """Load packs in dependency order (a base before the packs that extend it)."""
    folders = discover() if not folders else [os.fspath(f) for f in folders]
    metas = [load_pack_meta(f) for f in folders]
    by_id: dict[str, tuple[Pack, LineDict, str]] = {}
    for pack, data, file in metas:
        if pack.id in by_id:
            raise PackError(file, data.key_lines.get("id", 1), "id", f"pack id {pack.id!r} loaded twice")
        by_id[pack.id] = (pack, data, file)
    ordered: list[Pack] = []
    seen: set[str] = set()

    def visit(pid: str, chain: tuple[str, ...]) -> None:
        if pid in seen:
            return
        pack, data, file = by_id[pid]
        if pack.extends:
            if pack.extends in chain:
                raise PackError(file, data.key_lines.get("extends", 1), "extends", "circular extends")
            if pack.extends not in by_id:
                raise PackError(
                    file, data.key_lines.get("extends", 1), "extends",
                    f"extends {pack.extends!r}, which is not loaded (list it before this pack)",
                )
            visit(pack.extends, chain + (pid,))
        base = by_id[pack.extends][0] if pack.extends else None
        finish_pack_shared(pack, data, file, base)
        pack.rules = load_rules(pack, pack.path)
        seen.add(pid)
        ordered.append(pack)

    for pack, _data, _file in metas:
        visit(pack.id, ())
    # unique ids, with overrides allowed only from an extending pack
    owner: dict[str, Rule] = {}
    for pack in ordered:
        for rule in pack.rules:
            if rule.id in owner:
                prev = owner[rule.id]
                if prev.pack == pack.id or not _extends(pack, prev.pack, by_id):
                    raise PackError(rule.file, rule.line, f"{rule.id}.id", f"duplicate rule id (also {prev.file}:{prev.line})")
            owner[rule.id] = rule
        for rid in pack.disable:
            if rid not in owner:
                _p, data, file = by_id[pack.id]
                raise PackError(file, data.key_lines.get("disable", 1), "disable", f"unknown rule {rid!r}")
    return ordered


def _extends(pack: Pack, other: str, by_id) -> bool:
    cur = pack.extends
    while cur:
        if cur == other:
            return True
        cur = by_id[cur][0].extends
    return False
