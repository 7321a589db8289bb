"""EvidencePipeline (300): write each capture's WARC records and set item["warc"].

Also home of the per-crawl run context shared with `pipelines.save`: one
crawl_runs row per crawl, opened when the first of our pipelines opens and
finished on Scrapy's `spider_closed` signal with the finish reason and stats.
When `FANGXIN_TSA_URL` is set, the run's chain head is then timestamped
(RFC 3161) and the token stored.

Settings read: FANGXIN_DB, FANGXIN_EVIDENCE_DIR (default: `warc/` beside the
database), FANGXIN_OPERATOR (default: the OS user), FANGXIN_PLAN,
FANGXIN_WARC_MAX_BYTES, FANGXIN_TSA_URL, USER_AGENT, ROBOTSTXT_OBEY.
"""

from __future__ import annotations

import getpass
import logging
import platform
from pathlib import Path
from typing import Any

from scrapy import signals

from pipelines.store import Store
from pipelines.warc import WarcFiles, local_ip, payload_digest

logger = logging.getLogger(__name__)

RECORDED_SETTINGS = (
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "DOWNLOAD_DELAY",
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "AUTOTHROTTLE_ENABLED",
    "DEPTH_LIMIT",
    "DOWNLOAD_TIMEOUT",
    "FANGXIN_MAX_BODY_BYTES",
    "FANGXIN_PLAN",
    "FANGXIN_WARC_MAX_BYTES",
    "FANGXIN_TSA_URL",
    "FANGXIN_RULE_PACKS",
)


def software_versions() -> dict[str, str]:
    """Name and version of every tool taking part in a capture (for warcinfo and the report)."""
    from importlib import metadata

    from fangxin import __version__

    versions = {"Fangxin Watch": __version__, "Python": platform.python_version()}
    for dist in ("scrapy", "scrapy-playwright", "playwright", "warcio", "sqlite-utils"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def software_line() -> str:
    return "; ".join(f"{name}/{version}" for name, version in software_versions().items())


class RunContext:
    """The store, run row and WARC files of one crawl, shared by our pipelines."""

    def __init__(self, crawler: Any):
        settings = crawler.settings
        self.crawler = crawler
        self.db_path = settings.get("FANGXIN_DB") or "data/fangxin.db"
        self.store = Store(self.db_path)
        evidence_dir = settings.get("FANGXIN_EVIDENCE_DIR") or ""
        self.evidence_dir = (
            Path(evidence_dir) if evidence_dir else Path(self.db_path).resolve().parent / "warc"
        )
        self.operator = settings.get("FANGXIN_OPERATOR") or _os_user()
        self.plan = settings.get("FANGXIN_PLAN") or "adhoc"
        self.tsa_url = settings.get("FANGXIN_TSA_URL") or ""
        self.max_bytes = settings.getint("FANGXIN_WARC_MAX_BYTES", 256 * 1024 * 1024)
        self.user_agent = settings.get("USER_AGENT") or ""
        recorded = {k: settings.get(k) for k in RECORDED_SETTINGS if settings.get(k) is not None}
        recorded["FANGXIN_EVIDENCE_DIR"] = str(self.evidence_dir)
        self.run_id = self.store.start_run(self.plan, self.operator, recorded)
        self.warcs: WarcFiles | None = None
        self.finished = False
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def of(cls, crawler: Any) -> RunContext:
        ctx = getattr(crawler, "_fangxin_run", None)
        if ctx is None:
            ctx = cls(crawler)
            crawler._fangxin_run = ctx
        return ctx

    def warc_files(self) -> WarcFiles:
        if self.warcs is None:
            settings = self.crawler.settings
            info = {
                "software": software_line(),
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "operator": self.operator,
                "hostname": platform.node(),
                "ip": local_ip(),
                "http-header-user-agent": self.user_agent,
                "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY", True) else "ignore",
                "isPartOf": f"fangxin-run-{self.run_id}",
                "plan": self.plan,
                "description": "放心消费监测 crawl evidence (Fangxin Watch)",
            }
            self.warcs = WarcFiles(self.evidence_dir, self.run_id, info, self.max_bytes)
        return self.warcs

    def stored_name(self, file_name: str) -> str:
        """How the store names a WARC file: relative to the database's folder when inside it."""
        path = (self.evidence_dir / file_name).resolve()
        try:
            return path.relative_to(Path(self.db_path).resolve().parent).as_posix()
        except ValueError:
            return str(path)

    def close_warcs(self) -> None:
        if self.warcs is not None:
            self.warcs.close()

    def spider_closed(self, spider: Any = None, reason: str = "finished") -> None:
        if self.finished:
            return
        self.finished = True
        self.close_warcs()
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        head = self.store.finish_run(self.run_id, reason, stats)
        if self.tsa_url:
            stamp_run(self.store, self.run_id, head, self.tsa_url)
        self.store.close()


def stamp_run(store: Store, run_id: int, head: str, tsa_url: str) -> int | None:
    """Request an RFC 3161 token over a run's chain head and store it; None (logged) on failure."""
    from pipelines.tsa import TimestampError, request_timestamp

    try:
        token = request_timestamp(tsa_url, head)
    except TimestampError as exc:
        logger.error("timestamp of run %s failed: %s", run_id, exc)
        return None
    return store.add_timestamp(run_id, head, tsa_url, token.response, token.gen_time)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class EvidencePipeline:
    """Writes request/response/resource/metadata WARC records per capture (revisit when unchanged)."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.ctx: RunContext | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> EvidencePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        self.ctx = RunContext.of(self.crawler)

    def close_spider(self, spider: Any = None) -> None:
        if self.ctx is not None:
            self.ctx.close_warcs()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        ctx = self.ctx or RunContext.of(self.crawler)
        self.ctx = ctx
        warcs = ctx.warc_files()
        body = item.get("body")
        url = item.get("url")
        latest = ctx.store.latest_capture(url) if url and body is not None and not item.get("error") else None
        body_sha = item.get("body_sha256")
        if body_sha is None and body is not None:
            import hashlib

            body_sha = hashlib.sha256(body).hexdigest()
        if latest and latest.get("body_sha256") == body_sha and latest.get("status") == item.get("status"):
            location = warcs.write_revisit(
                item, latest.get("final_url") or latest["url"], latest["fetched_at"], payload_digest(body)
            )
        else:
            location = warcs.write_capture(item, item.get("hits"))
        item["warc"] = {**location.as_dict(), "file": ctx.stored_name(location.file)}
        if self.crawler.stats:
            self.crawler.stats.inc_value("fangxin/warc_bytes", location.length)
        return item
