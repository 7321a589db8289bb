"""Live-room plans (`kind: live`): which rooms to watch, for how long, and when.

    kind: live
    name: evening-rooms              # recorded with the run (default: file name)
    sector: livestream
    seeds: [https://…/room/1, …]     # room URLs, watched at once in one Chromium
    live: {seconds: 300, shot_every: 5, ocr: true, speech: none, speech_model: "", segment_seconds: 10,
           profile: NAME}            # every key optional; defaults as `fangxin live`
    schedule: "*/30 19-23 * * *"     # for the scheduler

`${NAME}` is replaced from the environment (or `variables`) as in crawl plans.
Run now: `python -m crawlers.live.plan PLAN.yaml --db PATH` (exit 0, one JSON
line of figures; 2 for a bad plan). The scheduler starts the same command for
plans whose `kind` is `live`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

from crawlers.live.monitor import Options

LIVE_KEYS = {"seconds", "shot_every", "ocr", "speech", "speech_model", "segment_seconds", "profile"}
TOP_KEYS = {"kind", "name", "sector", "description", "seeds", "live", "schedule", "politeness"}
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class LivePlanError(ValueError):
    pass


def load_live_plan(path: str | Path, variables: dict[str, str] | None = None) -> dict:
    path = Path(path)
    values = {**os.environ, **(variables or {})}
    text = path.read_text(encoding="utf-8")
    missing = sorted({m for m in VAR.findall(text) if m not in values})
    if missing:
        raise LivePlanError(f"{path.name}: undefined variable(s) {', '.join(missing)} (未定义变量)")
    data = yaml.safe_load(VAR.sub(lambda m: values[m.group(1)], text)) or {}
    if data.get("kind") != "live":
        raise LivePlanError(f"{path.name}: not a live plan (kind: live)")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise LivePlanError(f"{path.name}: unknown key(s) {', '.join(sorted(unknown))}")
    seeds = data.get("seeds") or []
    if not seeds or not all(isinstance(s, str) and s.startswith(("http://", "https://")) for s in seeds):
        raise LivePlanError(f"{path.name}: seeds must be a non-empty list of http(s) room URLs")
    live = data.get("live") or {}
    if set(live) - LIVE_KEYS:
        raise LivePlanError(f"{path.name}: unknown live key(s) {', '.join(sorted(set(live) - LIVE_KEYS))}")
    if float(live.get("seconds", 300)) <= 0:
        raise LivePlanError(f"{path.name}: live.seconds must be positive")
    data.setdefault("name", path.stem)
    return data


def plan_options(plan: dict) -> Options:
    live = plan.get("live") or {}
    return Options(
        seconds=float(live.get("seconds", 300)), shot_every=float(live.get("shot_every", 5)),
        ocr=bool(live.get("ocr", True)), speech=str(live.get("speech", "none")),
        speech_model=str(live.get("speech_model", "") or os.environ.get("FANGXIN_SPEECH_MODEL", "")),
        segment_seconds=float(live.get("segment_seconds", 10)),
    )  # fmt: skip


def run_live_plan(plan: dict, db: str) -> dict:
    from crawlers.live.record import monitor

    options = plan_options(plan)
    profile = (plan.get("live") or {}).get("profile")
    return monitor(plan["seeds"], options.seconds, db, options=options, profile=profile, plan=plan["name"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crawlers.live.plan", description="Run a live-room plan now.")
    ap.add_argument("plan")
    ap.add_argument("--db", default=os.environ.get("FANGXIN_DB", "data/fangxin.db"))
    ap.add_argument("--seconds", type=float, default=None, help="Override live.seconds.")
    args = ap.parse_args(argv)
    try:
        plan = load_live_plan(args.plan)
    except (LivePlanError, OSError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.seconds:
        plan.setdefault("live", {})["seconds"] = args.seconds
    result = run_live_plan(plan, args.db)
    figures = {"run_id": result["run_id"], **result["stats"],
               "captures": [r["capture_id"] for r in result["rooms"]]}  # fmt: skip
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
