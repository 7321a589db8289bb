"""Watch one live room in Chromium for a time window and collect everything it says.

For the window the monitor records every WebSocket frame the page sends or
receives (text and binary, with the time it was seen) and decodes the received
ones with the profile's decoders; a MutationObserver reports the DOM text the
profile watches (title, pinned message, product cards, countdown, chat) with the
browser's own timestamp; the stage is screenshotted every K seconds and read
by OCR off the event loop; ffmpeg cuts the room's audio into segments for the
speech backend. The result is a `Session`: frames, events, screenshots and
counters, ready for `crawlers.live.analyze`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import re
import tempfile
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from crawlers.live import speech as speech_mod
from crawlers.live.decoders import Event, Frame, build_decoders, clean, decode_frame
from crawlers.live.profiles import Profile

logger = logging.getLogger(__name__)

DOM_WATCHER = r"""
(config) => {
  const state = new WeakMap();
  function textOf(el, sel) {
    const t = sel ? el.querySelector(sel) : el;
    return t ? String(t.innerText || t.textContent || "").replace(/\s+/g, " ").trim() : "";
  }
  function scan() {
    const out = [];
    config.watches.forEach((w, i) => {
      let nodes;
      try { nodes = document.querySelectorAll(w.selector); } catch (e) { return; }
      nodes.forEach((el, n) => {
        let rec = state.get(el);
        if (!rec) { rec = {}; state.set(el, rec); }
        const text = textOf(el, w.text);
        if (w.mode === "append") {
          if (rec[i] !== undefined || !text) return;
          rec[i] = text;
          out.push({w: i, n: n, text: text, user: w.user ? textOf(el, w.user) : ""});
        } else {
          if (rec[i] === text) return;
          rec[i] = text;
          if (text) out.push({w: i, n: n, text: text, user: ""});
        }
      });
    });
    if (out.length) window.__fangxinDom(JSON.stringify({at: Date.now(), items: out}));
  }
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; scan(); }, config.debounce);
  });
  function start() {
    observer.observe(document.documentElement, {subtree: true, childList: true, characterData: true});
    scan();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
"""

DIGITS = re.compile(r"\d+")


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Options:
    seconds: float = 60.0
    shot_every: float = 5.0  # stage screenshot period, seconds (0: none)
    ocr: bool = True
    speech: str = "none"  # none | sidecar | faster-whisper
    speech_model: str = ""
    segment_seconds: float = 10.0
    ocr_backlog: int = 8  # screenshots waiting for OCR (all rooms; one per room) beyond which new ones are not read
    ocr_skip_unchanged: bool = True  # a stage that looks like the last one read is not read again
    settle: float = 0.0  # extra seconds after the window for pending OCR/speech (0: automatic)
    viewport: tuple[int, int] = (1100, 720)


class OcrLimiter:
    """Screenshots queued for OCR across the rooms of one process (OCR reads one image at a time)."""

    def __init__(self, limit: int = 8):
        self.limit = max(1, limit)
        self.pending = 0


def thumbnail(png: bytes) -> bytes | None:
    """A 32x18 grayscale thumbnail, to tell a changed stage from the same one (compression noise aside)."""
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:
            return img.convert("L").resize((32, 18)).tobytes()
    except Exception:  # no Pillow or an odd image: always read
        return None


def near(a: bytes, b: bytes, tolerance: float = 2.0) -> bool:
    return len(a) == len(b) and sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a) <= tolerance


@dataclass
class Shot:
    index: int
    t: float
    at: str
    png: bytes
    sha256: str
    ocr_text: str | None = None  # None: not read (OCR off or backlog)
    ocr_seconds: float = 0.0

    def log_record(self, url: str) -> dict:
        return {"record": "screenshot", "i": self.index, "t": round(self.t, 3), "at": self.at,
                "sha256": self.sha256, "size": len(self.png), "uri": self.uri(url),
                "ocr": self.ocr_text}  # fmt: skip

    def uri(self, url: str) -> str:
        return f"urn:screenshot:{url}#t={self.t:.3f}"


@dataclass
class Session:
    url: str
    profile: str
    started: float  # epoch seconds
    started_at: str
    seconds: float
    frames: list[Frame] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)
    final_url: str = ""
    title: str = ""
    dom: str = ""
    media_url: str = ""
    errors: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    state_kinds: list[str] = field(default_factory=list)  # kinds that hold a state (title …), not a stream

    def inc(self, key: str, n: int | float = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


class RoomMonitor:
    """One room, one page; `run(browser)` returns the Session."""

    def __init__(self, url: str, profile: Profile, options: Options, ocr_engine: Any = None,
                 executor: Executor | None = None, limiter: OcrLimiter | None = None, shot_offset: float = 0.0,
                 speech_backend: Any = None):
        self.url = url
        self.profile = profile
        self.options = options
        self.ocr_engine = ocr_engine if options.ocr else None
        self.executor = executor
        self.decoders = build_decoders(profile.decoders)
        self.session: Session | None = None
        self._ocr_pending: list[asyncio.Future] = []
        self._last_thumb: tuple[bytes, Shot] | None = None
        self.limiter = limiter or OcrLimiter(options.ocr_backlog)
        self._ocr_busy = False
        self.shot_offset = shot_offset
        self.speech_backend = speech_backend  # shared by the rooms of one process; None: made on demand
        self._last_ocr = ""
        self._tick_state: dict[tuple[int, int], Event] = {}
        self._cdp_urls: dict[str, str] = {}
        self._cdp_offset: float | None = None
        self._cdp_seen: dict[str, list[tuple[float, str]]] = {}
        self._pw_waiting: dict[str, list[tuple[str, Frame, list[Event]]]] = {}

    # -- callbacks -----------------------------------------------------------------
    def _now(self) -> tuple[float, str]:
        now = time.time()
        assert self.session is not None
        return now - self.session.started, iso(now)

    def _on_socket(self, ws: Any) -> None:
        assert self.session is not None
        self.session.inc("sockets")
        url = ws.url

        def received(payload: str | bytes) -> None:
            self._frame(url, "in", payload)

        def sent(payload: str | bytes) -> None:
            self._frame(url, "out", payload)

        ws.on("framereceived", received)
        ws.on("framesent", sent)
        ws.on("socketerror", lambda err: self.session.errors.append(f"socket {url}: {err}"))

    def _frame(self, socket: str, direction: str, payload: str | bytes) -> None:
        s = self.session
        assert s is not None
        t, at = self._now()
        frame = Frame(len(s.frames), t, at, socket, direction, payload)
        s.frames.append(frame)
        s.inc(f"frames_{direction}")
        if direction != "in":
            return
        name, events = decode_frame(self.decoders, frame)
        s.inc(f"frames_decoded_{name}" if name else "frames_undecoded")
        s.events.extend(events)
        self._browser_time(frame, events)

    # -- browser-side frame times (Chromium DevTools protocol) --------------------------
    # Playwright hands us a frame once it has crossed the driver, which can lag under load. The
    # DevTools `Network.webSocketFrameReceived` event carries the time Chromium received it: frames
    # of one socket are matched in order by payload hash, and a matched frame and its events take
    # that time (`time_source` "browser"); an unmatched one keeps the time we saw it ("receipt").

    @staticmethod
    def _payload_key(data: str | bytes) -> str:
        raw = bytes(data) if isinstance(data, bytes | bytearray) else str(data).encode("utf-8")
        return hashlib.sha1(raw, usedforsecurity=False).hexdigest()

    def _set_time(self, frame: Frame, events: list[Event], wall: float) -> None:
        s = self.session
        assert s is not None
        frame.t, frame.at, frame.time_source = wall - s.started, iso(wall), "browser"
        for ev in events:
            ev.t, ev.at = frame.t, frame.at
        s.inc("frames_browser_time")

    def _browser_time(self, frame: Frame, events: list[Event]) -> None:
        key = self._payload_key(frame.data)
        seen = self._cdp_seen.get(frame.socket)
        if seen:
            for i, (wall, cdp_key) in enumerate(seen):
                if cdp_key == key:
                    del seen[: i + 1]
                    self._set_time(frame, events, wall)
                    return
        waiting = self._pw_waiting.setdefault(frame.socket, [])
        waiting.append((key, frame, events))
        del waiting[:-500]

    def _on_cdp(self, method: str, params: dict) -> None:
        try:
            if method == "Network.webSocketCreated":
                self._cdp_urls[params["requestId"]] = params.get("url", "")
            elif method == "Network.webSocketWillSendHandshakeRequest":
                self._cdp_offset = float(params["wallTime"]) - float(params["timestamp"])
            elif method == "Network.webSocketFrameReceived" and self._cdp_offset is not None:
                url = self._cdp_urls.get(params["requestId"], "")
                response = params.get("response") or {}
                opcode = response.get("opcode")
                if opcode not in (1, 2):
                    return
                data = response.get("payloadData", "")
                payload: str | bytes = base64.b64decode(data) if opcode == 2 else data
                key, wall = self._payload_key(payload), float(params["timestamp"]) + self._cdp_offset
                waiting = self._pw_waiting.get(url)
                if waiting:
                    for i, (pw_key, frame, events) in enumerate(waiting):
                        if pw_key == key:
                            del waiting[: i + 1]
                            self._set_time(frame, events, wall)
                            return
                seen = self._cdp_seen.setdefault(url, [])
                seen.append((wall, key))
                del seen[:-500]
        except (KeyError, ValueError, TypeError):
            return

    async def _attach_cdp(self, context: Any, page: Any) -> None:
        try:
            cdp = await context.new_cdp_session(page)
            for method in ("Network.webSocketCreated", "Network.webSocketWillSendHandshakeRequest",
                           "Network.webSocketFrameReceived"):  # fmt: skip
                cdp.on(method, lambda params, method=method: self._on_cdp(method, params))
            await cdp.send("Network.enable")
        except Exception as exc:  # not Chromium, or the protocol refused: receipt times only
            if self.session is not None:
                self.session.errors.append(f"devtools: {str(exc).splitlines()[0]}")

    def _on_dom(self, payload: str) -> None:
        s = self.session
        assert s is not None
        try:
            batch = json.loads(payload)
        except ValueError:
            return
        epoch = float(batch.get("at", time.time() * 1000)) / 1000.0
        t, at = epoch - s.started, iso(epoch)
        for item in batch.get("items", []):
            try:
                watch = self.profile.watch[int(item["w"])]
            except (KeyError, IndexError, ValueError):
                continue
            text = clean(item.get("text", ""))
            if not text:
                continue
            s.inc("dom_events")
            meta: dict[str, Any] = {"selector": watch.selector, "element": item.get("n", 0)}
            if item.get("user"):
                meta["user"] = item["user"]
                if watch.text == "" and text.startswith(item["user"]):
                    text = text[len(item["user"]):].strip() or text
            event = Event(t, at, watch.field, text, "dom", watch.kind, meta)
            if watch.ticking and self._tick(int(item["w"]), int(item.get("n", 0)), event):
                continue
            s.events.append(event)

    def _tick(self, w: int, n: int, event: Event) -> bool:
        """Countdowns: one event per wording; the values and any reset go into its meta. True: absorbed."""
        key = (w, n)
        value = [int(x) for x in DIGITS.findall(event.text)]
        seconds = value[-1] if value else None
        prev = self._tick_state.get(key)
        if prev is not None and DIGITS.sub("#", prev.text) == DIGITS.sub("#", event.text):
            values = prev.meta.setdefault("values", [])
            last = values[-1][1] if values else None
            if seconds is not None and last is not None and seconds > last:
                prev.meta["resets"] = prev.meta.get("resets", 0) + 1
                prev.meta.setdefault("reset_times", []).append(event.at)
            values.append([round(event.t, 3), seconds])
            if len(values) > 600:
                del values[1:-300]
            return True
        event.meta["values"] = [[round(event.t, 3), seconds]]
        self._tick_state[key] = event
        return False

    # -- screenshots and OCR ---------------------------------------------------------
    async def _shoot(self, page: Any) -> None:
        s = self.session
        assert s is not None
        t, at = self._now()
        try:
            target = page.locator(self.profile.stage).first if self.profile.stage else None
            if target is not None and await target.count():
                png = await target.screenshot(type="png", timeout=5000, animations="allow")
            else:
                png = await page.screenshot(type="png", timeout=5000)
        except Exception as exc:  # page navigating or closing
            s.inc("screenshots_failed")
            s.errors.append(f"screenshot: {str(exc).splitlines()[0]}")
            return
        shot = Shot(len(s.shots), t, at, png, hashlib.sha256(png).hexdigest())
        s.shots.append(shot)
        s.inc("screenshots")
        if self.ocr_engine is None:
            return
        thumb = thumbnail(png)
        if (self.options.ocr_skip_unchanged and thumb is not None and self._last_thumb is not None
                and near(thumb, self._last_thumb[0])):
            # the stage looks the same as the last one read: its text is the same, no OCR needed
            shot.ocr_text = self._last_thumb[1].ocr_text
            s.inc("ocr_skipped_unchanged")
            return
        if self._ocr_busy or self.limiter.pending >= self.limiter.limit:
            # this room's previous screenshot is still waiting to be read: OCR is not keeping up
            s.inc("screenshots_not_read")
            return
        self._ocr_busy = True
        self.limiter.pending += 1
        if thumb is not None:
            self._last_thumb = (thumb, shot)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.ocr_engine.read, png)
        future.add_done_callback(lambda f, shot=shot: self._ocr_done(shot, f))
        self._ocr_pending.append(future)

    def _ocr_done(self, shot: Shot, future: asyncio.Future) -> None:
        s = self.session
        assert s is not None
        self.limiter.pending -= 1
        self._ocr_busy = False
        if future.cancelled():
            return
        try:
            result = future.result()
        except Exception as exc:
            s.errors.append(f"ocr: {exc}")
            s.inc("ocr_failed")
            return
        shot.ocr_text = result.text
        shot.ocr_seconds = result.seconds
        s.inc("ocr_images")
        s.inc("ocr_seconds", result.seconds)
        text = clean(result.text)
        if not text:
            return
        key = re.sub(r"\s+", "", text)
        if key == self._last_ocr:  # the stage says the same thing: no new event
            return
        self._last_ocr = key
        s.events.append(Event(shot.t, shot.at, "ocr", text, "ocr", "stage", {
            "screenshot": shot.index, "screenshot_sha256": shot.sha256, "image_url": shot.uri(self.url),
            "lines": [{"text": line.text, "score": line.score, "box": line.box} for line in result.lines],
        }))  # fmt: skip

    async def _shots_loop(self, page: Any, deadline: float) -> None:
        every = self.options.shot_every
        if every <= 0:
            return
        next_at = time.monotonic() + self.shot_offset  # rooms of one process take turns, not all at once
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_at:
                await self._shoot(page)
                next_at += every
                if next_at < time.monotonic():  # fell behind: keep the period, skip the missed ones
                    next_at = time.monotonic() + every
            await asyncio.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))

    # -- speech ----------------------------------------------------------------------
    async def _media_url(self, page: Any) -> str:
        if not self.profile.media:
            return ""
        try:
            src = await page.evaluate(
                "(sel) => { const el = document.querySelector(sel); return el ? (el.currentSrc || el.src || '') : ''; }",
                self.profile.media,
            )
        except Exception:
            return ""
        if not src or src.startswith(("blob:", "data:", "mediastream:")):
            return ""
        return urljoin(page.url, src)

    async def _speech(self, page: Any, window_end: float) -> None:
        s = self.session
        assert s is not None
        if self.options.speech == "none":
            return
        backend = self.speech_backend
        if backend is None:
            try:
                backend = speech_mod.make_backend(self.options.speech, self.options.speech_model)
            except speech_mod.SpeechError as exc:
                s.errors.append(f"speech: {exc}")
                return
        media = ""
        for _ in range(20):
            media = await self._media_url(page)
            if media:
                break
            await asyncio.sleep(0.1)
        if not media:
            s.errors.append("speech: no media URL in the room")
            return
        s.media_url = media
        remaining = max(1.0, window_end - time.monotonic())
        with tempfile.TemporaryDirectory(prefix="fangxin-audio-") as tmp:
            out_dir = Path(tmp)
            try:
                cmd = speech_mod.ffmpeg_command(media, out_dir, remaining, self.options.segment_seconds)
            except speech_mod.SpeechError as exc:
                s.errors.append(f"speech: {exc}")
                return
            t0, _ = self._now()
            proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)  # fmt: skip
            errors = asyncio.create_task(proc.stderr.read()) if proc.stderr else None
            done: set[str] = set()
            give_up = time.monotonic() + remaining + 15
            # Transcribe each segment as soon as the next one has started (it is then complete),
            # so a long window yields speech events while it runs, not only at its end.
            while proc.returncode is None:
                if time.monotonic() > give_up:
                    proc.kill()
                    break
                try:
                    await asyncio.wait_for(proc.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                ready = speech_mod.pieces(out_dir, self.options.segment_seconds)[:-1]
                if not await self._transcribe(backend, media, t0, [p for p in ready if p.path.name not in done], done):
                    proc.kill()
                    break
            await proc.wait()
            err = await errors if errors else b""
            if proc.returncode not in (0, -9) and err:
                s.errors.append("ffmpeg: " + err.decode("utf-8", "replace").strip().splitlines()[-1])
            rest = [p for p in speech_mod.pieces(out_dir, self.options.segment_seconds) if p.path.name not in done]
            await self._transcribe(backend, media, t0, rest, done)

    async def _transcribe(self, backend: Any, media: str, t0: float, pieces: list, done: set[str]) -> bool:
        """Transcribe audio pieces into `transcript` events; False when the backend fails."""
        s = self.session
        assert s is not None
        loop = asyncio.get_running_loop()
        for piece in pieces:
            done.add(piece.path.name)
            s.inc("audio_segments")
            try:
                segments = await loop.run_in_executor(self.executor, backend.transcribe, piece, media)
            except speech_mod.SpeechError as exc:
                s.errors.append(f"speech: {exc}")
                return False
            for seg in segments:
                text = clean(seg.text)
                if not text:
                    continue
                t = t0 + seg.start
                s.events.append(Event(t, iso(s.started + t), "transcript", text, "speech", "speech", {
                    "backend": backend.name, "media": media, "media_start": seg.start, "media_end": seg.end,
                    "audio_segment": [piece.start, piece.end],
                }))  # fmt: skip
        return True

    # -- the window ------------------------------------------------------------------
    async def run(self, browser: Any) -> Session:
        opts = self.options
        started = time.time()
        self.session = s = Session(self.url, self.profile.name, started, iso(started), opts.seconds)
        s.state_kinds = sorted({w.kind for w in self.profile.watch if w.mode == "state"})
        context = await browser.new_context(
            viewport={"width": opts.viewport[0], "height": opts.viewport[1]}, locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )  # fmt: skip
        try:
            page = await context.new_page()
            page.on("websocket", self._on_socket)
            await self._attach_cdp(context, page)
            await page.expose_function("__fangxinDom", self._on_dom)
            config = {"watches": [w.js() for w in self.profile.watch], "debounce": 40}
            await page.add_init_script(script=f"({DOM_WATCHER})({json.dumps(config)})")
            deadline = time.monotonic() + opts.seconds
            try:
                await page.goto(self.url, wait_until="domcontentloaded", timeout=30_000)
            except Exception as exc:
                s.errors.append(f"goto: {str(exc).splitlines()[0]}")
                return s
            tasks = [asyncio.create_task(self._shots_loop(page, deadline)),
                     asyncio.create_task(self._speech(page, deadline))]  # fmt: skip
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            await tasks[0]
            try:
                s.final_url = page.url
                s.title = await page.title()
                s.dom = await page.content()
            except Exception as exc:
                s.errors.append(f"dom: {str(exc).splitlines()[0]}")
            await context.close()  # the window is over: no frame or DOM event after this
            settle = opts.settle or max(20.0, opts.seconds)
            done, pending = await asyncio.wait([tasks[1], *self._ocr_pending], timeout=settle)
            for task in pending:
                task.cancel()
            if pending:
                s.inc("late_work_cancelled", len(pending))
            for task in done:
                if task is tasks[1] and task.exception():
                    s.errors.append(f"speech: {task.exception()}")
        finally:
            await context.close()
        s.stats["seconds"] = round(time.time() - started, 3)
        return s
