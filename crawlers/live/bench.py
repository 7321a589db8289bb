"""Benchmark worker for `fangxin bench live` (run as `python -m crawlers.live.bench MODE ...`).

Modes, each printing one JSON line:

    rooms URL... --seconds S [--shot-every K] [--no-ocr] [--ocr-every-shot]
        monitor the rooms at once (the real monitor, OCR and speech settings as given) and report,
        per room, frames received, gaps in the server's sequence numbers (dropped frames), chat
        messages seen on the socket but never in the DOM, screenshots not read by OCR, events/s
    bare URL... --seconds S
        baseline: the same rooms opened in the same Chromium with no listener, no screenshot, no OCR
    ocr IMAGE... [--repeat N]
        per-image OCR latency through rapidocr directly (baseline) and through pipelines.ocr
        (uncached, then cached)

The parent (`fangxin bench live`) measures CPU and memory of this process and its Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from crawlers.live import protobuf
from crawlers.live.analyze import merge_events
from crawlers.live.monitor import Options


def frame_seq(data: str | bytes) -> int | None:
    """The sandbox's sequence number of a received frame (JSON "seq" or PushFrame field 1)."""
    try:
        if isinstance(data, bytes | bytearray):
            return protobuf.integer(protobuf.parse(bytes(data)), 1, -1)
        return int(json.loads(data).get("seq"))
    except (ValueError, TypeError, AttributeError, protobuf.WireError):
        return None


def room_report(session, window: float) -> dict:
    received = [f for f in session.frames if f.direction == "in"]
    seqs = sorted({s for s in (frame_seq(f.data) for f in received) if s is not None and s >= 0})
    gaps = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0
    events = merge_events(list(session.events), session.state_kinds)
    cutoff = window - 1.0  # a message in the last second may not have been rendered before the window closed
    socket_chat = [e for e in events if e.field == "chat" and e.source.startswith("ws:") and e.t < cutoff]
    not_in_dom = [e for e in socket_chat if not any(a.get("source") == "dom" for a in e.meta.get("also", []))]
    delays = [
        (next(iter(a["at"] for a in e.meta.get("also", []) if a.get("source") == "dom")), e.at) for e in socket_chat
        if e not in not_in_dom
    ]  # fmt: skip
    return {
        "url": session.url, "frames": len(received), "seq_gaps": gaps, "chat_on_socket": len(socket_chat),
        "chat_missing_in_dom": len(not_in_dom), "events": len(events), "screenshots": len(session.shots),
        "ocr_images": session.stats.get("ocr_images", 0),
        "screenshots_not_read": session.stats.get("screenshots_not_read", 0),
        "late_work_cancelled": session.stats.get("late_work_cancelled", 0), "errors": session.errors[:5],
        "events_per_s": round(len(events) / window, 2), "dom_matches": len(delays),
    }  # fmt: skip


async def run_rooms(urls: list[str], seconds: float, shot_every: float, ocr: bool, every_shot: bool = False) -> dict:
    from crawlers.live.record import monitor_rooms_async

    options = Options(seconds=seconds, shot_every=shot_every, ocr=ocr, speech="none",
                      ocr_skip_unchanged=not every_shot)  # fmt: skip
    started = time.perf_counter()
    sessions = await monitor_rooms_async(urls, options)
    return {"mode": "rooms", "rooms": [room_report(s, seconds) for s in sessions],
            "wall": round(time.perf_counter() - started, 2)}  # fmt: skip


async def run_bare(urls: list[str], seconds: float) -> dict:
    from playwright.async_api import async_playwright

    from crawlers.live.record import browser_args

    started = time.perf_counter()
    async with async_playwright() as p:
        browser = await p.chromium.launch(**browser_args())
        contexts = [await browser.new_context(viewport={"width": 1100, "height": 720}) for _ in urls]
        pages = [await c.new_page() for c in contexts]
        await asyncio.gather(*(pg.goto(u, wait_until="domcontentloaded") for pg, u in zip(pages, urls, strict=True)))
        await asyncio.sleep(seconds)
        counts = [await pg.evaluate("document.querySelectorAll('.chat-msg').length") for pg in pages]
        await browser.close()
    return {"mode": "bare", "chat_rendered": counts, "wall": round(time.perf_counter() - started, 2)}


def run_ocr(images: list[str], repeat: int) -> dict:
    from rapidocr import RapidOCR

    from pipelines.ocr import OcrEngine

    datas = [Path(p).read_bytes() for p in images]
    direct = RapidOCR(params={"Global.log_level": "warning"})
    engine = OcrEngine(memory_items=0)  # no cache: every read recognises
    for data in datas[:2]:  # load the models and warm up both before timing
        direct(data)
        engine.read(data)
    base_lat, ours = [], []
    for _ in range(repeat):
        for data in datas:  # interleaved, so that both see the same machine load
            t = time.perf_counter()
            direct(data)
            base_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            engine.read(data)
            ours.append(time.perf_counter() - t)
    cached_engine = OcrEngine()
    for data in datas:
        cached_engine.read(data)
    cached = []
    for data in datas:
        t = time.perf_counter()
        cached_engine.read(data)
        cached.append(time.perf_counter() - t)

    def summary(lat: list[float]) -> dict:
        lat = sorted(lat)
        return {"images": len(lat), "images_per_s": round(len(lat) / sum(lat), 2),
                "p50_ms": round(statistics.median(lat) * 1000, 1),
                "p95_ms": round(lat[max(0, int(len(lat) * 0.95) - 1)] * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1)}  # fmt: skip

    return {"mode": "ocr", "rapidocr_direct": summary(base_lat), "ocr_engine_uncached": summary(ours),
            "ocr_engine_cached": summary(cached)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="crawlers.live.bench")
    ap.add_argument("mode", choices=["rooms", "bare", "ocr"])
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--shot-every", type=float, default=5)
    ap.add_argument("--no-ocr", action="store_true")
    ap.add_argument("--ocr-every-shot", action="store_true", help="read every screenshot, changed or not")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    if args.mode == "rooms":
        out = asyncio.run(run_rooms(args.targets, args.seconds, args.shot_every, not args.no_ocr, args.ocr_every_shot))
    elif args.mode == "bare":
        out = asyncio.run(run_bare(args.targets, args.seconds))
    else:
        out = run_ocr(args.targets, args.repeat)
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
