"""Series rules: claims that only repeated observations can prove.

A text rule looks at one page; a series rule looks at every observation of one
product over time (price, claimed reference prices, banner wording, stock count)
and fires when the series contradicts a claim: a 原价 that was never charged in
the 7 days before the promotion, a price raised shortly before a discount, 仅限今日
on N consecutive days, a 仅剩3件 that never goes down.

This module is a pure library like the rest of `rules/`: it reads pack files
(`<pack>/series/*.yaml`, checked against `schema/series.schema.json`) and turns
observation lists into hits. No database, no network.

    rules = load_series_rules()                        # every pack under rules/packs/
    hits = evaluate(rules, "https://shop/item/1", observations)
    report = run_series_tests(rules)                   # the packs' must_match / must_not_match series

An observation is a mapping (or `Observation`):
    at          capture time (ISO 8601 string or aware datetime); its day is the China (+08:00) date
    capture_id  the capture that shows it (listed in the hit as proof)
    price       the current (transaction) price, or None
    references  [{label, amount}] claimed reference prices (原价, 划线价 …)
    text        visible wording of the page (banners); stock counts are read from it unless `stock` is given
    stock       an explicit stock count, or None
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonschema

from rules.errors import PackError
from rules.legal import law_line
from rules.model import RuleHead, RuleIdentity, rule_identity
from rules.yamlio import display_path, line_of, load_yaml, yaml_files

HERE = os.path.dirname(os.path.abspath(__file__))
PACKS_DIR = os.path.join(HERE, "packs")
SCHEMA_PATH = os.path.join(HERE, "schema", "series.schema.json")
CST = dt.timezone(dt.timedelta(hours=8), "+08:00")
CHECKS = ("reference_above_prior", "raise_before_discount", "consecutive_wording", "stock_never_decreases")
DEFAULT_STOCK_REGEX = (
    r"(?:仅剩|仅余|只剩|还剩|库存仅剩|库存仅|库存)\s*[:：]?\s*(\d{1,6})\s*(?:件|份|台|个|套|瓶|盒|张)"
)
TEST_EPOCH = dt.datetime(2026, 1, 1, 10, 0, tzinfo=CST)


# --------------------------------------------------------------------------- model


def parse_at(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


@dataclass
class Observation:
    at: dt.datetime
    capture_id: int | None = None
    price: float | None = None
    references: list[dict] = field(default_factory=list)
    text: str = ""
    stock: int | None = None
    seen_id: int | None = None  # a re-observation of an unchanged page (captures_seen row)

    @property
    def day(self) -> dt.date:
        return self.at.astimezone(CST).date()

    @classmethod
    def of(cls, value: Observation | Mapping[str, Any]) -> Observation:
        if isinstance(value, Observation):
            return value
        refs = []
        for ref in value.get("references") or []:
            if isinstance(ref, Mapping) and ref.get("amount") is not None:
                refs.append({"label": ref.get("label") or "原价", "amount": float(ref["amount"])})
        price = value.get("price")
        stock = value.get("stock")
        return cls(
            at=parse_at(value["at"]),
            capture_id=value.get("capture_id"),
            price=float(price) if price is not None else None,
            references=refs,
            text=value.get("text") or "",
            stock=int(stock) if stock is not None else None,
            seen_id=value.get("seen_id"),
        )

    def to_dict(self) -> dict:
        return {
            "at": self.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "capture_id": self.capture_id,
            "seen_id": self.seen_id,
            "price": self.price,
            "references": self.references,
            "stock": self.stock,
        }


@dataclass
class SeriesCase:
    name: str
    series: list[Observation]
    line: int
    captures: list[int] | None = None  # expected proving capture ids (must_match only)


@dataclass
class SeriesRule(RuleHead):
    check: str
    params: dict
    pack: str
    pack_version: str
    file: str
    line: int
    must_match: list[SeriesCase] = field(default_factory=list)
    must_not_match: list[SeriesCase] = field(default_factory=list)
    wording: re.Pattern | None = None
    stock_re: re.Pattern | None = None


@dataclass
class SeriesHit(RuleIdentity):
    message: str
    product: str
    match: str
    excerpt: str
    episode: str  # stable key of what was proven: rule, product, first day of the claim
    captures: list[int]
    observations: list[dict]
    extracted: dict

    def to_dict(self) -> dict:
        """The hit as `Store.save_capture_result` and `Store.save_series_hit` take it."""
        return {
            "rule": self.rule,
            "pack": self.pack,
            "pack_version": self.pack_version,
            "category": self.category,
            "severity": self.severity,
            "confidence": self.confidence,
            "law": self.law,
            "legal": self.legal,
            "title": self.title,
            "message": self.message,
            "field": "series",
            "start": None,
            "end": None,
            "match": self.match,
            "excerpt": self.excerpt,
            "product": self.product,
            "episode": self.episode,
            "captures": self.captures,
            "observations": self.observations,
            "extracted": self.extracted,
        }


# --------------------------------------------------------------------------- loading


@lru_cache(maxsize=1)
def _validator():
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return jsonschema.Draft202012Validator(json.load(fh))


def _schema_check(data, file: str, label: str) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: len(e.absolute_path))
    if errors:
        err = errors[0]
        while err.context:
            err = sorted(err.context, key=lambda e: -len(e.absolute_path))[0]
        path = list(err.absolute_path)
        where = ".".join(str(p) for p in path) or "(top)"
        if path and isinstance(path[0], int) and isinstance(data, list) and isinstance(data[path[0]], dict):
            # name the rule by its id, as the text rules' errors do: X-1.severity
            where = ".".join([str(data[path[0]].get("id", f"[{path[0]}]"))] + [str(p) for p in path[1:]])
        raise PackError(file, line_of(data, path), f"{label}{where}", err.message[:160])


def _pack_meta(folder: str) -> dict:
    path = os.path.join(folder, "pack.yaml")
    if not os.path.isfile(path):
        raise PackError(display_path(folder), 0, "pack.yaml", "missing pack.yaml")
    data = load_yaml(path) or {}
    laws: dict[str, str] = {}
    for src in data.get("legal_sources", []) or []:
        laws[src["id"]] = src["name"]
        laws[src["name"]] = src["name"]
    return {
        "id": data.get("id"),
        "version": str(data.get("version")),
        "extends": data.get("extends"),
        "laws": laws,
        "disable": list(data.get("disable", []) or []),
        "folder": folder,
    }


def _case(raw, line: int, idx: int) -> SeriesCase:
    series = []
    for i, obs in enumerate(raw["series"]):
        refs = obs.get("reference")
        if isinstance(refs, (int, float)):
            refs = [{"label": "原价", "amount": refs}]
        elif isinstance(refs, Mapping):
            refs = [refs]
        at = TEST_EPOCH + dt.timedelta(days=obs["day"], hours=obs.get("hour", 0))
        series.append(
            Observation.of(
                {
                    "at": at,
                    "capture_id": obs.get("capture", i + 1),
                    "price": obs.get("price"),
                    "references": refs or [],
                    "text": obs.get("text", ""),
                    "stock": obs.get("stock"),
                }
            )
        )
    return SeriesCase(raw.get("name") or f"case {idx + 1}", series, line, raw.get("captures"))


def _build(raw, meta: dict, laws: dict, file: str, line: int) -> SeriesRule:
    for entry in raw["legal"]:
        if entry["law"] not in laws:
            raise PackError(
                file, line, f"{raw['id']}.legal", f"unknown law {entry['law']!r} (not in legal_sources)"
            )
    params = dict(raw.get("params") or {})
    wording = None
    if raw["check"] == "consecutive_wording":
        if not params.get("wording"):
            raise PackError(
                file, line, f"{raw['id']}.params.wording", "consecutive_wording needs a wording regex"
            )
        try:
            wording = re.compile(params["wording"])
        except re.error as exc:
            raise PackError(file, line, f"{raw['id']}.params.wording", f"bad regex: {exc}") from None
    stock_re = None
    if raw["check"] == "stock_never_decreases":
        try:
            stock_re = re.compile(params.get("stock_regex") or DEFAULT_STOCK_REGEX)
        except re.error as exc:
            raise PackError(file, line, f"{raw['id']}.params.stock_regex", f"bad regex: {exc}") from None
    tests = raw.get("tests") or {}
    rule = SeriesRule(
        id=raw["id"],
        title=raw["title"],
        message=raw["message"],
        category=raw["category"],
        severity=raw["severity"],
        confidence=float(raw.get("confidence", 0.8)),
        status=raw.get("status", "stable"),
        legal=[dict(x) for x in raw["legal"]],
        law=law_line([dict(x) for x in raw["legal"]], laws),
        check=raw["check"],
        params=params,
        pack=meta["id"],
        pack_version=meta["version"],
        file=file,
        line=line,
        wording=wording,
        stock_re=stock_re,
    )
    for key in ("must_match", "must_not_match"):
        cases = tests.get(key) or []
        item_lines = getattr(cases, "item_lines", [line] * len(cases))
        getattr(rule, key).extend(_case(c, item_lines[i], i) for i, c in enumerate(cases))
    return rule


def load_series_rules(folders: Iterable[str] | None = None) -> list[SeriesRule]:
    """Series rules of the given pack folders (default: every pack under rules/packs/), bases first.

    A pack that extends another inherits its laws; a rule id reused by an extending pack overrides the
    base rule; `disable:` in pack.yaml switches series rules off too. Raises PackError (FILE:LINE).
    """
    if folders is None:
        folders = (
            [
                os.path.join(PACKS_DIR, d)
                for d in sorted(os.listdir(PACKS_DIR))
                if os.path.isfile(os.path.join(PACKS_DIR, d, "pack.yaml"))
            ]
            if os.path.isdir(PACKS_DIR)
            else []
        )
    metas = [_pack_meta(os.fspath(f)) for f in folders]
    by_id = {m["id"]: m for m in metas}
    ordered: list[dict] = []

    def visit(meta: dict, depth: int = 0) -> None:
        if meta in ordered or depth > 20:
            return
        if meta["extends"] in by_id:
            visit(by_id[meta["extends"]], depth + 1)
        ordered.append(meta)

    for meta in metas:
        visit(meta)
    rules: dict[str, SeriesRule] = {}
    disabled: set[str] = set()
    for meta in ordered:
        laws = dict(by_id[meta["extends"]]["laws"]) if meta["extends"] in by_id else {}
        laws.update(meta["laws"])
        meta["laws"] = laws
        folder = os.path.join(meta["folder"], "series")
        disabled.update(meta["disable"])
        if not os.path.isdir(folder):
            continue
        for file, data in yaml_files(folder):
            _schema_check(data, file, "")
            for i, raw in enumerate(data):
                line = data.item_lines[i] if hasattr(data, "item_lines") else 0
                prev = rules.get(raw["id"])
                if prev is not None and prev.pack == meta["id"]:
                    raise PackError(
                        file, line, f"{raw['id']}.id", f"duplicate rule id (also {prev.file}:{prev.line})"
                    )
                rules[raw["id"]] = _build(raw, meta, laws, file, line)
    return [r for r in rules.values() if r.id not in disabled and r.status != "deprecated"]


# --------------------------------------------------------------------------- evaluation


def _day_runs(days: list[dt.date]) -> list[list[dt.date]]:
    runs: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _money(value: float) -> str:
    return f"¥{value:g}" if value == int(value) else f"¥{value:.2f}"


def _claim_episodes(series: list[Observation], labels: set[str] | None) -> list[list[Observation]]:
    """Runs of consecutive observations that claim a reference price above the current price."""
    episodes: list[list[Observation]] = []
    current: list[Observation] = []
    for obs in series:
        refs = [r for r in obs.references if not labels or r["label"] in labels]
        claims = bool(refs) and obs.price is not None and max(r["amount"] for r in refs) > obs.price
        if claims:
            current.append(obs)
        elif current:
            episodes.append(current)
            current = []
    if current:
        episodes.append(current)
    return episodes


def _refs(obs: Observation, labels: set[str] | None) -> list[dict]:
    return [r for r in obs.references if not labels or r["label"] in labels]


def _check_reference_above_prior(rule: SeriesRule, series: list[Observation]) -> list[dict]:
    """A claimed reference above every price observed in the `window_days` before the promotion.

    The window ends where the claim first appeared; when monitoring began with the claim already
    shown (no observation before it), each later claim is compared with the window before itself,
    so a permanent 原价 above every price charged is caught too.
    """
    p = rule.params
    window = dt.timedelta(days=p.get("window_days", 7))
    labels = set(p.get("labels") or []) or None
    tolerance = float(p.get("tolerance", 0.0))

    def prior_of(moment: dt.datetime) -> list[Observation]:
        # calendar days (China time): the `window_days` days before the claim's day, and that day up to it
        first_day = moment.astimezone(CST).date() - window
        return [o for o in series if o.day >= first_day and o.at < moment and o.price is not None]

    def enough(prior: list[Observation]) -> bool:
        return len(prior) >= p.get("min_prior_observations", 2) and len({o.day for o in prior}) >= p.get(
            "min_prior_days", 2
        )

    out = []
    for episode in _claim_episodes(series, labels):
        start = episode[0]
        prior = prior_of(start.at)
        if enough(prior):
            highest = max(o.price for o in prior)
            claimed = [
                (r, o) for o in episode for r in _refs(o, labels) if r["amount"] > highest * (1 + tolerance)
            ]
        else:
            claimed, prior = [], []
            for o in episode:
                own = prior_of(o.at)
                if not enough(own):
                    continue
                top = max(x.price for x in own)
                refs = [r for r in _refs(o, labels) if r["amount"] > top * (1 + tolerance)]
                if refs:
                    if not claimed:
                        prior, highest = own, top
                    claimed.extend((r, o) for r in refs)
        if not claimed:
            continue
        ref, _ = max(claimed, key=lambda x: x[0]["amount"])
        shown = [o for _r, o in claimed]
        out.append(
            {
                "start": start,
                "proof": prior + shown,
                "values": {
                    "label": ref["label"],
                    "reference": _money(ref["amount"]),
                    "max_before": _money(highest),
                    "window_days": p.get("window_days", 7),
                    "prior_count": len(prior),
                    "first_day": start.day.isoformat(),
                },
                "match": f"{ref['label']}{_money(ref['amount'])}",
            }
        )
    return out


def _check_raise_before_discount(rule: SeriesRule, series: list[Observation]) -> list[dict]:
    p = rule.params
    lookback = dt.timedelta(days=p.get("lookback_days", 14))
    raise_within = dt.timedelta(days=p.get("raise_within_days", 7))
    min_raise = float(p.get("min_raise", 0.1))
    tolerance = float(p.get("tolerance", 0.02))
    labels = set(p.get("labels") or []) or None
    out = []
    for episode in _claim_episodes(series, labels):
        start = episode[0]
        prior = [
            o
            for o in series
            if o.day >= start.day - lookback
            and o.at < start.at
            and o.price is not None
            and not _refs(o, labels)
        ]
        found = None
        for i in range(1, len(prior)):
            before, high = prior[i - 1], prior[i]
            # the raise: a price step up between two consecutive observations, recent enough
            if high.day < start.day - raise_within or high.price < before.price * (1 + min_raise):
                continue
            lows = [o for o in prior[:i] if high.price >= o.price * (1 + min_raise)]
            low = min(o.price for o in lows)
            discounted = min(o.price for o in episode)
            if discounted >= low * (1 - tolerance):
                highs = [o for o in prior[i:] if o.price >= high.price * (1 - tolerance)]
                found = (low, high, lows, highs, discounted)
                break
        if not found:
            continue
        low, high, lows, highs, discounted = found
        ref = max((r for o in episode for r in _refs(o, labels)), key=lambda r: r["amount"])
        out.append(
            {
                "start": start,
                "proof": lows + highs + episode,
                "values": {
                    "before": _money(low),
                    "raised": _money(high.price),
                    "raised_on": high.day.isoformat(),
                    "discounted": _money(discounted),
                    "label": ref["label"],
                    "reference": _money(ref["amount"]),
                    "first_day": start.day.isoformat(),
                },
                "match": f"{ref['label']}{_money(ref['amount'])}，现价{_money(discounted)}",
            }
        )
    return out


def _check_consecutive_wording(rule: SeriesRule, series: list[Observation]) -> list[dict]:
    p = rule.params
    min_days = int(p.get("min_days", 3))
    by_day: dict[dt.date, list[tuple[Observation, str]]] = {}
    for obs in series:
        m = rule.wording.search(obs.text or "")
        if m:
            by_day.setdefault(obs.day, []).append((obs, m.group(0)))
    out = []
    for run in _day_runs(list(by_day)):
        if len(run) < min_days:
            continue
        proof = [o for d in run for o, _w in by_day[d]]
        words = sorted({w for d in run for _o, w in by_day[d]})
        out.append(
            {
                "start": proof[0],
                "proof": proof,
                "values": {
                    "wording": "、".join(words),
                    "days": len(run),
                    "first_day": run[0].isoformat(),
                    "last_day": run[-1].isoformat(),
                },
                "match": "、".join(words),
            }
        )
    return out


def _stock_of(rule: SeriesRule, obs: Observation) -> int | None:
    if obs.stock is not None:
        return obs.stock
    m = rule.stock_re.search(obs.text or "")
    return int(m.group(1)) if m else None


def _check_stock_never_decreases(rule: SeriesRule, series: list[Observation]) -> list[dict]:
    p = rule.params
    counted = [(o, s) for o in series if (s := _stock_of(rule, o)) is not None]
    if not counted:
        return []
    max_stock = p.get("max_stock", 20)
    if len(counted) < p.get("min_observations", 3) or len({o.day for o, _s in counted}) < p.get(
        "min_days", 3
    ):
        return []
    stocks = [s for _o, s in counted]
    if any(b < a for a, b in zip(stocks, stocks[1:], strict=False)) or min(stocks) > max_stock:
        return []
    first, last = counted[0][0], counted[-1][0]
    return [
        {
            "start": first,
            "proof": [o for o, _s in counted],
            "values": {
                "stock": "、".join(str(s) for s in dict.fromkeys(stocks)),
                "count": len(counted),
                "days": len({o.day for o, _s in counted}),
                "first_day": first.day.isoformat(),
                "last_day": last.day.isoformat(),
            },
            "match": f"仅剩{stocks[0]}件",
        }
    ]


CHECK_FUNCTIONS = {
    "reference_above_prior": _check_reference_above_prior,
    "raise_before_discount": _check_raise_before_discount,
    "consecutive_wording": _check_consecutive_wording,
    "stock_never_decreases": _check_stock_never_decreases,
}


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def evaluate_rule(
    rule: SeriesRule, product: str, observations: Iterable[Observation | Mapping]
) -> list[SeriesHit]:
    series = sorted((Observation.of(o) for o in observations), key=lambda o: (o.at, o.capture_id or 0))
    hits = []
    for found in CHECK_FUNCTIONS[rule.check](rule, series):
        proof = sorted({id(o): o for o in found["proof"]}.values(), key=lambda o: (o.at, o.capture_id or 0))
        values = dict(found["values"], product=product)
        message = rule.message.format_map(_Default(values))
        episode_src = f"{rule.id}\n{product}\n{found['start'].day.isoformat()}"
        hits.append(
            SeriesHit(
                **rule_identity(rule),
                message=message,
                product=product,
                match=found["match"],
                excerpt=message[:120],
                episode=hashlib.sha256(episode_src.encode("utf-8")).hexdigest()[:24],
                captures=sorted({o.capture_id for o in proof if o.capture_id is not None}),
                observations=[o.to_dict() for o in proof],
                extracted=values,
            )
        )
    return hits


def evaluate(
    rules: Iterable[SeriesRule], product: str, observations: Iterable[Observation | Mapping]
) -> list[SeriesHit]:
    """Every series rule over one product's observations; hits in rule order."""
    series = [Observation.of(o) for o in observations]
    out: list[SeriesHit] = []
    for rule in rules:
        out.extend(evaluate_rule(rule, product, series))
    return out


