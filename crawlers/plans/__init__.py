"""Crawl plans: YAML files that say what to sample, how politely, and when.

`load_plan(path)` returns a Plan or raises PlanError with one line
`FILE:LINE: FIELD: problem`. Bundled example plans live beside this module.
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

SECTORS = ("ecommerce", "education", "finance", "health", "real_estate", "livestream", "other")
RENDER_MODES = ("static", "browser", "auto")
BUNDLED = Path(__file__).resolve().parent


class PlanError(ValueError):
    """A plan that cannot be used; str() is one line naming file, line and field."""


@dataclass
class Plan:
    name: str
    path: str
    sector: str
    seeds: list[str]
    allowed_domains: list[str]
    follow: list[str] = field(default_factory=list)  # URL regexes of listing pages to follow
    detail: list[str] = field(default_factory=list)  # URL regexes of detail pages to capture
    deny: list[str] = field(default_factory=list)  # URL regexes never to request
    follow_css: list[str] = field(default_factory=list)  # page areas whose links are listings
    detail_css: list[str] = field(default_factory=list)  # page areas whose links are details
    follow_xpath: list[str] = field(default_factory=list)
    detail_xpath: list[str] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=dict)  # URL regex -> max pages matching it
    sitemaps: list[str] = field(default_factory=list)
    max_pages: int = 200  # per site (host:port)
    max_depth: int = 3
    detail_sample: int | None = None  # random sample of detail pages per site
    sample_seed: int = 0
    render: str = "static"
    ocr: bool = False  # OCR of product-detail images
    context_pages: int = 100  # fresh browser context after this many rendered pages
    restart_after: int = 200  # fresh browser after this many rendered pages
    browser_pages: int = 4  # rendered pages open at once
    screenshots: str = "hits"  # hits | all | none
    wait_until: str = "networkidle"
    obey_robots: bool = True
    delay: float = 1.0
    concurrency: int = 1
    autothrottle: bool = True
    user_agent: str | None = None
    allow_private: bool = False
    max_bytes: int | None = None
    timeout: float | None = None
    max_redirects: int | None = None
    recrawl_unchanged: str = "seen"
    schedule: str | None = None
    watch_products: list[str] = field(default_factory=list)  # product pages recrawled every watch_interval
    watch_interval: float | None = None  # seconds
    description: str = ""
    raw: dict = field(default_factory=dict)  # the whole document, for later extensions


def default_user_agent(authority: str | None = None, contact: str | None = None) -> str:
    """An honest user agent: the software, the operating authority and a contact."""
    from fangxin import __version__

    who = authority or "市场监督管理部门 market supervision"
    return f"FangxinWatch/{__version__} (+{who}; contact: {contact or 'see the operating authority'})"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str | int):
            lines[key] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__lines__"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _schema_validator():
    import jsonschema

    schema = json.loads((BUNDLED / "plan.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _line_of(doc: dict, path: list) -> int:
    """The line of the deepest mapping key on `path` that the loader recorded."""
    line, node = doc.get("__lines__", {}).get(path[0], 1) if path else 1, doc
    for key in path:
        if isinstance(node, dict) and key in node.get("__lines__", {}):
            line = node["__lines__"][key]
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def load_plan(path: str | Path, variables: dict[str, str] | None = None) -> Plan:
    """Read and check a plan against plan.schema.json. `${NAME}` in the file is replaced from
    `variables`, then from the environment (the bundled sandbox plans use `${SANDBOX}`, the
    sandbox's base URL). Raises PlanError with one line `FILE:LINE: FIELD: problem`."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        values = {**os.environ, **(variables or {})}
        text = string.Template(text).safe_substitute(values)
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except OSError as exc:
        raise PlanError(f"{path}:0: plan: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise PlanError(f"{path}:{line}: plan: invalid YAML: {problem}") from exc
    if not isinstance(doc, dict):
        raise PlanError(f"{path}:1: plan: expected a mapping at the top level")
    clean = _strip(doc)
    unresolved = re.findall(r"\$\{(\w+)\}", json.dumps(clean, ensure_ascii=False))
    if unresolved:
        raise PlanError(f"{path}:1: plan: variable ${{{unresolved[0]}}} is not set (变量未设置)")

    errors = sorted(_schema_validator().iter_errors(clean), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "plan"
        message = e.message if len(e.message) < 200 else e.message[:200] + "..."
        raise PlanError(f"{path}:{_line_of(doc, list(e.absolute_path))}: {where}: {message}")

    def err(key: str, problem: str) -> PlanError:
        return PlanError(f"{path}:{_line_of(doc, key.split('.'))}: {key}: {problem}")

    links = clean.get("links") or {}
    sampling = clean.get("sampling") or {}
    politeness = clean.get("politeness") or {}
    browser = clean.get("browser") or {}
    limits = clean.get("limits") or {}
    for key in ("follow", "detail", "deny"):
        for pattern in links.get(key) or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise err(f"links.{key}", f"bad regex {pattern!r}: {exc}") from exc
    for pattern in links.get("limits") or {}:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise err("links.limits", f"bad regex {pattern!r}: {exc}") from exc
    for key in ("follow_css", "detail_css"):
        for selector in links.get(key) or []:
            try:
                from cssselect import GenericTranslator

                GenericTranslator().css_to_xpath(selector)
            except Exception as exc:  # cssselect raises several types
                raise err(f"links.{key}", f"bad CSS selector {selector!r}: {exc}") from exc
    schedule = clean.get("schedule")
    if schedule is not None:
        from croniter import croniter

        if not croniter.is_valid(schedule):
            raise err("schedule", f"not a valid cron expression: {schedule!r}")
    watch = clean.get("watch")
    watch_products: list[str] = []
    watch_interval = None
    if isinstance(watch, dict):
        watch_products = list(watch["products"])
        amount, unit = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd])", watch.get("interval", "24h")).groups()
        watch_interval = float(amount) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
        if not 60 <= watch_interval <= 86400:
            raise err("watch.interval", "between 1 minute and 24 hours: the series rules count calendar days "
                      "(监测间隔须在1分钟至24小时之间)")
    seeds = clean["seeds"]
    allowed = clean.get("allowed_domains") or sorted({urlsplit(s).hostname for s in seeds if urlsplit(s).hostname})
    delay = float(politeness.get("delay", 1.0))
    user_agent = politeness.get("user_agent") or default_user_agent(politeness.get("authority"),
                                                                    politeness.get("contact"))
    return Plan(
        name=str(clean.get("name") or Path(path).stem),
        path=path,
        sector=clean["sector"],
        seeds=list(seeds),
        allowed_domains=[str(d).lower() for d in allowed],
        follow=list(links.get("follow") or []),
        detail=list(links.get("detail") or []),
        deny=list(links.get("deny") or []),
        follow_css=list(links.get("follow_css") or []),
        detail_css=list(links.get("detail_css") or []),
        follow_xpath=list(links.get("follow_xpath") or []),
        detail_xpath=list(links.get("detail_xpath") or []),
        limits=dict(links.get("limits") or {}),
        sitemaps=list(clean.get("sitemaps") or []),
        max_pages=int(sampling.get("max_pages", 200)),
        max_depth=int(sampling.get("max_depth", 3)),
        detail_sample=sampling.get("detail_sample"),
        sample_seed=int(sampling.get("seed", 0)),
        render=clean.get("render", "static"),
        ocr=bool(clean.get("ocr", False)),
        context_pages=int(browser.get("context_pages", 100)),
        restart_after=int(browser.get("restart_after", 200)),
        browser_pages=int(browser.get("max_pages", 4)),
        screenshots=browser.get("screenshots", "hits"),
        wait_until=browser.get("wait_until", "networkidle"),
        obey_robots=bool(politeness.get("obey_robots", True)),
        delay=delay,
        concurrency=int(politeness.get("concurrency", 1)),
        autothrottle=bool(politeness.get("autothrottle", delay > 0)),
        user_agent=user_agent,
        allow_private=bool(politeness.get("allow_private_addresses", False)),
        max_bytes=limits.get("max_bytes"),
        timeout=limits.get("timeout"),
        max_redirects=limits.get("max_redirects"),
        recrawl_unchanged=(clean.get("recrawl") or {}).get("unchanged", "seen"),
        schedule=schedule,
        watch_products=watch_products,
        watch_interval=watch_interval,
        description=clean.get("description", ""),
        raw=clean,
    )


def bundled_plans() -> list[Path]:
    return sorted(BUNDLED.glob("*.yaml"))
