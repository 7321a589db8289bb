"""Loaded packs, rules and selections, and the hit they produce."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

CATEGORIES = (
    "absolute_terms",
    "medical_health",
    "health_food",
    "drug_device",
    "education",
    "finance",
    "real_estate",
    "price_fraud",
    "false_urgency",
    "unfair_terms",
    "false_advertising",
    "livestream",
    "other",
)

FIELDS = (
    "title",
    "body",
    "price",
    "terms",
    "alt",
    "meta",
    "jsonld",
    "ocr",
    "chat",
    "product_cards",
    "pinned",
    "livestream_title",
    "transcript",
)


@dataclass
class Selection:
    """A named matcher of a rule (or a pack-level shared one)."""

    name: str
    terms: list[str]
    regex: object | None  # compiled `regex` pattern
    regex_source: str | None
    anchors: list[str]
    window: int
    within: tuple[str, int]  # ("match"|"overlap"|"before"|..., N)
    not_followed_by: list[str]
    not_preceded_by: list[str]
    context_re: object | None = None  # compiled alternation of terms with the filters
    line: int = 0
    min_ratio: float | None = None  # trigger regex with groups ref/now: keep when ref/now >= min_ratio
    min_years_ago: int | None = None  # trigger regex with group year: keep when (check year) - year >= this
    compare: tuple | None = None  # trigger regex: keep when this comparison of its groups' amounts holds (rules.compare)
    fields: frozenset[str] | None = None  # a field selection (within "fields"): the candidate's field is one of these


@dataclass
class TestCase:
    text: str
    field: str
    line: int = 0


@dataclass
class RuleHead:
    """What every rule says of itself, text and series rules alike."""

    id: str
    title: str
    message: str
    category: str
    severity: str
    confidence: float
    status: str
    legal: list[dict]
    law: str  # the display line of `legal`


@dataclass
class Rule(RuleHead):
    scopes: tuple[str, ...]
    selections: dict[str, Selection]
    triggers: list[str]
    condition_source: str
    condition: object  # compiled AST
    exceptions: list[str]  # names of pack-level exceptions applied
    extract: dict[str, tuple[object, tuple[str, int], int]]
    supersedes: list[str]
    must_match: list[TestCase]
    must_not_match: list[TestCase]
    todo: list[TestCase]
    pack: str
    pack_version: str
    file: str
    line: int
    description: str = ""
    sector: list[str] = field(default_factory=list)
    falsepositives: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)


@dataclass
class Pack:
    id: str
    version: str
    title: str
    jurisdiction: str
    path: str
    extends: str | None
    normalize: tuple[str, ...]
    laws: dict[str, str]  # id or name -> full name
    legal_sources: list[dict]
    lists: dict[str, list[str]]
    selections: dict[str, Selection]
    exceptions: dict[str, tuple[str, object]]  # name -> (source, AST)
    defaults: dict
    disable: list[str]
    rules: list[Rule] = field(default_factory=list)
    define: dict[str, str] = field(default_factory=dict)  # name -> pattern fragment, for (?&name)
    # name -> the categories whose rules apply the exception; a name absent here applies to every rule
    exception_categories: dict[str, frozenset[str]] = field(default_factory=dict)


HIT_FIELDS = (
    "rule",
    "pack",
    "pack_version",
    "category",
    "severity",
    "confidence",
    "law",
    "legal",
    "title",
    "message",
    "field",
    "start",
    "end",
    "match",
    "excerpt",
    "extracted",
    "exceptions",
)


@dataclass(slots=True)
class RuleIdentity:
    """What a hit carries of the rule that fired it (text and series hits alike): `rule` (its id)
    and the RULE_IDENTITY attributes, in that order; see rule_identity()."""

    rule: str
    pack: str
    pack_version: str
    category: str
    severity: str
    confidence: float
    law: str
    legal: list[dict]
    title: str


# What a hit carries of the rule that fired it (text and series hits alike), besides its id.
RULE_IDENTITY = tuple(f.name for f in fields(RuleIdentity) if f.name != "rule")


def rule_identity(rule) -> dict:
    """The rule's part of a hit: `rule` (its id) and the RULE_IDENTITY attributes."""
    return {"rule": rule.id, **{name: getattr(rule, name) for name in RULE_IDENTITY}}


@dataclass(slots=True)
class Hit(RuleIdentity):
    """One rule firing on one span of one field. Offsets index the original text."""

    message: str
    field: str
    start: int
    end: int
    match: str
    excerpt: str
    extracted: dict
    exceptions: list[str]

    def to_dict(self) -> dict:
        """A JSON-safe dict of every attribute."""
        out = {name: getattr(self, name) for name in HIT_FIELDS}
        out["legal"] = [dict(x) for x in self.legal]
        out["extracted"] = dict(self.extracted)
        out["exceptions"] = list(self.exceptions)
        return out


class Hits(list):
    """The hits of one document; ``timed_out`` tells whether the deadline cut evaluation short."""

    timed_out: bool = False
    regex_timeouts: int = 0