# --------------------------------------------------------------------------- embedded cases


@dataclass
class SeriesFailure:
    rule: SeriesRule
    kind: str  # miss | false hit | wrong captures
    case: SeriesCase
    detail: str = ""

    def line(self) -> str:
        return (
            f"{self.rule.file}:{self.case.line}: {self.rule.id}: {self.kind}: {self.case.name}{self.detail}"
        )


@dataclass
class SeriesReport:
    rules: int = 0
    cases: int = 0
    failures: list[SeriesFailure] = field(default_factory=list)


def run_series_tests(
    rules: Iterable[SeriesRule] | None = None, pack_ids: set[str] | None = None,
    rule_ids: set[str] | None = None,
) -> SeriesReport:
    """Run every series rule's must_match / must_not_match series (what `fangxin rules test` adds);
    only the rules in ``rule_ids`` when given."""
    report = SeriesReport()
    for rule in load_series_rules() if rules is None else rules:
        if pack_ids and rule.pack not in pack_ids:
            continue
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        report.rules += 1
        for case in rule.must_match:
            report.cases += 1
            hits = evaluate_rule(rule, "test:product", case.series)
            if not hits:
                report.failures.append(SeriesFailure(rule, "miss", case))
            elif case.captures is not None and hits[0].captures != sorted(case.captures):
                report.failures.append(
                    SeriesFailure(
                        rule,
                        "wrong captures",
                        case,
                        f" (got {hits[0].captures}, want {sorted(case.captures)})",
                    )
                )
        for case in rule.must_not_match:
            report.cases += 1
            if evaluate_rule(rule, "test:product", case.series):
                report.failures.append(SeriesFailure(rule, "false hit", case))
    return report


@dataclass
class _PackFailure:
    error: PackError

    def line(self) -> str:
        return str(self.error)


def add_series_tests(report: Any, engine_or_folders: Any = None, rule_ids: set[str] | None = None) -> Any:
    """Add the series cases of the engine's packs (or of the given pack folders) to a text-rule report
    (only the series rules in ``rule_ids`` when given).

    The hook of `fangxin rules test`: counts go into `report.rules` / `report.cases`, failures
    (and a malformed series file, as its one-line PackError) into `report.failures`; every
    entry has `.line()`. Returns `report`.
    """
    packs = getattr(engine_or_folders, "packs", None)
    folders = [p.path for p in packs] if packs is not None else engine_or_folders
    try:
        series_report = run_series_tests(load_series_rules(folders), rule_ids=rule_ids)
    except PackError as exc:
        report.failures.append(_PackFailure(exc))
        return report
    report.rules += series_report.rules
    report.cases += series_report.cases
    report.failures.extend(series_report.failures)
    return report
