"""The SQLite store: the one module that knows the database schema.

Everything Fangxin Watch keeps lives in one SQLite file (WAL mode, foreign keys
on), readable with any SQLite tool (sqlite-utils, Datasette). The schema is
built by the numbered migrations in `MIGRATIONS`; a database written by an
older version is upgraded when it is opened, and no migration ever drops a
table. Applied migrations are listed in `schema_migrations`.

Writes that belong together are one transaction (`BEGIN IMMEDIATE` ... `COMMIT`):
a capture, its merchant, its evidence location, its hits, its prices and its
full-text row land together or not at all, so a crawl killed with SIGKILL
leaves a consistent database holding every capture it reported as stored.

Captures and the audit log are hash chains (see `pipelines.chain`): each
entry's hash folds in the previous one, computed inside the write
transaction, so the chain order is the commit order.

Public API (used by the crawl, the review UI and the commands):

    store = Store(path)
    run_id = store.start_run(plan, operator, settings)
    store.finish_run(run_id, status, stats)
    capture_id = store.save_capture(run_id, capture, hits)
    result = store.save_capture_result(run_id, capture, hits)   # SaveResult(capture_id, new, hits_stored)
    store.latest_capture(url) -> dict | None
    store.iter_hits(state=None, since=None) -> Iterator[dict]    # `fangxin hits --jsonl` lines
    store.append_audit(actor, action, object_type, object_id, detail) -> int
    store.verify_captures() / store.verify_audit() -> ChainReport
    store.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from pipelines import chain

UTC = dt.UTC
CST = dt.timezone(dt.timedelta(hours=8), "+08:00")

HIT_STATES = ("new", "triaged", "confirmed", "false_positive", "ignored", "promoted")
# Working days an inspector has to verify a monitoring lead (市场监督管理行政处罚程序规定 第十八条: 15 working days).
VERIFY_WORKING_DAYS = 15


# --------------------------------------------------------------------------- time helpers


def utc_now() -> str:
    """Now in UTC, ISO 8601 with milliseconds and "Z" (the store's one time format)."""
    return format_utc(dt.datetime.now(UTC))


def format_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> dt.datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as China time (+08:00)."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00"
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    return moment


def normalize_time(value: str | None) -> str:
    """Any ISO 8601 time → the store's UTC format; empty → now."""
    if not value:
        return utc_now()
    return format_utc(parse_time(value))


def to_cst(value: str) -> str:
    """A stored UTC time shown in China time with its offset, e.g. 2025-06-01 20:00:00 +08:00."""
    return parse_time(value).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S +08:00")


def add_working_days(start: dt.date, days: int) -> dt.date:
    """`start` plus `days` working days (Monday-Friday; public holidays are not modelled)."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


# --------------------------------------------------------------------------- small helpers


def _process_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (it may belong to another user)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _loads(value: str | None, default: Any = None) -> Any:
    if value is None or value == "":
        return default
    return json.loads(value)


def normalize_match(text: str) -> str:
    """The form of a matched phrase used in dedupe fingerprints: NFKC, lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def hit_fingerprint(merchant_key: str, rule: str, match: str) -> str:
    raw = f"{merchant_key}\x1f{rule}\x1f{normalize_match(match)}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _domain(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def capture_text(capture: Mapping[str, Any]) -> str:
    """The searchable text of a capture: its extracted fields, one per paragraph."""
    fields = capture.get("fields") or {}
    parts: list[str] = []
    for key in sorted(fields):
        value = fields[key]
        if isinstance(value, str):
            parts.append(value)
        elif value is not None:
            parts.append(json.dumps(value, ensure_ascii=False))
    return "\n\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- migrations
#
# Numbered, append-only. Never edit a released migration and never drop a table:
# add a new migration instead. Each runs in its own transaction together with its
# schema_migrations row.

M1_CORE = """
CREATE TABLE crawl_runs (
    id INTEGER PRIMARY KEY,
    plan TEXT NOT NULL,
    operator TEXT NOT NULL,
    settings TEXT,                -- JSON
    hostname TEXT,
    software TEXT,
    pid INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    stats TEXT                    -- JSON
);
CREATE TABLE merchants (
    id INTEGER PRIMARY KEY,
    name TEXT,
    credit_code TEXT,             -- 统一社会信用代码
    domain TEXT,
    sector TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE UNIQUE INDEX merchants_credit_code ON merchants(credit_code) WHERE credit_code IS NOT NULL;
CREATE UNIQUE INDEX merchants_name_domain ON merchants(name, domain) WHERE credit_code IS NULL;
CREATE TABLE captures (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
    url TEXT NOT NULL,
    final_url TEXT,
    method TEXT,
    status INTEGER,
    content_type TEXT,
    encoding TEXT,
    render TEXT,
    remote_ip TEXT,
    fetched_at TEXT NOT NULL,     -- UTC ISO 8601 "Z"
    body_sha256 TEXT,
    body_length INTEGER,
    truncated INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    sector TEXT,
    plan TEXT,
    merchant_id INTEGER REFERENCES merchants(id),
    request_headers TEXT,         -- JSON
    response_headers TEXT,        -- JSON
    fields TEXT,                  -- JSON: extracted fields
    text TEXT,                    -- searchable text (captures_fts)
    error TEXT,
    screenshot_sha256 TEXT,
    dom_sha256 TEXT,
    warc_file TEXT,               -- file name inside the evidence folder
    warc_offset INTEGER,
    warc_length INTEGER,
    warc_sha256 TEXT,             -- SHA-256 of the capture's WARC bytes [offset, offset+length)
    record_sha256 TEXT,           -- chain: SHA-256 of the capture's canonical payload
    chain_prev TEXT,              -- chain: previous capture's chain hash
    chain_hash TEXT               -- chain: sha256(chain_prev ":" record_sha256)
);
CREATE INDEX captures_url ON captures(url, id);
CREATE INDEX captures_run ON captures(run_id);
CREATE INDEX captures_merchant ON captures(merchant_id);
CREATE TABLE hits (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    run_id INTEGER REFERENCES crawl_runs(id),
    merchant_id INTEGER REFERENCES merchants(id),
    rule TEXT NOT NULL,
    pack TEXT,
    pack_version TEXT,
    category TEXT,
    severity TEXT,
    confidence REAL,
    law TEXT,
    legal TEXT,                   -- JSON: the citation(s)
    message TEXT,
    field TEXT,
    span_start INTEGER,
    span_end INTEGER,
    match TEXT,
    excerpt TEXT,
    extracted TEXT,               -- JSON
    exceptions TEXT,              -- JSON
    fingerprint TEXT NOT NULL,    -- dedupe: merchant, rule, normalised match
    duplicate_of INTEGER REFERENCES hits(id),
    state TEXT NOT NULL DEFAULT 'new',
    assignee TEXT,
    due_at TEXT,
    captured_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX hits_capture ON hits(capture_id);
CREATE TABLE prices (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    merchant_id INTEGER REFERENCES merchants(id),
    url TEXT NOT NULL,
    product TEXT,
    label TEXT,
    amount REAL,
    currency TEXT NOT NULL DEFAULT 'CNY',
    kind TEXT,                    -- current | reference
    observed_at TEXT NOT NULL
);
CREATE INDEX prices_url ON prices(url, observed_at);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT,
    role TEXT NOT NULL,           -- inspector | supervisor | rule_author | auditor | admin
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    hit_id INTEGER NOT NULL REFERENCES hits(id),
    user_id INTEGER REFERENCES users(id),
    actor TEXT NOT NULL,
    verdict TEXT NOT NULL,        -- the hit state chosen: confirmed | false_positive | ignored | ...
    previous_state TEXT,
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX decisions_hit ON decisions(hit_id);
CREATE TABLE leads (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    merchant_id INTEGER REFERENCES merchants(id),
    source TEXT NOT NULL DEFAULT 'monitoring',   -- 监督检查 | 投诉 | 举报 | 移送 | 交办 | monitoring
    state TEXT NOT NULL DEFAULT 'registered',    -- 登记 → 核查 → 立案 | 不予立案 | 移送 ...
    created_by TEXT,
    assignee TEXT,
    due_at TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE lead_hits (
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    hit_id INTEGER NOT NULL REFERENCES hits(id),
    PRIMARY KEY (lead_id, hit_id)
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    detail TEXT,                  -- JSON
    record_sha256 TEXT NOT NULL,
    chain_prev TEXT NOT NULL,
    chain_hash TEXT NOT NULL
);
"""

M2_FTS = """
CREATE VIRTUAL TABLE captures_fts USING fts5(title, text, content='captures', content_rowid='id', tokenize='trigram');
INSERT INTO captures_fts(rowid, title, text) SELECT id, title, text FROM captures;
"""

M3_RECRAWL_TIMESTAMPS = """
ALTER TABLE captures ADD COLUMN seen_count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE captures ADD COLUMN last_seen_at TEXT;
ALTER TABLE captures ADD COLUMN previous_id INTEGER REFERENCES captures(id);
UPDATE captures SET last_seen_at = fetched_at WHERE last_seen_at IS NULL;
CREATE TABLE captures_seen (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
    seen_at TEXT NOT NULL,
    status INTEGER,
    warc_file TEXT,
    warc_offset INTEGER,
    warc_length INTEGER
);
CREATE INDEX captures_seen_capture ON captures_seen(capture_id);
ALTER TABLE crawl_runs ADD COLUMN chain_head TEXT;
CREATE TABLE timestamps (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES crawl_runs(id),
    chain_hash TEXT NOT NULL,     -- the timestamped value (hex SHA-256)
    tsa_url TEXT NOT NULL,
    token BLOB NOT NULL,          -- DER TimeStampResp as returned by the TSA
    gen_time TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX timestamps_run ON timestamps(run_id);
"""

M4_QUEUE_INDEXES = """
CREATE INDEX hits_state ON hits(state, severity, captured_at);
CREATE INDEX hits_severity ON hits(severity);
CREATE INDEX hits_fingerprint ON hits(fingerprint, id);
CREATE INDEX hits_captured_at ON hits(captured_at);
CREATE INDEX hits_assignee ON hits(assignee, state);
CREATE INDEX hits_rule ON hits(rule);
CREATE INDEX hits_due ON hits(due_at) WHERE state IN ('new', 'triaged');
CREATE INDEX lead_hits_hit ON lead_hits(hit_id);
CREATE INDEX leads_state ON leads(state, due_at);
CREATE INDEX audit_object ON audit_log(object_type, object_id);
"""

M5_TRIAGE_UNDO = """
ALTER TABLE decisions ADD COLUMN batch_id INTEGER;
ALTER TABLE decisions ADD COLUMN undo_of INTEGER REFERENCES decisions(id);
ALTER TABLE decisions ADD COLUMN undone_at TEXT;
ALTER TABLE decisions ADD COLUMN lead_id INTEGER REFERENCES leads(id);
CREATE INDEX decisions_actor ON decisions(actor, id);
CREATE INDEX leads_merchant ON leads(merchant_id, state);
"""

M6_LEAD_WORKFLOW = """
ALTER TABLE leads ADD COLUMN filing_request TEXT;
ALTER TABLE leads ADD COLUMN officers TEXT;
ALTER TABLE leads ADD COLUMN filed_at TEXT;
ALTER TABLE leads ADD COLUMN decision_due_at TEXT;
ALTER TABLE leads ADD COLUMN verify_extended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN supervised_due_at TEXT;
ALTER TABLE leads ADD COLUMN supervised_by TEXT;
CREATE TABLE lead_events (
    id INTEGER PRIMARY KEY,
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    actor TEXT NOT NULL,
    reason TEXT,
    legal_basis TEXT,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE INDEX lead_events_lead ON lead_events(lead_id, id);
"""

M7_QUEUE_ORDER_INDEX = """
CREATE INDEX hits_queue ON hits(state, severity, due_at, confidence DESC, id);
"""

M8_SAVED_VIEWS = """
CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,          -- the queue's filter query string, built by the review UI
    created_at TEXT NOT NULL,
    UNIQUE (username, name)
);
"""

M10_CAPTURE_SECTOR_INDEX = """
CREATE INDEX captures_sector ON captures(sector);
"""

M9_PUBLICATIONS = """
CREATE TABLE publications (
    id INTEGER PRIMARY KEY,
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    kind TEXT NOT NULL,           -- typical_case (典型案例) | consumer_warning (消费预警)
    title TEXT NOT NULL,
    summary TEXT NOT NULL,        -- redacted text as published
    body TEXT,                    -- JSON: the published facts (redacted)
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE INDEX publications_published ON publications(published_at);
"""

M11_HIT_CAPTURES = """
CREATE TABLE hit_captures (
    hit_id INTEGER NOT NULL REFERENCES hits(id),
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    observed_at TEXT,             -- first observation of this capture in the proof
    seen_ids TEXT,                -- JSON: captures_seen rows (re-observations of an unchanged page) in the proof
    PRIMARY KEY (hit_id, capture_id)
);
CREATE INDEX hit_captures_capture ON hit_captures(capture_id);
CREATE INDEX prices_capture ON prices(capture_id);
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "core tables", M1_CORE),
    (2, "full-text search over captures (FTS5, trigram)", M2_FTS),
    (3, "recrawl observations, run chain heads, RFC 3161 timestamps", M3_RECRAWL_TIMESTAMPS),
    (4, "review queue indexes", M4_QUEUE_INDEXES),
    (5, "triage decisions: batches, undo, lead links", M5_TRIAGE_UNDO),
    (6, "lead workflow: transitions, filing approval, officers, clocks, 挂牌督办", M6_LEAD_WORKFLOW),
    (7, "review queue order index (state, severity, due date, confidence)", M7_QUEUE_ORDER_INDEX),
    (8, "saved queue views per user", M8_SAVED_VIEWS),
    (9, "publications: typical cases and consumer warnings", M9_PUBLICATIONS),
    (10, "captures by sector (queue filter list)", M10_CAPTURE_SECTOR_INDEX),
    (11, "series hits: the captures that prove them", M11_HIT_CAPTURES),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals)."""
    statements = []
    for chunk in script.split(";"):
        lines = [line.split("--", 1)[0] if "--" in line else line for line in chunk.splitlines()]
        stmt = "\n".join(lines).strip()
        if stmt:
            statements.append(stmt)
    return statements


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SaveResult:
    capture_id: int
    new: bool  # False: unchanged page seen again (no new capture, no hits stored)
    hits_stored: int


@dataclass(frozen=True)
class ChainReport:
    name: str  # "captures" | "audit_log"
    checked: int
    head: str
    broken: chain.Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


class StoreError(RuntimeError):
    pass


# --------------------------------------------------------------------------- the store


class Store:
    """One SQLite database, opened (and created or upgraded) at `path`."""

    def __init__(self, path: str | os.PathLike, *, durable: bool = True, migrate: bool = True):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Driver-level autocommit: transactions are opened explicitly by `transaction()`.
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self.db = sqlite_utils.Database(conn)
        conn.execute("PRAGMA busy_timeout = 30000")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed capture survives power loss too, not only a killed process.
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        self.conn = conn
        if migrate:
            self.migrate()

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock is taken at once)."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            try:
                if self.path != ":memory:":
                    self.conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        row = cur.fetchone()
        return dict(zip(cols, row, strict=True)) if row is not None else None

    def _all(self, sql: str, params: tuple | list = ()) -> list[dict]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    # ----------------------------------------------------------------- migrations

    def schema_version(self) -> int:
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = self.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def migrate(self, upto: int | None = None) -> list[int]:
        """Apply pending migrations (up to `upto`), each in its own transaction. Returns the versions applied."""
        applied: list[int] = []
        with self._lock:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            for version, name, script in MIGRATIONS:
                if upto is not None and version > upto:
                    break
                with self.transaction() as conn:
                    # re-checked under the write lock: another process may have migrated meanwhile
                    if conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                    ).fetchone():
                        continue
                    for statement in _split_sql(script):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                        (version, name, utc_now()),
                    )
                    applied.append(version)
        return applied

    # ----------------------------------------------------------------- crawl runs

    def start_run(self, plan: str, operator: str, settings: dict | None = None) -> int:
        import platform

        from fangxin import __version__

        with self.transaction() as conn:
            # Runs of this host whose process is gone were killed (SIGKILL, power loss): close them,
            # so a resumed crawl does not leave its predecessor "running" for ever.
            stale = conn.execute(
                "SELECT id, pid FROM crawl_runs WHERE status = 'running' AND hostname = ?", (platform.node(),)
            ).fetchall()
            for stale_id, pid in stale:
                if pid and not _process_alive(pid):
                    conn.execute(
                        "UPDATE crawl_runs SET status = 'killed', finished_at = ? WHERE id = ?", (utc_now(), stale_id)
                    )
            cur = conn.execute(
                "INSERT INTO crawl_runs(plan, operator, settings, hostname, software, pid, started_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                (
                    plan,
                    operator,
                    _json(settings or {}),
                    platform.node(),
                    f"Fangxin Watch {__version__}",
                    os.getpid(),
                    utc_now(),
                ),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, stats: dict | None = None) -> str:
        """Close a run; records and returns the capture chain head at that moment."""
        with self.transaction() as conn:
            head = self._chain_head(conn)
            conn.execute(
                "UPDATE crawl_runs SET finished_at = ?, status = ?, stats = ?, chain_head = ? WHERE id = ?",
                (utc_now(), status, _json(stats or {}), head, run_id),
            )
        return head

    def get_run(self, run_id: int) -> dict | None:
        row = self._one("SELECT * FROM crawl_runs WHERE id = ?", (run_id,))
        if row:
            row["settings"] = _loads(row["settings"], {})
            row["stats"] = _loads(row["stats"], {})
        return row

    def _chain_head(self, conn: sqlite3.Connection) -> str:
        row = conn.execute(
            "SELECT chain_hash FROM captures WHERE chain_hash IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else chain.GENESIS

    def chain_head(self) -> str:
        return self._chain_head(self.conn)

    # ----------------------------------------------------------------- captures

    def latest_capture(self, url: str) -> dict | None:
        """The newest stored version of `url` (a captures row with JSON columns decoded), or None."""
        row = self._one("SELECT * FROM captures WHERE url = ? ORDER BY id DESC LIMIT 1", (url,))
        return self._decode_capture(row) if row else None

    def get_capture(self, capture_id: int) -> dict | None:
        row = self._one("SELECT * FROM captures WHERE id = ?", (capture_id,))
        return self._decode_capture(row) if row else None

    @staticmethod
    def _decode_capture(row: dict) -> dict:
        for key in ("request_headers", "response_headers", "fields"):
            row[key] = _loads(row.get(key), {})
        return row

    def save_capture(self, run_id: int, capture: Mapping[str, Any], hits: list[dict] | None = None) -> int:
        """Store one capture with its hits in one transaction; returns the capture id.

        An unchanged page (same URL and body hash as the newest stored version)
        is recorded as seen again and returns the existing capture's id.
        """
        return self.save_capture_result(run_id, capture, hits).capture_id

    def save_capture_result(
        self, run_id: int, capture: Mapping[str, Any], hits: list[dict] | None = None
    ) -> SaveResult:
        hits = list(hits or [])
        url = capture.get("url") or capture.get("final_url")
        if not url:
            raise StoreError("capture has no url / 采集记录缺少 URL")
        fetched_at = normalize_time(capture.get("fetched_at"))
        body = capture.get("body")
        body_sha = capture.get("body_sha256") or (
            hashlib.sha256(body).hexdigest() if body is not None else None
        )
        warc = capture.get("warc") or {}

        with self.transaction() as conn:
            latest = conn.execute(
                "SELECT id, body_sha256, status FROM captures WHERE url = ? ORDER BY id DESC LIMIT 1", (url,)
            ).fetchone()
            if (
                latest is not None
                and body_sha is not None
                and latest[1] == body_sha
                and latest[2] == capture.get("status")
                and not capture.get("error")
            ):
                conn.execute(
                    "INSERT INTO captures_seen(capture_id, run_id, seen_at, status, warc_file, warc_offset, warc_length) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        latest[0],
                        run_id,
                        fetched_at,
                        capture.get("status"),
                        warc.get("file"),
                        warc.get("offset"),
                        warc.get("length"),
                    ),
                )
                conn.execute(
                    "UPDATE captures SET seen_count = seen_count + 1, last_seen_at = ? WHERE id = ?",
                    (fetched_at, latest[0]),
                )
                return SaveResult(int(latest[0]), False, 0)

            merchant_id = self._upsert_merchant(
                conn, capture.get("merchant"), capture.get("sector"), fetched_at
            )
            fields = capture.get("fields") or {}
            text = capture_text(capture)
            title = capture.get("title") or fields.get("title")
            screenshot = capture.get("screenshot")
            shot_sha = capture.get("screenshot_sha256") or (
                hashlib.sha256(screenshot).hexdigest() if screenshot else None
            )
            dom = capture.get("dom")
            dom_sha = (
                hashlib.sha256(dom.encode("utf-8")).hexdigest() if isinstance(dom, str) and dom else None
            )
            cur = conn.execute(
                """INSERT INTO captures(run_id, url, final_url, method, status, content_type, encoding, render,
                       remote_ip, fetched_at, body_sha256, body_length, truncated, title, sector, plan, merchant_id,
                       request_headers, response_headers, fields, text, error, screenshot_sha256, dom_sha256,
                       warc_file, warc_offset, warc_length, warc_sha256, seen_count, last_seen_at, previous_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)""",
                (
                    run_id,
                    url,
                    capture.get("final_url") or url,
                    capture.get("method") or "GET",
                    capture.get("status"),
                    capture.get("content_type"),
                    capture.get("encoding"),
                    capture.get("render") or "static",
                    capture.get("remote_ip"),
                    fetched_at,
                    body_sha,
                    len(body) if body is not None else None,
                    1 if capture.get("truncated") else 0,
                    title,
                    capture.get("sector"),
                    capture.get("plan"),
                    merchant_id,
                    _json(capture.get("request_headers") or capture.get("headers_sent") or {}),
                    _json(capture.get("response_headers") or capture.get("headers") or {}),
                    _json(fields),
                    text,
                    capture.get("error"),
                    shot_sha,
                    dom_sha,
                    warc.get("file"),
                    warc.get("offset"),
                    warc.get("length"),
                    warc.get("sha256"),
                    fetched_at,
                    latest[0] if latest is not None else None,
                ),
            )
            capture_id = int(cur.lastrowid)
            conn.execute(
                "INSERT INTO captures_fts(rowid, title, text) VALUES (?, ?, ?)",
                (capture_id, title or "", text),
            )

            stored = 0
            if not capture.get("error"):
                merchant_key = (
                    f"m{merchant_id}" if merchant_id else f"d{_domain(capture.get('final_url') or url)}"
                )
                due = add_working_days(
                    parse_time(fetched_at).astimezone(CST).date(), VERIFY_WORKING_DAYS
                ).isoformat()
                now = utc_now()
                for hit in hits:
                    fp = hit_fingerprint(merchant_key, hit.get("rule", ""), hit.get("match") or "")
                    first = conn.execute(
                        "SELECT id, duplicate_of FROM hits WHERE fingerprint = ? ORDER BY id LIMIT 1", (fp,)
                    ).fetchone()
                    duplicate_of = (first[1] or first[0]) if first else None
                    conn.execute(
                        """INSERT INTO hits(capture_id, run_id, merchant_id, rule, pack, pack_version, category,
                               severity, confidence, law, legal, message, field, span_start, span_end, match,
                               excerpt, extracted, exceptions, fingerprint, duplicate_of, state, due_at,
                               captured_at, created_at, updated_at)
                           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'new',?,?,?,?)""",
                        (
                            capture_id,
                            run_id,
                            merchant_id,
                            hit.get("rule") or "",
                            hit.get("pack"),
                            None if hit.get("pack_version") is None else str(hit.get("pack_version")),
                            hit.get("category"),
                            hit.get("severity"),
                            hit.get("confidence"),
                            hit.get("law"),
                            _json(hit.get("legal")),
                            hit.get("message"),
                            hit.get("field"),
                            hit.get("start"),
                            hit.get("end"),
                            hit.get("match"),
                            hit.get("excerpt"),
                            _json(hit.get("extracted")),
                            _json(hit.get("exceptions")),
                            fp,
                            duplicate_of,
                            due,
                            fetched_at,
                            now,
                            now,
                        ),
                    )
                    stored += 1

            for price in capture.get("prices") or []:
                conn.execute(
                    "INSERT INTO prices(capture_id, merchant_id, url, product, label, amount, currency, kind, observed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        capture_id,
                        merchant_id,
                        url,
                        price.get("product") or title,
                        price.get("label"),
                        price.get("amount"),
                        price.get("currency") or "CNY",
                        price.get("kind"),
                        fetched_at,
                    ),
                )

            # chain link, computed under the write lock so that chain order == commit order
            prev = self._chain_head(conn)
            payload = self._capture_payload(conn, capture_id)
            rec = chain.record_hash(payload)
            conn.execute(
                "UPDATE captures SET record_sha256 = ?, chain_prev = ?, chain_hash = ? WHERE id = ?",
                (rec, prev, chain.link(prev, rec), capture_id),
            )
            return SaveResult(capture_id, True, stored)

    def _upsert_merchant(
        self, conn: sqlite3.Connection, merchant: Mapping | None, sector: str | None, now: str
    ) -> int | None:
        if not merchant:
            return None
        name = (merchant.get("name") or "").strip() or None
        code = (merchant.get("credit_code") or "").strip().upper() or None
        domain = (merchant.get("domain") or "").strip().lower() or None
        if code:
            row = conn.execute("SELECT id FROM merchants WHERE credit_code = ?", (code,)).fetchone()
        elif name:
            row = conn.execute(
                "SELECT id FROM merchants WHERE credit_code IS NULL AND name = ? AND domain IS ?",
                (name, domain),
            ).fetchone()
        else:
            return None
        if row:
            conn.execute(
                "UPDATE merchants SET last_seen = ?, name = COALESCE(name, ?), domain = COALESCE(domain, ?), "
                "sector = COALESCE(sector, ?) WHERE id = ?",
                (now, name, domain, sector, row[0]),
            )
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO merchants(name, credit_code, domain, sector, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
            (name, code, domain, sector, now, now),
        )
        return int(cur.lastrowid)

    def get_merchant(self, merchant_id: int) -> dict | None:
        return self._one("SELECT * FROM merchants WHERE id = ?", (merchant_id,))

    # The capture chain's payload: what was fixed at capture time, rebuilt from the stored rows,
    # so that changing any of these columns (or a hit's matched text) breaks the chain.
    CHAIN_COLUMNS = (
        "id", "run_id", "url", "final_url", "method", "status", "content_type", "render", "remote_ip",
        "fetched_at", "body_sha256", "body_length", "truncated", "error", "screenshot_sha256", "dom_sha256",
        "warc_file", "warc_offset", "warc_length", "warc_sha256",
    )  # fmt: skip

    def _capture_payload(self, conn: sqlite3.Connection, capture_id: int, row: Mapping | None = None) -> dict:
        if row is None:
            cols = ", ".join(self.CHAIN_COLUMNS)
            values = conn.execute(f"SELECT {cols} FROM captures WHERE id = ?", (capture_id,)).fetchone()  # noqa: S608
            row = dict(zip(self.CHAIN_COLUMNS, values, strict=True))
        payload = {key: row[key] for key in self.CHAIN_COLUMNS}
        hits = conn.execute(
            "SELECT rule, pack_version, field, span_start, span_end, match FROM hits WHERE capture_id = ? ORDER BY id",
            (capture_id,),
        ).fetchall()
        payload["hits"] = [list(h) for h in hits]
        return payload

    def capture_chain_payload(self, capture_id: int) -> dict:
        return self._capture_payload(self.conn, capture_id)

    def search_captures(self, query: str, limit: int = 50) -> list[dict]:
        """Captures whose title or text contains `query` (FTS5 trigram; LIKE for queries under 3 characters)."""
        q = query.strip()
        if len(q) >= 3:
            phrase = '"' + q.replace('"', '""') + '"'
            sql = (
                "SELECT c.id, c.url, c.title, c.fetched_at FROM captures_fts f JOIN captures c ON c.id = f.rowid "
                "WHERE captures_fts MATCH ? ORDER BY c.id DESC LIMIT ?"
            )
            return self._all(sql, (phrase, limit))
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._all(
            "SELECT id, url, title, fetched_at FROM captures WHERE title LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\' "
            "ORDER BY id DESC LIMIT ?",
            (like, like, limit),
        )

    # ----------------------------------------------------------------- hits

    # A series hit hangs on a series record (url urn:fangxin:series:…); export the product page's URL.
    HIT_EXPORT_SQL = (
        "SELECT h.id, CASE WHEN c.render = 'series' THEN c.final_url ELSE c.url END AS url, h.rule, "
        "h.category, h.severity, h.law, h.field, h.match, h.excerpt, h.state, h.captured_at FROM hits h JOIN captures c ON c.id = h.capture_id"
    )

    def iter_hits(self, state: str | None = None, since: str | None = None) -> Iterator[dict]:
        """Stored hits in id order, as the lines of `fangxin hits --jsonl`.

        `since` is an ISO 8601 date or time (naive values are China time); hits captured at or after it.
        """
        where, params = [], []
        if state:
            where.append("h.state = ?")
            params.append(state)
        if since:
            where.append("h.captured_at >= ?")
            params.append(normalize_time(since))
        sql = self.HIT_EXPORT_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY h.id"
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        for row in cur:
            yield dict(zip(cols, row, strict=True))

    def get_hit(self, hit_id: int) -> dict | None:
        row = self._one("SELECT * FROM hits WHERE id = ?", (hit_id,))
        if row:
            for key in ("legal", "extracted", "exceptions"):
                row[key] = _loads(row[key])
        return row

    def hits_for_capture(self, capture_id: int) -> list[dict]:
        return [
            self.get_hit(r["id"])
            for r in self._all("SELECT id FROM hits WHERE capture_id = ? ORDER BY id", (capture_id,))
        ]

    def set_hit_state(
        self, hit_id: int, state: str, actor: str, note: str | None = None, user_id: int | None = None
    ) -> int:
        """Record a reviewer's decision: the hit's new state, a decisions row and an audit row, in one transaction."""
        if state not in HIT_STATES:
            raise StoreError(f"unknown hit state {state!r} (one of {', '.join(HIT_STATES)}) / 未知状态")
        with self.transaction() as conn:
            row = conn.execute("SELECT state FROM hits WHERE id = ?", (hit_id,)).fetchone()
            if row is None:
                raise StoreError(f"no hit {hit_id} / 线索命中 {hit_id} 不存在")
            now = utc_now()
            conn.execute("UPDATE hits SET state = ?, updated_at = ? WHERE id = ?", (state, now, hit_id))
            cur = conn.execute(
                "INSERT INTO decisions(hit_id, user_id, actor, verdict, previous_state, note, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hit_id, user_id, actor, state, row[0], note, now),
            )
            self._append_audit(
                conn, actor, "hit.state", "hit", hit_id, {"from": row[0], "to": state, "note": note}
            )
            return int(cur.lastrowid)

    def assign_hit(self, hit_id: int, assignee: str | None, actor: str, due_at: str | None = None) -> None:
        with self.transaction() as conn:
            now = utc_now()
            conn.execute(
                "UPDATE hits SET assignee = ?, due_at = COALESCE(?, due_at), updated_at = ? WHERE id = ?",
                (assignee, due_at, now, hit_id),
            )
            self._append_audit(
                conn, actor, "hit.assign", "hit", hit_id, {"assignee": assignee, "due_at": due_at}
            )

    # ----------------------------------------------------------------- leads and users

    def create_lead(
        self, title: str, hit_ids: list[int], actor: str, *, source: str = "monitoring",
        merchant_id: int | None = None, note: str | None = None, due_at: str | None = None,
    ) -> int:  # fmt: skip
        """Promote hits to an enforcement lead (线索); marks the hits "promoted"."""
        with self.transaction() as conn:
            now = utc_now()
            if merchant_id is None and hit_ids:
                row = conn.execute("SELECT merchant_id FROM hits WHERE id = ?", (hit_ids[0],)).fetchone()
                merchant_id = row[0] if row else None
            if due_at is None:
                due_at = add_working_days(dt.datetime.now(CST).date(), VERIFY_WORKING_DAYS).isoformat()
            cur = conn.execute(
                "INSERT INTO leads(title, merchant_id, source, state, created_by, due_at, note, created_at, updated_at) "
                "VALUES (?, ?, ?, 'registered', ?, ?, ?, ?, ?)",
                (title, merchant_id, source, actor, due_at, note, now, now),
            )
            lead_id = int(cur.lastrowid)
            for hit_id in hit_ids:
                conn.execute(
                    "INSERT OR IGNORE INTO lead_hits(lead_id, hit_id) VALUES (?, ?)", (lead_id, hit_id)
                )
                conn.execute("UPDATE hits SET state = 'promoted', updated_at = ? WHERE id = ?", (now, hit_id))
            self._append_audit(conn, actor, "lead.create", "lead", lead_id, {"title": title, "hits": hit_ids})
            return lead_id

    def get_lead(self, lead_id: int) -> dict | None:
        row = self._one("SELECT * FROM leads WHERE id = ?", (lead_id,))
        if row:
            row["hit_ids"] = [
                r["hit_id"]
                for r in self._all(
                    "SELECT hit_id FROM lead_hits WHERE lead_id = ? ORDER BY hit_id", (lead_id,)
                )
            ]
        return row

    def add_user(
        self,
        username: str,
        role: str,
        password_hash: str | None,
        actor: str = "system",
        display_name: str | None = None,
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO users(username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (username, display_name, role, password_hash, utc_now()),
            )
            user_id = int(cur.lastrowid)
            self._append_audit(conn, actor, "user.add", "user", user_id, {"username": username, "role": role})
            return user_id

    def get_user(self, username: str) -> dict | None:
        return self._one("SELECT * FROM users WHERE username = ?", (username,))

    # ----------------------------------------------------------------- audit log

    def append_audit(
        self,
        actor: str,
        action: str,
        object_type: str | None = None,
        object_id: Any = None,
        detail: Any = None,
    ) -> int:
        """Append one audit-log row (hash chained). Use inside your own change via `audit_in(conn, ...)`."""
        with self.transaction() as conn:
            return self._append_audit(conn, actor, action, object_type, object_id, detail)

    def audit_in(self, conn: sqlite3.Connection, actor: str, action: str, object_type: str | None = None,
                 object_id: Any = None, detail: Any = None) -> int:  # fmt: skip
        """Append an audit row inside an open `store.transaction()` (the change and its audit row commit together)."""
        return self._append_audit(conn, actor, action, object_type, object_id, detail)

    @staticmethod
    def _audit_payload(row: Mapping[str, Any]) -> dict:
        return {k: row[k] for k in ("id", "at", "actor", "action", "object_type", "object_id", "detail")}

    def _append_audit(self, conn: sqlite3.Connection, actor: str, action: str, object_type: str | None,
                      object_id: Any, detail: Any) -> int:  # fmt: skip
        prev_row = conn.execute("SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev = prev_row[0] if prev_row else chain.GENESIS
        next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log").fetchone()[0]
        row = {
            "id": next_id,
            "at": utc_now(),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "detail": _json(detail),
        }
        rec = chain.record_hash(self._audit_payload(row))
        conn.execute(
            "INSERT INTO audit_log(id, at, actor, action, object_type, object_id, detail, record_sha256, chain_prev, chain_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row["id"], row["at"], actor, action, row["object_type"], row["object_id"], row["detail"], rec, prev,
             chain.link(prev, rec)),
        )  # fmt: skip
        return next_id

    # ----------------------------------------------------------------- verification

    def verify_captures(self, on_entry: Callable[[dict], chain.Break | None] | None = None) -> ChainReport:
        """Walk the capture chain in id order; `on_entry(row)` may add checks (e.g. WARC digests)."""
        cols = ", ".join(self.CHAIN_COLUMNS)
        cur = self.conn.execute(
            f"SELECT {cols}, record_sha256, chain_prev, chain_hash FROM captures ORDER BY id"  # noqa: S608
        )
        head = chain.GENESIS
        extra: list[chain.Break] = []

        def entries():
            nonlocal head
            for values in cur:
                row = dict(
                    zip(
                        (*self.CHAIN_COLUMNS, "record_sha256", "chain_prev", "chain_hash"),
                        values,
                        strict=True,
                    )
                )
                if on_entry is not None:
                    problem = on_entry(row)
                    if problem is not None:
                        extra.append(problem)
                        return
                yield (
                    row["id"],
                    self._capture_payload(self.conn, row["id"], row),
                    row["record_sha256"],
                    row["chain_prev"],
                    row["chain_hash"],
                )
                head = row["chain_hash"]

        checked, broken = chain.verify(entries())
        if broken is None and extra:
            broken = extra[0]
        return ChainReport("captures", checked, head, broken)

    def verify_audit(self) -> ChainReport:
        cur = self.conn.execute(
            "SELECT id, at, actor, action, object_type, object_id, detail, record_sha256, chain_prev, chain_hash "
            "FROM audit_log ORDER BY id"
        )
        cols = [c[0] for c in cur.description]
        head = chain.GENESIS

        def entries():
            nonlocal head
            for values in cur:
                row = dict(zip(cols, values, strict=True))
                yield (
                    row["id"],
                    self._audit_payload(row),
                    row["record_sha256"],
                    row["chain_prev"],
                    row["chain_hash"],
                )
                head = row["chain_hash"]

        checked, broken = chain.verify(entries())
        return ChainReport("audit_log", checked, head, broken)

    # ----------------------------------------------------------------- timestamps

    def add_timestamp(
        self, run_id: int | None, chain_hash: str, tsa_url: str, token: bytes, gen_time: str | None
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO timestamps(run_id, chain_hash, tsa_url, token, gen_time, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, chain_hash, tsa_url, token, gen_time, utc_now()),
            )
            return int(cur.lastrowid)

    def timestamps_for_run(self, run_id: int) -> list[dict]:
        return self._all("SELECT * FROM timestamps WHERE run_id = ? ORDER BY id", (run_id,))

    def chain_records_between(self, after_capture_id: int, upto_chain_hash: str) -> list[str] | None:
        """Record hashes of the captures after `after_capture_id` up to the one whose chain hash is
        `upto_chain_hash` (a proof that a capture leads to a timestamped head); None if not found."""
        rows = self.conn.execute(
            "SELECT record_sha256, chain_hash FROM captures WHERE id > ? ORDER BY id", (after_capture_id,)
        )
        out: list[str] = []
        for rec, ch in rows:
            out.append(rec)
            if ch == upto_chain_hash:
                return out
        return None

    # ----------------------------------------------------------------- evidence location

    def warc_path(self, warc_file: str | None) -> Path | None:
        """Where a capture's WARC file is: stored names are relative to the database's folder."""
        if not warc_file:
            return None
        p = Path(warc_file)
        return p if p.is_absolute() else Path(self.path).resolve().parent / p

    # ----------------------------------------------------------------- review queue and triage

    OPEN_HIT_STATES = ("new", "triaged")
    OPEN_LEAD_STATES = ("registered", "verifying")
    SEVERITY_RANK_SQL = "CASE h.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"

    def queue_groups(
        self, *, states: tuple[str, ...] | list[str] | None = OPEN_HIT_STATES, category: str | None = None,
        severity: str | None = None, sector: str | None = None, site: str | None = None,
        merchant_id: int | None = None, since: str | None = None, until: str | None = None,
        assignee: str | None = None, limit: int = 100, offset: int = 0,
    ) -> list[dict]:  # fmt: skip
        """The review queue: one row per (fingerprint, state) group of hits.

        A claim seen on many pages or crawls is one row: the group's first hit (its
        representative) with the whole group's `hit_count`, `page_count` and
        `hit_ids`. Ordered by severity, due date, then confidence (highest first).
        Filters apply to the representative. `since`/`until` are dates or times
        (naive = China time) on the capture time; `until` is inclusive of a whole
        day when it is a bare date. `site` is a host name and matches its
        subdomains too. Every value is a bound parameter.

        Built to stay fast on millions of hits: for each (state, severity) it walks
        the hits_queue index in due-date order and keeps a hit only if no earlier
        hit shares its fingerprint and state, so no query groups the whole table.
        """
        where: list[str] = []
        params: list[Any] = []
        join = ""
        for column, value in (("h.category", category), ("h.merchant_id", merchant_id),
                              ("h.assignee", assignee)):  # fmt: skip
            if value is not None and value != "":
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("h.captured_at >= ?")
            params.append(normalize_time(since))
        if until:
            end = parse_time(until)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until.strip()):
                end += dt.timedelta(days=1)
                where.append("h.captured_at < ?")
            else:
                where.append("h.captured_at <= ?")
            params.append(format_utc(end))
        if sector:
            join = " JOIN captures c ON c.id = h.capture_id"
            where.append("c.sector = ?")
            params.append(sector)
        if site:
            join = " JOIN captures c ON c.id = h.capture_id"
            host = site.strip().lower()
            self.conn.create_function("fx_host", 1, _domain, deterministic=True)
            where.append("(fx_host(c.url) = ? OR fx_host(c.url) LIKE ? ESCAPE '\\')")
            escaped = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.extend([host, "%." + escaped])
        where.append(
            "NOT EXISTS (SELECT 1 FROM hits d WHERE d.fingerprint = h.fingerprint AND d.state = h.state AND d.id < h.id)"
        )
        ranks = {"high": 0, "medium": 1, "low": 2}
        severities: list[str | None] = [severity] if severity else [*ranks, None]
        all_states = list(states) if states else list(HIT_STATES)
        want = int(limit) + int(offset)
        found: list[dict] = []
        # unknown severities, as index ranges around the three known values (normally empty, so cheap)
        other = [("h.severity IS NULL", []), ("h.severity < ?", ["high"]), ("h.severity > ? AND h.severity < ?",
                 ["high", "low"]), ("h.severity > ? AND h.severity < ?", ["low", "medium"]),
                 ("h.severity > ?", ["medium"])]  # fmt: skip
        buckets = [("h.severity = ?", [sev]) for sev in severities if sev is not None]
        if None in severities:
            buckets += other
        for state in all_states:
            for sev_sql, sev_params in buckets:
                sql = (
                    f"SELECT h.id, h.severity, h.due_at, h.confidence FROM hits h{join} "  # noqa: S608
                    f"WHERE h.state = ? AND {sev_sql} AND " + " AND ".join(where)
                    + " ORDER BY h.due_at, h.confidence DESC, h.id LIMIT ?"
                )
                found.extend(self._all(sql, [state, *sev_params, *params, want]))
        found.sort(key=lambda r: (ranks.get(r["severity"], 3), r["due_at"] is not None, r["due_at"] or "",
                                  -(r["confidence"] or 0.0), r["id"]))  # fmt: skip
        ids = [r["id"] for r in found[int(offset):want]]
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        details = {
            r["id"]: r
            for r in self._all(
                "SELECT h.id, h.fingerprint, h.state, h.rule, h.category, h.severity, h.confidence, h.law, "  # noqa: S608
                "h.field, h.match, h.excerpt, h.assignee, h.captured_at, h.merchant_id, c.url, c.sector, "
                "m.name AS merchant_name FROM hits h JOIN captures c ON c.id = h.capture_id "
                f"LEFT JOIN merchants m ON m.id = h.merchant_id WHERE h.id IN ({marks})",
                ids,
            )
        }
        out = []
        for hit_id in ids:
            row = dict(details[hit_id])
            group = self._one(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT c.url) AS pages, group_concat(h.id) AS ids, "
                "MIN(h.due_at) AS due_at FROM hits h JOIN captures c ON c.id = h.capture_id "
                "WHERE h.fingerprint = ? AND h.state = ?",
                (row["fingerprint"], row["state"]),
            )
            row.update(hit_count=group["n"], page_count=group["pages"], due_at=group["due_at"],
                       hit_ids=sorted(int(i) for i in str(group["ids"]).split(",")))  # fmt: skip
            out.append(row)
        return out

    def queue_sectors(self) -> list[str]:
        return [r["sector"] for r in self._all(
            "SELECT DISTINCT sector FROM captures WHERE sector IS NOT NULL AND sector != '' ORDER BY sector")]

    def decide_hits(
        self, hit_id: int, state: str, actor: str, *, user_id: int | None = None, note: str | None = None,
        assignee: str | None = None, lead_title: str | Callable[[dict], str] | None = None, group: bool = True,
        check: Callable[[dict], str | None] | None = None,
    ) -> dict:  # fmt: skip
        """A reviewer's verdict on a hit and (with `group`) every hit of the same fingerprint in the same state.

        One transaction: the hits' new state (and `assignee` if given), one decisions
        row per hit sharing a `batch_id`, one audit row per hit. With `lead_title`
        (a confirmation), the hits join the merchant's open lead (线索), or a new one
        is registered with a 15-working-day verification deadline. `check(hit)` runs
        inside the transaction on the hit as it is then (a dict with the hits columns,
        `url`, `merchant_name`, `merchant_domain`); a returned message refuses the
        decision with DecisionRefused, so a permission or state check cannot race
        another reviewer. Returns {"batch_id", "hit_ids", "lead_id", "lead_created",
        "previous_state"}.
        """
        if state not in HIT_STATES:
            raise StoreError(f"unknown hit state {state!r} (one of {', '.join(HIT_STATES)}) / 未知状态")
        with self.transaction() as conn:
            hit = self._hit_for_decision(conn, hit_id)
            if hit is None:
                raise StoreError(f"no hit {hit_id} / 命中记录 {hit_id} 不存在")
            refusal = check(hit) if check is not None else None
            if refusal:
                raise DecisionRefused(refusal)
            return self._decide_in(conn, hit, state, actor, user_id=user_id, note=note, assignee=assignee,
                                   lead_title=lead_title, group=group, batch_id=None)  # fmt: skip

    def decide_bulk(
        self, hit_ids: list[int], state: str, actor: str, *, user_id: int | None = None, note: str | None = None,
        assignee: str | None = None, lead_title: str | Callable[[dict], str] | None = None,
        check: Callable[[dict], str | None] | None = None,
    ) -> dict:  # fmt: skip
        """One verdict on many hits (each with its fingerprint group), one transaction and one undo batch.

        Each item is checked on its own with `check(hit)`; refused or missing items
        are skipped and reported, never half-applied. Returns {"batch_id",
        "applied": [{"hit_id", "hit_ids", "lead_id"}], "skipped": [{"hit_id", "reason"}]}.
        """
        if state not in HIT_STATES:
            raise StoreError(f"unknown hit state {state!r} (one of {', '.join(HIT_STATES)}) / 未知状态")
        applied: list[dict] = []
        skipped: list[dict] = []
        done: set[int] = set()
        batch_id = None
        with self.transaction() as conn:
            for hit_id in dict.fromkeys(hit_ids):
                if hit_id in done:
                    continue  # decided with an earlier item of the same group
                hit = self._hit_for_decision(conn, hit_id)
                refusal = "not found" if hit is None else (check(hit) if check is not None else None)
                if refusal:
                    skipped.append({"hit_id": hit_id, "reason": refusal})
                    continue
                result = self._decide_in(conn, hit, state, actor, user_id=user_id, note=note, assignee=assignee,
                                         lead_title=lead_title, group=True, batch_id=batch_id)  # fmt: skip
                batch_id = result["batch_id"]
                done.update(result["hit_ids"])
                applied.append({"hit_id": hit_id, "hit_ids": result["hit_ids"], "lead_id": result["lead_id"]})
        return {"batch_id": batch_id, "applied": applied, "skipped": skipped}

    def _hit_for_decision(self, conn: sqlite3.Connection, hit_id: int) -> dict | None:
        cur = conn.execute(
            "SELECT h.*, c.url, m.name AS merchant_name, m.domain AS merchant_domain FROM hits h "
            "JOIN captures c ON c.id = h.capture_id LEFT JOIN merchants m ON m.id = h.merchant_id WHERE h.id = ?",
            (hit_id,),
        )
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row is not None else None

    def _decide_in(
        self, conn: sqlite3.Connection, hit: dict, state: str, actor: str, *, user_id: int | None,
        note: str | None, assignee: str | None, lead_title: str | Callable[[dict], str] | None, group: bool,
        batch_id: int | None,
    ) -> dict:  # fmt: skip
        previous, merchant_id = hit["state"], hit["merchant_id"]
        if group:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM hits WHERE fingerprint = ? AND state = ? ORDER BY id", (hit["fingerprint"], previous))]
        else:
            ids = [hit["id"]]
        now = utc_now()
        lead_id, lead_created = None, False
        if lead_title is not None:
            title = lead_title(hit) if callable(lead_title) else lead_title
            lead_id = self._open_lead_for(conn, merchant_id, _domain(hit["url"]))
            if lead_id is None:
                due = add_working_days(dt.datetime.now(CST).date(), VERIFY_WORKING_DAYS).isoformat()
                cur = conn.execute(
                    "INSERT INTO leads(title, merchant_id, source, state, created_by, due_at, created_at, "
                    "updated_at) VALUES (?, ?, 'monitoring', 'registered', ?, ?, ?, ?)",
                    (title, merchant_id, actor, due, now, now),
                )
                lead_id, lead_created = int(cur.lastrowid), True
                self._append_audit(conn, actor, "lead.create", "lead", lead_id,
                                   {"title": title, "hits": ids, "due_at": due})  # fmt: skip
            else:
                conn.execute("UPDATE leads SET updated_at = ? WHERE id = ?", (now, lead_id))
                self._append_audit(conn, actor, "lead.extend", "lead", lead_id, {"hits": ids})
        for hid in ids:
            if assignee is not None:
                conn.execute("UPDATE hits SET state = ?, assignee = ?, updated_at = ? WHERE id = ?",
                             (state, assignee, now, hid))  # fmt: skip
            else:
                conn.execute("UPDATE hits SET state = ?, updated_at = ? WHERE id = ?", (state, now, hid))
            cur = conn.execute(
                "INSERT INTO decisions(hit_id, user_id, actor, verdict, previous_state, note, created_at, batch_id, "
                "lead_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (hid, user_id, actor, state, previous, note, now, batch_id, lead_id),
            )
            if batch_id is None:
                batch_id = int(cur.lastrowid)
                conn.execute("UPDATE decisions SET batch_id = ? WHERE id = ?", (batch_id, batch_id))
            if lead_id is not None:
                conn.execute("INSERT OR IGNORE INTO lead_hits(lead_id, hit_id) VALUES (?, ?)", (lead_id, hid))
            detail = {"from": previous, "to": state, "note": note, "batch": batch_id}
            if assignee is not None:
                detail["assignee"] = assignee
            if lead_id is not None:
                detail["lead"] = lead_id
            self._append_audit(conn, actor, "hit.state", "hit", hid, detail)
        return {"batch_id": batch_id, "hit_ids": ids, "lead_id": lead_id, "lead_created": lead_created,
                "previous_state": previous}  # fmt: skip

    def _open_lead_for(self, conn: sqlite3.Connection, merchant_id: int | None, domain: str) -> int | None:
        """The newest open lead for a merchant; without a merchant, for the same site (host)."""
        marks = ", ".join("?" for _ in self.OPEN_LEAD_STATES)
        if merchant_id is not None:
            row = conn.execute(
                f"SELECT id FROM leads WHERE merchant_id = ? AND state IN ({marks}) ORDER BY id DESC LIMIT 1",  # noqa: S608
                (merchant_id, *self.OPEN_LEAD_STATES),
            ).fetchone()
            return int(row[0]) if row else None
        if not domain:
            return None
        conn.create_function("fx_host", 1, _domain, deterministic=True)
        row = conn.execute(
            "SELECT l.id FROM leads l JOIN lead_hits lh ON lh.lead_id = l.id "  # noqa: S608
            "JOIN hits h ON h.id = lh.hit_id JOIN captures c ON c.id = h.capture_id "
            f"WHERE l.merchant_id IS NULL AND l.state IN ({marks}) AND fx_host(c.url) = ? "
            "ORDER BY l.id DESC LIMIT 1",
            (*self.OPEN_LEAD_STATES, domain),
        ).fetchone()
        return int(row[0]) if row else None

    def recent_decisions(self, actor: str, limit: int = 10) -> list[dict]:
        """The actor's last `limit` decision batches (newest first), each with its hits and whether it was undone."""
        rows = self._all(
            "SELECT COALESCE(batch_id, id) AS batch_id, MIN(verdict) AS verdict, MIN(previous_state) AS previous_state, "
            "MIN(created_at) AS created_at, MAX(undone_at) AS undone_at, MIN(note) AS note, MAX(lead_id) AS lead_id, "
            "group_concat(hit_id) AS ids FROM decisions WHERE actor = ? AND undo_of IS NULL "
            "GROUP BY COALESCE(batch_id, id) ORDER BY batch_id DESC LIMIT ?",
            (actor, int(limit)),
        )
        for r in rows:
            r["hit_ids"] = sorted(int(i) for i in str(r.pop("ids")).split(","))
        return rows

    def undo_last_decision(self, actor: str, user_id: int | None = None, window: int = 10) -> dict | None:
        """Undo the actor's newest not-yet-undone decision batch among their last `window` batches.

        Restores each hit's previous state, unlinks the hits from the lead the
        decision put them in (a lead left with no hits is withdrawn), marks the
        batch undone and records the undo as decisions rows and audit rows, in one
        transaction. Returns {"batch_id", "hit_ids", "restored_state"} or None when
        there is nothing left to undo. Raises StoreError if a hit changed since.
        """
        with self.transaction() as conn:
            batches = conn.execute(
                "SELECT COALESCE(batch_id, id) AS b, MAX(undone_at) FROM decisions WHERE actor = ? AND undo_of IS NULL "
                "GROUP BY b ORDER BY b DESC LIMIT ?",
                (actor, int(window)),
            ).fetchall()
            target = next((b for b, undone in batches if undone is None), None)
            if target is None:
                return None
            rows = conn.execute(
                "SELECT id, hit_id, verdict, previous_state, lead_id FROM decisions "
                "WHERE COALESCE(batch_id, id) = ? ORDER BY id",
                (target,),
            ).fetchall()
            current = {
                hid: st for hid, st in conn.execute(
                    f"SELECT id, state FROM hits WHERE id IN ({', '.join('?' for _ in rows)})",  # noqa: S608
                    [r[1] for r in rows],
                )
            }  # fmt: skip
            changed = [r[1] for r in rows if current.get(r[1]) != r[2]]
            if changed:
                raise StoreError(
                    f"hits {changed} changed after this decision; not undone / 该决定之后命中已被更改，无法撤销"
                )
            now = utc_now()
            lead_ids = set()
            for dec_id, hid, verdict, previous, lead_id in rows:
                conn.execute("UPDATE hits SET state = ?, updated_at = ? WHERE id = ?", (previous, now, hid))
                if verdict == "triaged":
                    conn.execute("UPDATE hits SET assignee = NULL WHERE id = ? AND assignee = 'role:supervisor'",
                                 (hid,))  # fmt: skip
                conn.execute("UPDATE decisions SET undone_at = ? WHERE id = ?", (now, dec_id))
                conn.execute(
                    "INSERT INTO decisions(hit_id, user_id, actor, verdict, previous_state, note, created_at, undo_of) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (hid, user_id, actor, previous, verdict, "undo", now, dec_id),
                )
                if lead_id is not None:
                    conn.execute("DELETE FROM lead_hits WHERE lead_id = ? AND hit_id = ?", (lead_id, hid))
                    lead_ids.add(lead_id)
                self._append_audit(conn, actor, "hit.undo", "hit", hid,
                                   {"from": verdict, "to": previous, "undid": dec_id, "batch": target})  # fmt: skip
            for lead_id in sorted(lead_ids):
                left = conn.execute("SELECT COUNT(*) FROM lead_hits WHERE lead_id = ?", (lead_id,)).fetchone()[0]
                action = "lead.unlink"
                if left == 0:
                    conn.execute("UPDATE leads SET state = 'withdrawn', updated_at = ? WHERE id = ?", (now, lead_id))
                    action = "lead.withdraw"
                self._append_audit(conn, actor, action, "lead", lead_id,
                                   {"hits": [r[1] for r in rows if r[4] == lead_id], "batch": target})  # fmt: skip
            return {"batch_id": target, "hit_ids": [r[1] for r in rows], "restored_state": rows[0][3]}

    # ----------------------------------------------------------------- leads (review UI)

    def list_leads(self, states: tuple[str, ...] | list[str] | None = None, limit: int = 200) -> list[dict]:
        """Leads with their merchant and hit count, earliest deadline first."""
        where, params = "", []
        if states:
            where = " WHERE l.state IN (" + ", ".join("?" for _ in states) + ")"
            params = list(states)
        return self._all(
            "SELECT l.*, m.name AS merchant_name, m.domain AS merchant_domain, "  # noqa: S608
            "(SELECT COUNT(*) FROM lead_hits lh WHERE lh.lead_id = l.id) AS hit_count FROM leads l "
            f"LEFT JOIN merchants m ON m.id = l.merchant_id{where} "
            "ORDER BY l.due_at IS NULL, l.due_at, l.id LIMIT ?",
            [*params, int(limit)],
        )

    def lead_hits_detail(self, lead_id: int) -> list[dict]:
        """A lead's hits with their page URL and capture time, in id order."""
        return self._all(
            "SELECT h.id, h.rule, h.category, h.severity, h.law, h.field, h.match, h.state, h.captured_at, c.url "
            "FROM lead_hits lh JOIN hits h ON h.id = lh.hit_id JOIN captures c ON c.id = h.capture_id "
            "WHERE lh.lead_id = ? ORDER BY h.id",
            (lead_id,),
        )

    # ----------------------------------------------------------------- lead workflow

    LEAD_MUTABLE = frozenset({
        "state", "due_at", "filing_request", "officers", "filed_at", "decision_due_at", "verify_extended",
        "supervised_due_at", "supervised_by", "assignee", "note",
    })  # fmt: skip

    def transition_lead(
        self, lead_id: int, action: str, actor: str, *, to_state: str | None = None, reason: str | None = None,
        legal_basis: str | None = None, updates: Mapping[str, Any] | Callable[[dict], Mapping[str, Any]] | None = None,
        detail: Any = None,
        check: Callable[[dict], str | None] | None = None,
    ) -> dict:  # fmt: skip
        """One step of a lead's workflow: who, when, why and the legal basis, in one transaction.

        `check(lead)` runs inside the transaction on the lead as it is then (its
        columns, `officers` and `filing_request` decoded); a returned message
        refuses the step with DecisionRefused. `updates` (a mapping, or a function
        of the current lead returning one) sets columns from LEAD_MUTABLE
        (JSON-encoded when not a string or number). Writes a lead_events row and
        an audit row. Returns the lead after the step.
        """
        with self.transaction() as conn:
            cur = conn.execute("SELECT * FROM leads WHERE id = ?", (lead_id,))
            row = cur.fetchone()
            if row is None:
                raise StoreError(f"no lead {lead_id} / 线索 {lead_id} 不存在")
            lead = self._decode_lead(dict(zip([c[0] for c in cur.description], row, strict=True)))
            refusal = check(lead) if check is not None else None
            if refusal:
                raise DecisionRefused(refusal)
            now = utc_now()
            changes = dict((updates(lead) if callable(updates) else updates) or {})
            bad = set(changes) - self.LEAD_MUTABLE
            if bad:
                raise StoreError(f"lead columns not changeable: {sorted(bad)}")
            applied = dict(changes)
            if to_state is not None:
                changes["state"] = to_state
            changes["updated_at"] = now
            values = [v if v is None or isinstance(v, (str, int, float)) else _json(v) for v in changes.values()]
            assignments = ", ".join(f"{k} = ?" for k in changes)  # keys checked against LEAD_MUTABLE above
            conn.execute(f"UPDATE leads SET {assignments} WHERE id = ?", (*values, lead_id))  # noqa: S608
            conn.execute(
                "INSERT INTO lead_events(lead_id, action, from_state, to_state, actor, reason, legal_basis, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (lead_id, action, lead["state"], to_state or lead["state"], actor, reason, legal_basis,
                 _json(detail), now),
            )  # fmt: skip
            self._append_audit(conn, actor, f"lead.{action}", "lead", lead_id, {
                "from": lead["state"], "to": to_state or lead["state"], "reason": reason, "legal_basis": legal_basis,
                "changes": applied, "detail": detail,
            })  # fmt: skip
        return self.get_lead_full(lead_id)

    @staticmethod
    def _decode_lead(row: dict) -> dict:
        row["officers"] = _loads(row.get("officers"), [])
        row["filing_request"] = _loads(row.get("filing_request"))
        return row

    def get_lead_full(self, lead_id: int) -> dict | None:
        """A lead with its workflow columns decoded, its hit ids and its events (oldest first)."""
        lead = self.get_lead(lead_id)
        if lead is None:
            return None
        lead = self._decode_lead(lead)
        lead["events"] = self._all("SELECT * FROM lead_events WHERE lead_id = ? ORDER BY id", (lead_id,))
        for event in lead["events"]:
            event["detail"] = _loads(event["detail"])
        return lead

    def active_users(self, roles: tuple[str, ...] | list[str]) -> list[dict]:
        """Active accounts with one of `roles` (username, display name, role), by username."""
        marks = ", ".join("?" for _ in roles)
        return self._all(
            f"SELECT username, display_name, role FROM users WHERE active = 1 AND role IN ({marks}) "  # noqa: S608
            "ORDER BY username",
            list(roles),
        )

    # ----------------------------------------------------------------- audit and history views

    def audit_page(
        self, *, actor: str | None = None, action: str | None = None, object_type: str | None = None,
        object_id: str | None = None, before_id: int | None = None, limit: int = 100,
    ) -> list[dict]:  # fmt: skip
        """Audit-log rows, newest first, filtered by exact values; `before_id` pages back. Details decoded."""
        where, params = [], []
        for column, value in (("actor", actor), ("action", action), ("object_type", object_type),
                              ("object_id", object_id)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if before_id:
            where.append("id < ?")
            params.append(int(before_id))
        rows = self._all(
            "SELECT id, at, actor, action, object_type, object_id, detail, chain_hash FROM audit_log"  # noqa: S608
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?",
            [*params, int(limit)],
        )
        for row in rows:
            row["detail"] = _loads(row["detail"])
        return rows

    def hit_history(self, hit_id: int) -> list[dict]:
        """A hit's decisions, oldest first (with undo links)."""
        return self._all(
            "SELECT id, actor, verdict, previous_state, note, created_at, batch_id, undo_of, undone_at, lead_id "
            "FROM decisions WHERE hit_id = ? ORDER BY id",
            (hit_id,),
        )

    # ----------------------------------------------------------------- merchants (review UI)

    def merchant_hit_counts(self, merchant_id: int | None = None) -> list[dict]:
        """Hit counts per merchant, severity, state and capture day (UTC date), for risk scores and charts."""
        where, params = "h.merchant_id IS NOT NULL", []
        if merchant_id is not None:
            where, params = "h.merchant_id = ?", [merchant_id]
        return self._all(
            "SELECT h.merchant_id, h.severity, h.state, substr(h.captured_at, 1, 10) AS day, "  # noqa: S608
            "COUNT(*) AS n, COUNT(DISTINCT h.rule) AS rules FROM hits h "
            f"WHERE {where} GROUP BY h.merchant_id, h.severity, h.state, day",
            params,
        )

    def merchant_lead_counts(self) -> dict[int, dict[str, int]]:
        """Per merchant: number of leads by state."""
        out: dict[int, dict[str, int]] = {}
        for r in self._all("SELECT merchant_id, state, COUNT(*) AS n FROM leads WHERE merchant_id IS NOT NULL "
                           "GROUP BY merchant_id, state"):  # fmt: skip
            out.setdefault(r["merchant_id"], {})[r["state"]] = r["n"]
        return out

    def merchants_by_id(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        return {r["id"]: r for r in self._all(f"SELECT * FROM merchants WHERE id IN ({marks})", ids)}  # noqa: S608

    def merchant_hits(self, merchant_id: int, limit: int = 200) -> list[dict]:
        """A merchant's hits, newest first, with their page URL."""
        return self._all(
            "SELECT h.id, h.rule, h.category, h.severity, h.law, h.field, h.match, h.state, h.captured_at, c.url "
            "FROM hits h JOIN captures c ON c.id = h.capture_id WHERE h.merchant_id = ? ORDER BY h.id DESC LIMIT ?",
            (merchant_id, int(limit)),
        )

    def merchant_leads(self, merchant_id: int) -> list[dict]:
        return self._all(
            "SELECT l.*, (SELECT COUNT(*) FROM lead_hits lh WHERE lh.lead_id = l.id) AS hit_count FROM leads l "
            "WHERE l.merchant_id = ? ORDER BY l.id DESC",
            (merchant_id,),
        )

    # ----------------------------------------------------------------- rule feedback (review UI)

    def rule_verdicts(self) -> dict[str, dict[str, int]]:
        """Per rule: number of hits in each state (confirmed/promoted vs false_positive give its precision)."""
        out: dict[str, dict[str, int]] = {}
        for r in self._all("SELECT rule, state, COUNT(*) AS n FROM hits GROUP BY rule, state"):
            out.setdefault(r["rule"], {})[r["state"]] = r["n"]
        return out

    def false_positives(self, rule: str | None = None, limit: int = 200) -> list[dict]:
        """Hits dismissed as false positives, newest first, with the reviewer's reason and the field text."""
        where, params = "h.state = 'false_positive'", []
        if rule:
            where += " AND h.rule = ?"
            params.append(rule)
        rows = self._all(
            "SELECT h.id, h.rule, h.category, h.field, h.match, h.excerpt, h.span_start, h.span_end, h.captured_at, "  # noqa: S608
            "c.url, c.fields, (SELECT d.note FROM decisions d WHERE d.hit_id = h.id AND d.verdict = 'false_positive' "
            "AND d.undone_at IS NULL ORDER BY d.id DESC LIMIT 1) AS reason, "
            "(SELECT d.actor FROM decisions d WHERE d.hit_id = h.id AND d.verdict = 'false_positive' "
            "AND d.undone_at IS NULL ORDER BY d.id DESC LIMIT 1) AS reviewer "
            f"FROM hits h JOIN captures c ON c.id = h.capture_id WHERE {where} ORDER BY h.id DESC LIMIT ?",
            [*params, int(limit)],
        )
        for row in rows:
            fields = _loads(row.pop("fields"), {}) or {}
            value = fields.get(row["field"] or "")
            row["text"] = value if isinstance(value, str) else None
        return rows

    # ----------------------------------------------------------------- dashboard

    def hit_counts_since(self, since: str) -> list[dict]:
        """Hits captured at or after `since` counted per capture day (UTC date), sector, category and state."""
        return self._all(
            "SELECT substr(h.captured_at, 1, 10) AS day, c.sector, h.category, h.state, COUNT(*) AS n "
            "FROM hits h JOIN captures c ON c.id = h.capture_id WHERE h.captured_at >= ? "
            "GROUP BY day, c.sector, h.category, h.state",
            (normalize_time(since),),
        )

    # ----------------------------------------------------------------- saved views

    def save_view(self, username: str, name: str, query: str) -> int:
        """Save (or replace) a user's named queue view; audited."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO saved_views(username, name, query, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(username, name) DO UPDATE SET query = excluded.query, created_at = excluded.created_at",
                (username, name, query, utc_now()),
            )
            view_id = conn.execute(
                "SELECT id FROM saved_views WHERE username = ? AND name = ?", (username, name)
            ).fetchone()[0]
            self._append_audit(conn, username, "view.save", "view", view_id, {"name": name, "query": query})
            return int(view_id)

    def list_views(self, username: str) -> list[dict]:
        return self._all("SELECT id, name, query, created_at FROM saved_views WHERE username = ? ORDER BY name",
                         (username,))  # fmt: skip

    def delete_view(self, username: str, view_id: int) -> bool:
        """Delete one of the user's own views; False if it is not theirs or does not exist."""
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM saved_views WHERE id = ? AND username = ?", (view_id, username))
            if cur.rowcount:
                self._append_audit(conn, username, "view.delete", "view", view_id, None)
            return bool(cur.rowcount)

    # ----------------------------------------------------------------- benchmarks

    def seed_synthetic_hits(self, count: int, *, merchants: int = 5000, seed: int = 0,
                            batch: int = 50_000) -> int:  # fmt: skip
        """Fill a benchmark database with `count` synthetic hits (plus merchants and captures); returns the run id.

        For benchmark databases only: the synthetic captures carry no WARC and no
        chain hashes, so `fangxin audit verify` / capture verification will report them.
        Claims repeat so that fingerprint groups form, as in real crawls.
        """
        import random

        rnd = random.Random(seed)
        run = self.start_run("bench:synthetic", "bench", {"hits": count})
        now = utc_now()
        sectors = ("ecommerce", "health", "education", "finance", "livestream")
        categories = ("absolute_terms", "medical_health", "finance", "price_fraud", "education", "unfair_terms")
        severities = ("high", "medium", "low")
        states = ("new",) * 7 + ("confirmed", "false_positive", "ignored")
        claims = ("全网最佳", "国家级", "根治", "保本保息", "包过", "最终解释权归本店所有")
        pages = max(1, count // 5)
        with self.transaction() as conn:
            base_m = conn.execute("SELECT COALESCE(MAX(id), 0) FROM merchants").fetchone()[0]
            base_c = conn.execute("SELECT COALESCE(MAX(id), 0) FROM captures").fetchone()[0]
            conn.executemany(
                "INSERT INTO merchants(id, name, domain, sector, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [(base_m + i, f"商家{i}", f"shop{i}.bench.test", sectors[i % len(sectors)], now, now)
                 for i in range(1, merchants + 1)],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO captures(id, run_id, url, final_url, status, fetched_at, title, sector, merchant_id, "
                "fields, text, last_seen_at) VALUES (?, ?, ?, ?, 200, ?, ?, ?, ?, ?, ?, ?)",
                [(base_c + i, run, f"http://shop{i % merchants + 1}.bench.test/p{i}",
                  f"http://shop{i % merchants + 1}.bench.test/p{i}", now, f"页面{i}",
                  sectors[(i % merchants + 1) % len(sectors)], base_m + i % merchants + 1,
                  json.dumps({"body": f"本店{claims[i % len(claims)]}，欢迎选购"}, ensure_ascii=False),
                  f"本店{claims[i % len(claims)]}，欢迎选购", now) for i in range(1, pages + 1)],
            )  # fmt: skip
        done = 0
        while done < count:
            rows = []
            for _ in range(min(batch, count - done)):
                done += 1
                page = rnd.randint(1, pages)
                merchant = base_m + page % merchants + 1
                rule = rnd.randint(1, 100)
                claim = claims[rule % len(claims)]
                day = dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randint(0, 330))
                captured = f"{day.isoformat()}T0{rnd.randint(0, 9)}:00:00.000Z"
                due = add_working_days(day, VERIFY_WORKING_DAYS).isoformat()
                fp = hit_fingerprint(f"m{merchant}", f"BENCH-{rule:03d}", f"{claim}{rnd.randint(1, 3)}")
                rows.append((base_c + page, run, merchant, f"BENCH-{rule:03d}", "bench", "1",
                             categories[rule % len(categories)], severities[rnd.randint(0, 2)],
                             round(rnd.random(), 3), "《中华人民共和国广告法》第九条", "body", 2, 2 + len(claim),
                             claim, f"本店{claim}，欢迎选购", fp, rnd.choice(states), due, captured, now, now))  # fmt: skip
            with self.transaction() as conn:
                conn.executemany(
                    "INSERT INTO hits(capture_id, run_id, merchant_id, rule, pack, pack_version, category, severity, "
                    "confidence, law, field, span_start, span_end, match, excerpt, fingerprint, state, due_at, "
                    "captured_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?)",
                    rows,
                )
        self.conn.execute("ANALYZE")
        return run

    def naive_queue(self, limit: int = 100) -> list[dict]:
        """The review queue as one GROUP BY over all open hits: the benchmark's baseline."""
        return self._all(
            "SELECT MIN(h.id) AS id, h.fingerprint, COUNT(*) AS n, "  # noqa: S608
            f"MIN({self.SEVERITY_RANK_SQL}) AS sev_rank, MIN(h.due_at) AS due_at, MAX(h.confidence) AS confidence "
            "FROM hits h WHERE h.state IN ('new', 'triaged') GROUP BY h.fingerprint, h.state "
            "ORDER BY sev_rank, due_at, confidence DESC, id LIMIT ?",
            (int(limit),),
        )

    # ----------------------------------------------------------------- publications

    def publish(self, lead_id: int, kind: str, title: str, summary: str, body: Any, actor: str,
                check: Callable[[dict], str | None] | None = None) -> int:  # fmt: skip
        """Publish a lead (already redacted text) as a typical case or consumer warning; audited, one transaction."""
        with self.transaction() as conn:
            cur = conn.execute("SELECT * FROM leads WHERE id = ?", (lead_id,))
            row = cur.fetchone()
            if row is None:
                raise StoreError(f"no lead {lead_id} / 线索 {lead_id} 不存在")
            lead = dict(zip([c[0] for c in cur.description], row, strict=True))
            refusal = check(lead) if check is not None else None
            if refusal:
                raise DecisionRefused(refusal)
            now = utc_now()
            cur = conn.execute(
                "INSERT INTO publications(lead_id, kind, title, summary, body, published_by, published_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lead_id, kind, title, summary, _json(body), actor, now),
            )
            pub_id = int(cur.lastrowid)
            self._append_audit(conn, actor, "publication.publish", "publication", pub_id,
                               {"lead": lead_id, "kind": kind, "title": title})  # fmt: skip
            return pub_id

    def list_publications(self, limit: int = 50) -> list[dict]:
        """Published (not withdrawn) items, newest first, bodies decoded."""
        rows = self._all("SELECT * FROM publications WHERE withdrawn_at IS NULL ORDER BY id DESC LIMIT ?",
                         (int(limit),))  # fmt: skip
        for r in rows:
            r["body"] = _loads(r["body"], {})
        return rows

    def get_publication(self, pub_id: int) -> dict | None:
        row = self._one("SELECT * FROM publications WHERE id = ? AND withdrawn_at IS NULL", (pub_id,))
        if row:
            row["body"] = _loads(row["body"], {})
        return row

    # ----------------------------------------------------------------- price series (rules.series)

    SERIES_URN = "urn:fangxin:series:"

    def series_products(self, since: str | None = None) -> list[str]:
        """URLs of pages with stored price observations (observed at or after `since`), in URL order."""
        if since:
            rows = self.conn.execute(
                "SELECT DISTINCT url FROM prices WHERE observed_at >= ? ORDER BY url", (normalize_time(since),)
            )
        else:
            rows = self.conn.execute("SELECT DISTINCT url FROM prices ORDER BY url")
        return [r[0] for r in rows]

    def price_observations(self, url: str, since: str | None = None) -> list[dict]:
        """Every observation of one product page, oldest first, as `rules.series` takes them.

        One per stored capture of `url` and one per re-observation of an unchanged page
        (`captures_seen`, same capture id, `seen_id` set): {at, capture_id, seen_id, url, merchant_id,
        title, price (lowest current price), references [{label, amount}], text}.
        """
        caps = self._all(
            "SELECT id, fetched_at, merchant_id, title, text FROM captures WHERE url = ? AND error IS NULL "
            "ORDER BY id",
            (url,),
        )
        if not caps:
            return []
        ids = [c["id"] for c in caps]
        marks = ",".join("?" * len(ids))
        prices: dict[int, list[dict]] = {}
        for r in self._all(
            f"SELECT capture_id, label, amount, kind FROM prices WHERE capture_id IN ({marks}) ORDER BY id",  # noqa: S608
            ids,
        ):
            prices.setdefault(r["capture_id"], []).append(r)
        seen: dict[int, list[dict]] = {}
        for r in self._all(
            f"SELECT id, capture_id, seen_at FROM captures_seen WHERE capture_id IN ({marks}) ORDER BY id",  # noqa: S608
            ids,
        ):
            seen.setdefault(r["capture_id"], []).append(r)
        out = []
        for c in caps:
            entries = prices.get(c["id"], [])
            current = [e["amount"] for e in entries if e["kind"] != "reference" and e["amount"] is not None]
            refs = [
                {"label": e["label"] or "原价", "amount": e["amount"]}
                for e in entries
                if e["kind"] == "reference" and e["amount"] is not None
            ]
            base = {
                "capture_id": c["id"], "url": url, "merchant_id": c["merchant_id"], "title": c["title"],
                "price": min(current) if current else None, "references": refs, "text": c["text"] or "",
            }  # fmt: skip
            out.append(dict(base, at=c["fetched_at"], seen_id=None))
            for s in seen.get(c["id"], []):
                out.append(dict(base, at=s["seen_at"], seen_id=s["id"]))
        out.sort(key=lambda o: (o["at"], o["capture_id"]))
        if since:
            since_n = normalize_time(since)
            out = [o for o in out if o["at"] >= since_n]
        return out

    def save_series_hit(self, run_id: int, hit: Mapping[str, Any], now: str | None = None) -> tuple[int, bool]:
        """Store one series hit (`rules.series.SeriesHit.to_dict()`) with the captures that prove it.

        The hit hangs on a series record: a capture row with url `urn:fangxin:series:<episode>`, no WARC,
        whose body is the canonical JSON of the proof (observations, and each proving capture's id and
        chain hash). It is chained like any capture, so the hit and its proof are sealed in the capture
        chain; the proving captures are linked in `hit_captures`. One hit per episode (rule, product,
        first day of the claim): returns (hit_id, False) when the episode is already stored.
        """
        urn = self.SERIES_URN + str(hit["episode"])
        capture_ids = sorted({int(c) for c in hit.get("captures") or []})
        row = self.conn.execute(
            "SELECT h.id FROM hits h JOIN captures c ON c.id = h.capture_id WHERE c.url = ? ORDER BY h.id LIMIT 1",
            (urn,),
        ).fetchone()
        new = row is None
        if new:
            marks = ",".join("?" * len(capture_ids)) or "NULL"
            proving = self._all(
                f"SELECT id, url, fetched_at, chain_hash, merchant_id, sector FROM captures WHERE id IN ({marks}) "  # noqa: S608
                "ORDER BY id",
                capture_ids,
            )
            if len(proving) != len(capture_ids):
                raise StoreError("series hit names a capture that is not stored / 序列命中引用了不存在的采集记录")
            latest = proving[-1] if proving else {}
            merchant = self.get_merchant(latest["merchant_id"]) if latest.get("merchant_id") else None
            proof = {
                "rule": hit.get("rule"), "product": hit.get("product"), "episode": hit["episode"],
                "message": hit.get("message"), "legal": hit.get("legal"), "observations": hit.get("observations"),
                "captures": [{"id": p["id"], "fetched_at": p["fetched_at"], "chain_hash": p["chain_hash"]}
                             for p in proving],
            }  # fmt: skip
            body = json.dumps(proof, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
            stored = dict(hit)
            stored["extracted"] = dict(hit.get("extracted") or {}, captures=capture_ids, episode=hit["episode"])
            result = self.save_capture_result(
                run_id,
                {
                    "url": urn, "final_url": hit.get("product") or urn, "method": "SERIES", "status": None,
                    "content_type": "application/json", "encoding": "utf-8", "render": "series",
                    "fetched_at": now or utc_now(), "body": body, "title": hit.get("title"),
                    "sector": latest.get("sector"), "merchant": merchant, "plan": "series",
                    "fields": {"series": hit.get("message") or "", "series_proof": body.decode("utf-8")},
                    "prices": [],
                },
                [stored],
            )  # fmt: skip
            row = self.conn.execute(
                "SELECT id FROM hits WHERE capture_id = ? ORDER BY id LIMIT 1", (result.capture_id,)
            ).fetchone()
        hit_id = int(row[0])
        first_seen: dict[int, str] = {}
        seen_ids: dict[int, list[int]] = {}
        for obs in hit.get("observations") or []:
            cid = obs.get("capture_id")
            if cid is None:
                continue
            first_seen.setdefault(int(cid), obs.get("at"))
            if obs.get("seen_id"):
                seen_ids.setdefault(int(cid), []).append(int(obs["seen_id"]))
        with self.transaction() as conn:
            for cid in capture_ids:
                conn.execute(
                    "INSERT OR IGNORE INTO hit_captures(hit_id, capture_id, observed_at, seen_ids) VALUES (?, ?, ?, ?)",
                    (hit_id, cid, first_seen.get(cid), _json(seen_ids.get(cid) or [])),
                )
        return hit_id, new

    def series_proof(self, hit_id: int) -> dict | None:
        """The proof sealed with a series hit: {"text", "proof", "sha256", "intact"}, or None for a text hit.

        `text` is the series record's body (canonical JSON: rule, product, observations, proving captures
        with their chain hashes); `intact` says its SHA-256 still equals the chained `body_sha256`.
        """
        row = self._one(
            "SELECT c.fields, c.body_sha256, c.url FROM hits h JOIN captures c ON c.id = h.capture_id WHERE h.id = ?",
            (hit_id,),
        )
        if not row or not (row["url"] or "").startswith(self.SERIES_URN):
            return None
        text = (_loads(row["fields"], {}) or {}).get("series_proof") or ""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return {"text": text, "proof": _loads(text, {}), "sha256": digest, "intact": digest == row["body_sha256"]}

    def merchant_products(self, merchant_id: int, limit: int = 50) -> list[str]:
        """Product page URLs with price observations for a merchant, most recently observed first."""
        rows = self.conn.execute(
            "SELECT url FROM prices WHERE merchant_id = ? GROUP BY url ORDER BY MAX(observed_at) DESC LIMIT ?",
            (merchant_id, int(limit)),
        )
        return [r[0] for r in rows]

    def hit_capture_ids(self, hit_id: int) -> list[int]:
        """The captures that prove a series hit (`hit_captures`), in id order; [] for a text hit."""
        rows = self.conn.execute(
            "SELECT capture_id FROM hit_captures WHERE hit_id = ? ORDER BY capture_id", (hit_id,)
        )
        return [int(r[0]) for r in rows]

    def series_hits(self, product: str | None = None) -> list[dict]:
        """Stored series hits (field 'series'), oldest first, optionally for one product URL, with
        `product` and `captures` (the proving capture ids)."""
        sql = (
            "SELECT h.id FROM hits h JOIN captures c ON c.id = h.capture_id "
            "WHERE h.field = 'series' AND c.url LIKE 'urn:fangxin:series:%'"
        )
        params: list = []
        if product is not None:
            sql += " AND c.final_url = ?"
            params.append(product)
        out = []
        for (hit_id,) in self.conn.execute(sql + " ORDER BY h.id", params).fetchall():
            hit = self.get_hit(hit_id)
            hit["product"] = (hit.get("extracted") or {}).get("product")
            hit["captures"] = self.hit_capture_ids(hit_id)
            out.append(hit)
        return out


class DecisionRefused(StoreError):
    """A triage decision refused by its check (state changed meanwhile, or not permitted)."""
