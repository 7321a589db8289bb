"""Run room monitors and keep what they saw: WARC evidence and the store.

`monitor_rooms(urls, options)` watches rooms concurrently in one Chromium (one
context per room, OCR and speech on a shared worker thread) and returns their
sessions. `record_session()` writes a session as one capture: the event log
(JSONL: session header, every frame, every merged event, every screenshot
with its OCR text), the stage screenshots (the one nearest the first hit
first) and the final DOM as WARC resource records plus a metadata record with
the fields and hits; then one `captures` row with the document fields and the
hits, each hit's `extracted` holding its event time and screenshot.

`monitor(url, seconds, db)` does both for one room; the `fangxin live` command
and the scheduler's `kind: live` plan entries call it.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crawlers.live.analyze import analyse, nearest_shot
from crawlers.live.decoders import Event
from crawlers.live.monitor import OcrLimiter, Options, RoomMonitor, Session
from crawlers.live.profiles import Profile, load_profile, profile_for

LOG_TYPE = "application/x-ndjson; charset=utf-8"


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def browser_args(extra: list[str] | None = None) -> dict:
    from crawlers.browser import launch_options

    opts = launch_options()
    opts["args"] = [*opts["args"], "--autoplay-policy=no-user-gesture-required", "--mute-audio", *(extra or [])]
    return opts


async def monitor_rooms_async(urls: list[str], options: Options, profile: Profile | None = None,
                              ocr_engine: Any = None) -> list[Session]:
    from playwright.async_api import async_playwright

    if options.ocr and ocr_engine is None:
        from pipelines.ocr import OcrEngine, OcrUnavailable, shared_engine

        ocr_engine = shared_engine() if OcrEngine.available() else None
        if ocr_engine is None:
            raise OcrUnavailable("OCR needs `pip install rapidocr onnxruntime` (或使用 --no-ocr)")
    speech_backend = None
    if options.speech != "none":  # fails here, before any browser starts, when the backend cannot work
        from crawlers.live.speech import make_backend

        speech_backend = make_backend(options.speech, options.speech_model)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fangxin-live-work")
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(**browser_args())
            try:
                limiter = OcrLimiter(options.ocr_backlog)
                step = options.shot_every / len(urls) if urls else 0.0  # rooms take turns for screenshots
                monitors = [RoomMonitor(u, profile or profile_for(u), options, ocr_engine, executor, limiter, i * step,
                                        speech_backend) for i, u in enumerate(urls)]  # fmt: skip
                return list(await asyncio.gather(*(m.run(browser) for m in monitors)))
            finally:
                await browser.close()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def monitor_rooms(urls: list[str], options: Options, profile: Profile | None = None) -> list[Session]:
    return asyncio.run(monitor_rooms_async(urls, options, profile))


# ------------------------------------------------------------------ evidence and store


def event_log(session: Session, events: list[Event], options: Options) -> bytes:
    header = {
        "record": "session", "url": session.url, "final_url": session.final_url, "profile": session.profile,
        "started_at": session.started_at, "seconds": session.seconds, "title": session.title,
        "media_url": session.media_url, "options": {k: v for k, v in vars(options).items() if k != "speech_model"},
        "stats": session.stats, "errors": session.errors,
    }  # fmt: skip
    rows: list[tuple[float, int, dict]] = []
    rows += [(f.t, 0, f.log_record()) for f in session.frames]
    rows += [(e.t, 1, e.log_record()) for e in events]
    rows += [(s.t, 2, s.log_record(session.url)) for s in session.shots]
    rows.sort(key=lambda r: (r[0], r[1]))
    lines = [json.dumps(header, ensure_ascii=False, default=str)]
    lines += [json.dumps(r[2], ensure_ascii=False, default=str) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _warc_info(run_id: int, operator: str, plan: str) -> dict:
    from pipelines.evidence import software_line
    from pipelines.warc import local_ip

    return {
        "software": software_line(),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "operator": operator,
        "hostname": platform.node(),
        "ip": local_ip(),
        "isPartOf": f"fangxin-run-{run_id}",
        "plan": plan,
        "description": "放心消费监测 直播间监测证据 (Fangxin Watch live-room evidence)",
    }


def record_session(
    store: Any, run_id: int, warcs: Any, stored_name: Any, session: Session, engine: Any, options: Options,
    plan: str = "live",
) -> dict:
    """Analyse a session, write its WARC group and its capture row; returns a summary."""
    from pipelines.warc import write_resource_group

    events, fields, hits = analyse(session, engine)
    log = event_log(session, events, options)
    first_hit = hits[0]["extracted"].get("event_offset", 0.0) if hits else None
    primary = nearest_shot(session.shots, first_hit) if first_hit is not None else (
        session.shots[-1] if session.shots else None)
    shots = ([primary] if primary else []) + [s for s in session.shots if s is not primary]
    resources: list[tuple[str, str, bytes]] = [(f"urn:live-events:{session.url}", LOG_TYPE, log)]
    resources += [(s.uri(session.url), "image/png", s.png) for s in shots]
    if session.dom:
        resources.append((f"urn:dom:{session.url}", "text/html; charset=utf-8", session.dom.encode("utf-8")))
    title = next((e.text for e in reversed(events) if e.field == "livestream_title"), "") or session.title
    metadata = {
        "url": session.url, "final_url": session.final_url, "fetched_at": session.started_at, "render": "live",
        "plan": plan, "sector": "livestream", "title": title, "profile": session.profile, "fields": fields,
        "hits": hits, "event_log_sha256": hashlib.sha256(log).hexdigest(), "stats": session.stats,
    }  # fmt: skip
    location = write_resource_group(warcs, session.url, session.started_at, resources, metadata)
    capture = {
        "url": session.url, "final_url": session.final_url or session.url, "method": "GET", "status": 200,
        "content_type": "application/x-ndjson", "encoding": "utf-8", "render": "live",
        "fetched_at": session.started_at, "body": log, "body_sha256": hashlib.sha256(log).hexdigest(),
        "title": title, "sector": "livestream", "plan": plan, "fields": fields, "dom": session.dom or None,
        "screenshot": primary.png if primary else None,
        "warc": {**location.as_dict(), "file": stored_name(location.file)},
    }  # fmt: skip
    capture_id = store.save_capture(run_id, capture, hits)
    return {
        "url": session.url, "capture_id": capture_id, "events": len(events), "frames": len(session.frames),
        "screenshots": len(session.shots), "hits": hits, "fields": fields, "stats": session.stats,
        "errors": session.errors, "warc": capture["warc"],
    }  # fmt: skip


def monitor(
    urls: str | list[str], seconds: float, db: str, *, options: Options | None = None, profile: str | None = None,
    plan: str = "live", operator: str | None = None, evidence_dir: str | None = None, packs: list[str] | None = None,
) -> dict:
    """Watch rooms for `seconds`, store each as a capture with its hits; returns {run_id, rooms: [...]}."""
    import rules
    from pipelines.store import Store
    from pipelines.warc import WarcFiles

    url_list = [urls] if isinstance(urls, str) else list(urls)
    options = options or Options()
    options.seconds = float(seconds)
    chosen = load_profile(profile) if profile else None
    engine = rules.load_engine(packs or None)
    operator = operator or _operator()
    started = time.time()
    sessions = monitor_rooms(url_list, options, chosen)
    store = Store(db)
    try:
        settings = {"FANGXIN_LIVE": {k: v for k, v in vars(options).items() if k != "speech_model"},
                    "urls": url_list, "profile": profile or "auto"}  # fmt: skip
        run_id = store.start_run(plan, operator, settings)
        folder = Path(evidence_dir) if evidence_dir else Path(db).resolve().parent / "warc"
        warcs = WarcFiles(folder, run_id, _warc_info(run_id, operator, plan))

        def stored_name(name: str) -> str:
            path = (folder / name).resolve()
            try:
                return path.relative_to(Path(db).resolve().parent).as_posix()
            except ValueError:
                return str(path)

        try:
            rooms = [record_session(store, run_id, warcs, stored_name, s, engine, options, plan) for s in sessions]
        finally:
            warcs.close()
        stats = {
            "rooms": len(rooms), "events": sum(r["events"] for r in rooms), "frames": sum(r["frames"] for r in rooms),
            "hits": sum(len(r["hits"]) for r in rooms), "seconds": round(time.time() - started, 3),
        }  # fmt: skip
        store.finish_run(run_id, "finished", stats)
    finally:
        store.close()
    return {"run_id": run_id, "rooms": rooms, "stats": stats}
