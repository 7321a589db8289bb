"""Per-platform room profiles (YAML in crawlers/live/profiles/): selectors, stage, media, decoders.

A profile says, for one platform, where the room's text lives in the DOM
(`watch`: field, kind, CSS selector, mode `state` or `append`, optional inner
`text`/`user` selectors and `ticking` for countdowns), which element is the
stage to screenshot, which element holds the media stream, and which frame
decoders to run (see crawlers.live.decoders). `profile_for(url)` picks the first
profile whose `match` regex matches the URL; `generic` matches everything and
is tried last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from crawlers.live.decoders import DECODERS, FIELDS

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
MODES = ("state", "append")


class ProfileError(ValueError):
    pass


@dataclass
class Watch:
    field: str
    kind: str
    selector: str
    mode: str = "state"
    text: str = ""
    user: str = ""
    ticking: bool = False

    def js(self) -> dict:
        return {"field": self.field, "kind": self.kind, "selector": self.selector, "mode": self.mode,
                "text": self.text, "user": self.user}  # fmt: skip


@dataclass
class Profile:
    name: str
    match: list[str]
    stage: str = ""
    media: str = ""
    watch: list[Watch] = field(default_factory=list)
    decoders: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    path: str = ""

    def matches(self, url: str) -> bool:
        return any(re.search(p, url) for p in self.match)


def _load(path: Path) -> Profile:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    where = path.name
    try:
        watches = [Watch(**w) for w in data.get("watch") or []]
    except TypeError as exc:
        raise ProfileError(f"{where}: bad watch entry: {exc}") from exc
    for w in watches:
        if w.field not in FIELDS:
            raise ProfileError(f"{where}: unknown field {w.field!r} (fields: {', '.join(FIELDS)})")
        if w.mode not in MODES:
            raise ProfileError(f"{where}: mode must be one of {MODES}, not {w.mode!r}")
    decoders = data.get("decoders") or {}
    for name, config in decoders.items():
        if name not in DECODERS:
            raise ProfileError(f"{where}: unknown decoder {name!r}")
        specs = (config or {}).get("types") or (config or {}).get("methods") or {}
        for key, spec in specs.items():
            if (spec or {}).get("field") not in FIELDS:
                raise ProfileError(f"{where}: decoder {name} entry {key!r} needs a field from {FIELDS}")
    for pattern in data.get("match") or []:
        re.compile(pattern)
    return Profile(
        name=str(data.get("name") or path.stem), match=list(data.get("match") or []), stage=data.get("stage") or "",
        media=data.get("media") or "", watch=watches, decoders=decoders, description=data.get("description") or "",
        path=str(path.name),
    )  # fmt: skip


def all_profiles(directory: Path = PROFILE_DIR) -> list[Profile]:
    """Every profile, the catch-all `generic` last."""
    profiles = [_load(p) for p in sorted(directory.glob("*.yaml"))]
    return sorted(profiles, key=lambda p: p.name == "generic")


def load_profile(name_or_path: str) -> Profile:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return _load(path)
    candidate = PROFILE_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(p.stem for p in sorted(PROFILE_DIR.glob("*.yaml")))
        raise ProfileError(f"no live-room profile {name_or_path!r} (known: {known}) / 未找到直播间配置")
    return _load(candidate)


def profile_for(url: str) -> Profile:
    for profile in all_profiles():
        if profile.matches(url):
            return profile
    return load_profile("generic")
