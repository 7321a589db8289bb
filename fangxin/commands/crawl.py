"""`fangxin crawl`, `fangxin schedule` and `fangxin ingest`."""

from __future__ import annotations

import json
import os
import sys

import click

from fangxin.commands.common import db_option, fail


def parse_setting(values: tuple[str, ...]) -> dict:
    """`-s NAME=VALUE` pairs; VALUE is read as JSON when it parses (numbers, lists, booleans)."""
    out = {}
    for pair in values:
        if "=" not in pair:
            fail(f"-s {pair}: expected NAME=VALUE", 2)
        name, value = pair.split("=", 1)
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


def check_packs(packs) -> None:
    """Refuse to start a crawl on a malformed pack: one line naming file, line and field."""
    import rules

    try:
        rules.load_engine(packs or None)
    except rules.PackError as exc:
        fail(str(exc), 2)


@click.command()
@click.argument("plan", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", "urls", multiple=True, help="Crawl this page (repeatable); an ad-hoc crawl without a plan.")
@click.option("--render", is_flag=True, help="Render --url pages in Chromium (scrapy-playwright) with a full-page screenshot.")
@click.option("-s", "--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy or FANGXIN_ setting for this crawl (repeatable), e.g. -s DOWNLOAD_DELAY=0.")
@click.option("--redis", "redis_url", default=None, metavar="URL",
              help="Distributed mode: run as a worker sharing the frontier on this Redis server "
                   "(redis://HOST:6379/0); captures go to Redis for `fangxin ingest`.")
@click.option("--crawl-id", default=None,
              help="Distributed mode: workers with the same id share one crawl (default: PLAN-YYYYMMDD).")
@db_option
def crawl(plan: str | None, urls: tuple[str, ...], render: bool, sets: tuple[str, ...], redis_url: str | None,
          crawl_id: str | None, db: str) -> None:
    """Run a crawl plan now, or fetch the given --url pages once each.

    \b
    Prints a live progress line (pages, pages/s, hits, errors) on stderr and a
    summary at the end. Exit status 0 when the crawl finished, 1 otherwise,
    2 for a bad plan or option, 3 when the plan is already running.
    A plan crawl killed or stopped before its end resumes when started again.
    With --redis the crawl is one worker of a distributed crawl (see crawlers/README.md).
    """
    from fangxin.paths import ensure_parent

    overrides = parse_setting(sets)
    if plan and urls:
        fail("give either PLAN.yaml or --url, not both", 2)
    if not plan and not urls:
        fail("nothing to crawl: give PLAN.yaml or --url URL", 2)
    check_packs(overrides.get("FANGXIN_RULE_PACKS"))
    from pipelines.store import utc_now

    ensure_parent(db)
    started = utc_now()
    if plan:
        from crawlers.plans import PlanError, load_plan
        from crawlers.run import PlanBusy, run_plan

        try:
            loaded = load_plan(plan)
        except PlanError as exc:
            fail(str(exc), 2)
        if redis_url:
            from crawlers.distributed import default_crawl_id, worker_settings

            overrides = worker_settings(redis_url, crawl_id or default_crawl_id(loaded.name)) | overrides
        try:
            stats = run_plan(loaded, db, overrides)
        except PlanBusy as exc:
            fail(str(exc), 3)
    else:
        if redis_url:
            fail("--redis works with a PLAN.yaml, not with --url", 2)
        for u in urls:
            if not u.startswith(("http://", "https://")):
                fail(f"--url {u}: only http:// and https:// URLs can be crawled", 2)
        from crawlers.run import run_urls

        stats = run_urls(list(urls), db, render=render, overrides=overrides)
    if not redis_url:
        evaluate_series(db, since=started)
    if stats.get("finish_reason") not in ("finished", "closespider_pagecount", "closespider_itemcount"):
        click.echo(f"crawl ended: {stats.get('finish_reason')}", err=True)
        sys.exit(1)


def evaluate_series(db: str, since: str) -> None:
    """Series rules (fake 原价, repeated urgency, static stock) over the products a crawl just saw."""
    from pipelines.series import evaluate
    from pipelines.store import Store

    with Store(db) as store:
        new = evaluate(store, None, since=since)
    if new:
        click.echo(f"序列规则 series rules: {len(new)} new hits", err=True)


@click.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-s", "--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Setting override passed to every crawl (repeatable).")
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--max-runs", type=int, default=None, help="Stop after starting this many runs in all.")
@db_option
def schedule(plans: tuple[str, ...], sets: tuple[str, ...], duration: float | None, max_runs: int | None,
             db: str) -> None:
    """Run PLAN.yaml files on their cron schedules, in the foreground.

    \b
    Each plan needs a `schedule:` cron expression (5 fields, or 6 with seconds
    last), read in the machine's local time. Each run is a `fangxin crawl`
    process recorded in crawl_runs (start, end, status, pages, hits, errors).
    A plan whose previous run is still going is not started again: that time
    is recorded as a `skipped` run. Plans of `kind: live` (crawlers/live/plans/)
    are watched by the room monitor for their `live.seconds` instead of crawled.
    Ctrl-C stops the scheduler; running crawls stop cleanly and resume at their
    next run.
    """
    from crawlers.live.plan import LivePlanError
    from crawlers.plans import PlanError, load_plan
    from crawlers.scheduler import Scheduler
    from fangxin.paths import ensure_parent

    loaded = []
    for path in plans:
        try:
            plan = LivePlan.load(path) if is_live_plan(path) else load_plan(path)
        except (PlanError, LivePlanError) as exc:
            fail(str(exc), 2)
        if not plan.schedule and not plan.watch_products:
            fail(f"{path}: schedule: the plan has neither a cron schedule nor watched products "
                 "(计划缺少 schedule 或 watch)", 2)
        loaded.append((path, plan))
    names = [p.name for _, p in loaded]
    if len(set(names)) != len(names):
        fail("two plans have the same name; names must differ (计划名称重复)", 2)
    ensure_parent(db)
    extra = [arg for pair in sets for arg in ("-s", pair)]
    Scheduler(loaded, db, extra).run(duration=duration, max_runs=max_runs)


def is_live_plan(path: str) -> bool:
    """A plan file whose top-level `kind` is `live` (watched by the room monitor, not crawled)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return False  # load_plan reports the problem with its file and line
    return isinstance(doc, dict) and doc.get("kind") == "live"


class LivePlan:
    """The few facts the scheduler needs of a live-room plan."""

    kind = "live"
    watch_products: list[str] = []
    watch_interval = None

    def __init__(self, data: dict):
        self.name = data["name"]
        self.schedule = data.get("schedule")

    @classmethod
    def load(cls, path: str) -> LivePlan:
        from crawlers.live.plan import load_live_plan

        return cls(load_live_plan(path))


@click.command()
@click.option("--redis", "redis_url", default=lambda: os.environ.get("FANGXIN_REDIS", "redis://127.0.0.1:6379/0"),
              show_default="$FANGXIN_REDIS or redis://127.0.0.1:6379/0", metavar="URL", help="The Redis server.")
@click.option("--key", default="fangxin:items", show_default=True, help="The Redis list the workers push to.")
@click.option("--idle-exit", type=float, default=None, metavar="SECONDS",
              help="Stop once the list stayed empty this long (default: run until Ctrl-C).")
@db_option
def ingest(redis_url: str, key: str, idle_exit: float | None, db: str) -> None:
    """Distributed mode: drain crawled items from Redis into the store, the single writer.

    \b
    Workers (`fangxin crawl PLAN.yaml --redis URL`) push their captures to a
    Redis list; this command writes them to the SQLite store with their WARC
    evidence and hits, one crawl_runs row per plan. An item is removed from
    Redis only once stored; items a killed ingest left behind are stored at
    the next start.
    """
    from crawlers.distributed import ingest as drain
    from fangxin.paths import ensure_parent
    from pipelines.store import utc_now

    ensure_parent(db)
    started = utc_now()
    try:
        counts = drain(redis_url, db, key, idle_exit, echo=lambda m: click.echo(m, err=True))
    except Exception as exc:  # redis.ConnectionError and friends: one line, not a traceback
        fail(f"ingest from {redis_url}: {type(exc).__name__}: {exc}")
    click.echo(f"入库 ingested {counts['items']} items: {counts['stored']} new captures, "
               f"{counts['seen']} unchanged", err=True)
    evaluate_series(db, since=started)
