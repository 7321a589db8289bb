"""From a room session's events to document fields and hits that carry their event time.

1. Merge: the same text usually reaches us twice, decoded from the socket and
   rendered in the DOM. A DOM event is merged into the socket event of the same
   field and text (whitespace ignored) seen within `MERGE_WINDOW` seconds; each
   socket event absorbs at most one DOM event, so a message repeated later is
   still its own event. The merged event keeps the earlier time, names the
   socket as its source and lists the DOM copy under `also`. A state (title, pinned message, product card, countdown: the
   profile's `state` watches) sent again unchanged is not a new statement: it
   is counted in the first event's `repeats`/`last_seen`, not repeated.
2. Fields: each document field (`livestream_title`, `chat`, `product_cards`,
   `pinned`, `ocr`, `transcript`) is its events' texts in time order, one per
   line; every event knows its span in its field. Speech that the fixed audio
   cut split mid-utterance (the first piece's speech runs to its end, the next
   piece's starts at its start, no sentence end between) is joined without a
   line break, so a claim cut as 能根 | 治湿疹 is read whole.
3. Rules: the rule engine runs once over the fields; each hit is mapped back to
   the event its start falls in. `hit["extracted"]` then holds the event time
   (UTC and seconds into the session), source and kind, the nearest stage
   screenshot (for OCR hits: the screenshot that was read, and its URI as
   `image_url`), countdown resets when the event is a countdown, and the events
   around it for the evidence report.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from crawlers.live.decoders import FIELDS, Event
from crawlers.live.monitor import Session, Shot
from pipelines.ocr import SENTENCE_END

MERGE_WINDOW = 1.5
AROUND = 3  # events before and after a hit kept in its `extracted`
WS = re.compile(r"\s+")
CUT_SLACK = 0.6  # seconds: speech this close to a piece's edge ran into the audio cut
_HAN = re.compile(r"[\u3400-\u9fff]")


def _key(event: Event) -> tuple[str, str]:
    return event.field, WS.sub("", event.text)


def merge_events(events: list[Event], state_kinds: list[str] | tuple[str, ...] = ()) -> list[Event]:
    """Events in time order with socket/DOM duplicates and unchanged states merged; ids assigned."""
    ordered = sorted(events, key=lambda e: e.t)
    merged: list[Event] = []
    open_ws: dict[tuple[str, str], list[Event]] = {}
    open_dom: dict[tuple[str, str], list[Event]] = {}
    for ev in ordered:
        key = _key(ev)
        if ev.source == "dom":
            partner = _take(open_ws, key, ev.t)
            if partner is not None:
                partner.meta.setdefault("also", []).append({"source": "dom", "at": ev.at, **{
                    k: v for k, v in ev.meta.items() if k in ("selector", "values", "resets", "reset_times")}})
                for k in ("values", "resets", "reset_times"):
                    if k in ev.meta:
                        partner.meta[k] = ev.meta[k]
                continue
            open_dom.setdefault(key, []).append(ev)
        elif ev.source.startswith("ws:"):
            partner = _take(open_dom, key, ev.t)
            if partner is not None:
                # rendered before the frame reached us: keep the earlier time, but the socket is the origin
                dom_meta = {k: v for k, v in partner.meta.items() if k in ("selector", "values", "resets", "reset_times")}
                partner.meta = {**partner.meta, **ev.meta, "also": [{"source": "dom", "at": partner.at, **dom_meta}]}
                partner.source, partner.text = ev.source, ev.text
                continue
            open_ws.setdefault(key, []).append(ev)
        merged.append(ev)
    out: list[Event] = []
    current: dict[tuple[str, str, str], Event] = {}
    for ev in merged:
        if ev.kind in state_kinds:
            state = (ev.field, ev.kind, str(ev.meta.get("sku") or ev.meta.get("element") or ""))
            if ev.kind == "product_card" and not ev.meta.get("sku"):
                state = (ev.field, ev.kind, WS.sub("", ev.text)[:8])
            last = current.get(state)
            if last is not None and _key(last) == _key(ev):
                last.meta["repeats"] = last.meta.get("repeats", 0) + 1
                last.meta["last_seen"] = ev.at
                if ev.kind == "countdown":  # sent again from the top: the countdown was reset
                    last.meta["resets"] = max(last.meta.get("resets", 0), last.meta["repeats"])
                continue
            current[state] = ev
        out.append(ev)
    for i, ev in enumerate(out):
        ev.id = i
    return out


def _take(pool: dict[tuple[str, str], list[Event]], key: tuple[str, str], t: float) -> Event | None:
    candidates = pool.get(key)
    if not candidates:
        return None
    while candidates and t - candidates[0].t > MERGE_WINDOW:
        candidates.pop(0)
    return candidates.pop(0) if candidates else None


@dataclass
class Span:
    event: Event
    start: int
    end: int


def _cut_mid_speech(prev: Event, cur: Event) -> bool:
    """Whether two speech events are one utterance the fixed audio cut split: consecutive pieces,
    the first running to its piece's end and the second starting at its piece's start, with no
    sentence end between them (这个面霜能根 | 治湿疹 is one claim, not two)."""
    if prev.source != "speech" or cur.source != "speech" or prev.field != "transcript" or cur.field != "transcript":
        return False
    a, b = prev.meta.get("audio_segment"), cur.meta.get("audio_segment")
    if not a or not b or abs(a[1] - b[0]) > 0.05:
        return False
    if prev.meta.get("media_end", 0) < a[1] - CUT_SLACK or cur.meta.get("media_start", b[0]) > b[0] + CUT_SLACK:
        return False
    ended = prev.text.rstrip()
    return bool(ended) and ended[-1] not in SENTENCE_END


def build_fields(events: list[Event]) -> tuple[dict[str, str], dict[str, list[Span]]]:
    """Each field's events' texts in time order, one per line; speech the audio cut split in the
    middle of an utterance is joined without a line break, so the rules read it whole."""
    texts: dict[str, list[str]] = {}
    spans: dict[str, list[Span]] = {}
    ends: dict[str, int] = {}
    last: dict[str, Event] = {}
    for ev in events:
        parts = texts.setdefault(ev.field, [])
        text = ev.text.replace("\n", " ") if ev.field != "ocr" else ev.text
        joined = bool(parts) and _cut_mid_speech(last[ev.field], ev)
        if joined:
            glue = "" if _HAN.match(text) or _HAN.search(parts[-1][-1:]) else " "
            parts[-1] += glue + text
            pos = ends[ev.field] + len(glue)
        else:
            pos = ends[ev.field] + 1 if parts else 0
            parts.append(text)
        spans.setdefault(ev.field, []).append(Span(ev, pos, pos + len(text)))
        ends[ev.field] = pos + len(text)
        last[ev.field] = ev
    fields = {name: "\n".join(parts) for name, parts in texts.items() if name in FIELDS}
    return fields, spans


def event_at(spans: list[Span], start: int) -> Event | None:
    starts = [s.start for s in spans]
    i = bisect.bisect_right(starts, start) - 1
    if i >= 0 and spans[i].start <= start <= spans[i].end:
        return spans[i].event
    return None


def nearest_shot(shots: list[Shot], t: float) -> Shot | None:
    return min(shots, key=lambda s: abs(s.t - t)) if shots else None


def _brief(ev: Event) -> dict:
    return {"id": ev.id, "at": ev.at, "t": round(ev.t, 3), "field": ev.field, "kind": ev.kind, "text": ev.text[:200]}


def analyse(session: Session, engine: Any) -> tuple[list[Event], dict[str, str], list[dict]]:
    """(merged events, document fields, hits as dicts with the event and screenshot in `extracted`)."""
    events = merge_events(session.events, session.state_kinds)
    fields, spans = build_fields(events)
    hits: list[dict] = []
    if not fields:
        return events, fields, hits
    for hit in engine.check(fields):
        data = hit.to_dict()
        ev = event_at(spans.get(data.get("field") or "", []), int(data.get("start") or 0))
        extracted = dict(data.get("extracted") or {})
        if ev is not None:
            extracted.update({
                "event_id": ev.id, "event_time": ev.at, "event_offset": round(ev.t, 3), "event_source": ev.source,
                "event_kind": ev.kind, "event_text": ev.text[:500],
            })  # fmt: skip
            for k in ("user", "sku", "method", "seq", "resets", "reset_times", "repeats", "last_seen", "media_start",
                      "media_end"):
                if k in ev.meta:
                    extracted[f"event_{k}" if k in ("seq",) else k] = ev.meta[k]
            shot = None
            if ev.field == "ocr" and "screenshot" in ev.meta:
                shot = session.shots[ev.meta["screenshot"]]
                extracted["image_url"] = shot.uri(session.url)
            else:
                shot = nearest_shot(session.shots, ev.t)
            if shot is not None:
                extracted["screenshot"] = {"index": shot.index, "at": shot.at, "offset": round(shot.t, 3),
                                           "sha256": shot.sha256, "uri": shot.uri(session.url)}  # fmt: skip
            lo, hi = max(0, ev.id - AROUND), min(len(events), ev.id + AROUND + 1)
            extracted["events_around"] = [_brief(e) for e in events[lo:hi]]
        data["extracted"] = extracted
        hits.append(data)
    hits.sort(key=lambda h: (h["extracted"].get("event_offset", 0.0), h.get("field") or "", h.get("start") or 0))
    return events, fields, hits
