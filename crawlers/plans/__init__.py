"""Crawl plans: YAML files that say what to sample, how politely, and when.

`load_plan(path)` returns a Plan or raises PlanError with one line
`FILE:LINE: FIELD: problem`. Bundled example plans live beside this module.
"""

from __future__ import annotations

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
    max_pages: int = 200
    max_depth: int = 3
    render: str = "static"
    obey_robots: bool = True
    delay: float = 1.0
    concurrency: int = 1
    user_agent: str | None = None
    allow_private: bool = False
    schedule: str | None = None
    raw: dict = field(default_factory=dict)  # the whole document, for later extensions


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


def load_plan(path: str | Path, variables: dict[str, str] | None = None) -> Plan:
    """Read and check a plan. `${NAME}` in the file is replaced from `variables`, then from
    the environment (the bundled sandbox plans use `${SANDBOX}`, the sandbox's base URL)."""
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
        raise PlanError(f"{path}:{line}: plan: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, dict):
        raise PlanError(f"{path}:1: plan: expected a mapping at the top level")
    lines = doc.get("__lines__", {})

    def err(key: str, problem: str) -> PlanError:
        return PlanError(f"{path}:{lines.get(key.split('.')[0], 1)}: {key}: {problem}")

    def section(key: str) -> dict:
        value = doc.get(key) or {}
        if not isinstance(value, dict):
            raise err(key, "expected a mapping")
        return value

    name = doc.get("name") or Path(path).stem
    sector = doc.get("sector")
    if sector not in SECTORS:
        raise err("sector", f"must be one of {', '.join(SECTORS)}, got {sector!r}")
    seeds = doc.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, str) for s in seeds):
        raise err("seeds", "expected a non-empty list of URLs")
    for s in seeds:
        if urlsplit(s).scheme not in ("http", "https"):
            raise err("seeds", f"not an http(s) URL: {s!r}")
    allowed = doc.get("allowed_domains") or sorted({urlsplit(s).hostname for s in seeds if urlsplit(s).hostname})
    links = section("links")
    section("sampling")  # validated as a mapping; read by number() below
    politeness = section("politeness")
    render = doc.get("render", "static")
    if render not in RENDER_MODES:
        raise err("render", f"must be one of {', '.join(RENDER_MODES)}, got {render!r}")
    for key in ("follow", "detail", "deny"):
        for pattern in links.get(key) or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise err(f"links.{key}", f"bad regex {pattern!r}: {exc}") from exc

    def number(name: str, key: str, default, kind=int, minimum=0):
        value = section(name).get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise err(f"{name}.{key}", f"expected a number >= {minimum}, got {value!r}")
        return kind(value)

    return Plan(
        name=str(name),
        path=path,
        sector=sector,
        seeds=list(seeds),
        allowed_domains=[str(d).lower() for d in allowed],
        follow=list(links.get("follow") or []),
        detail=list(links.get("detail") or []),
        deny=list(links.get("deny") or []),
        max_pages=number("sampling", "max_pages", 200, int, 1),
        max_depth=number("sampling", "max_depth", 3, int, 0),
        render=render,
        obey_robots=bool(politeness.get("obey_robots", True)),
        delay=number("politeness", "delay", 1.0, float, 0),
        concurrency=number("politeness", "concurrency", 1, int, 1),
        user_agent=politeness.get("user_agent"),
        allow_private=bool(politeness.get("allow_private_addresses", False)),
        schedule=doc.get("schedule"),
        raw=_strip(doc),
    )


def bundled_plans() -> list[Path]:
    return sorted(BUNDLED.glob("*.yaml"))
