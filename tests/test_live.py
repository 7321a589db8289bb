"""Live-room monitoring: frame decoders, profiles, event merging, speech segments, and `fangxin live`
against the sandbox simulator rooms (3003 with violations, 3004 clean)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crawlers.live import protobuf
from crawlers.live.analyze import analyse, build_fields, merge_events
from crawlers.live.decoders import Event, Frame, JsonDecoder, WebcastDecoder, decode_frame
from crawlers.live.monitor import Session, Shot
from crawlers.live.profiles import all_profiles, load_profile, profile_for
from pipelines.ocr import OcrEngine
from tests.conftest import run_fangxin
from tests.sites import live as room_sim

WWW = Path(__file__).resolve().parent / "sites" / "www"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")
                 if Path(p).exists()), None)  # fmt: skip


def needs_browser_and_ocr(test):
    for mark in (
        pytest.mark.browser,
        pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's Chromium"),
        pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg"),
        pytest.mark.skipif(not OcrEngine.available(), reason="needs rapidocr and onnxruntime"),
    ):
        test = mark(test)
    return test



def frame(data, i: int = 0, t: float = 1.0) -> Frame:
    return Frame(i, t, "2026-01-01T00:00:01.000Z", "ws://room/ws", "in", data)


# ---------------------------------------------------------------------------------------------- decoders


def test_wire_format_reads_varints_strings_and_nested_messages() -> None:
    assert protobuf.read_varint(b"\xac\x02", 0) == (300, 2)
    msg = protobuf.parse(b"\x08\x96\x01" + b"\x12\x03abc" + b"\x1a\x02\x08\x07" + b"\x25\x01\x00\x00\x00")
    assert protobuf.integer(msg, 1) == 150
    assert protobuf.text(msg, 2) == "abc"
    assert protobuf.integer(protobuf.message(msg, 3), 1) == 7
    assert protobuf.first(msg, 4) == 1
    with pytest.raises(protobuf.WireError):
        protobuf.parse(b"\x12\x05ab")  # length runs past the end


def test_webcast_decoder_reads_the_simulators_binary_chat() -> None:
    ev = {"type": "chat", "user": "阿强", "text": "加我微信私下交易更便宜"}
    data = room_sim.encode_chat(ev, seq=42)
    decoder = WebcastDecoder({"methods": {"WebcastChatMessage": {"field": "chat", "text": [3], "user": [2, 3]}}})
    events = decoder.decode(frame(data))
    assert [(e.field, e.text, e.meta["user"], e.meta["seq"], e.source) for e in events] == [
        ("chat", "加我微信私下交易更便宜", "阿强", 42, "ws:webcast")
    ]
    assert decoder.decode(frame('{"type": "chat"}')) is None  # text frames are not its format
    assert decoder.decode(frame(b"\xff\xff")) is None  # malformed bytes: not its format, no exception


def test_json_decoder_renders_product_cards_and_ignores_unknown_types() -> None:
    profile = load_profile("sandbox")
    decoder = JsonDecoder(profile.decoders["json"])
    card = {"type": "product_card", "sku": "C01", "name": "灵芝孢子粉胶囊 60粒", "price_label": "直播价",
            "price": "199.00", "ref_label": "原价", "ref_price": "1999.00", "sales": "本场已售86件", "tag": "降血糖"}
    (event,) = decoder.decode(frame(json.dumps(card, ensure_ascii=False)))
    assert event.field == "product_cards" and event.meta["sku"] == "C01"
    assert event.text == "灵芝孢子粉胶囊 60粒 直播价¥199.00 原价¥1999.00 本场已售86件 降血糖"
    assert decoder.decode(frame('{"type": "overlay", "text": "x"}')) == []
    assert decoder.decode(frame("ping")) is None
    name, events = decode_frame([WebcastDecoder(), decoder], frame('{"type": "title", "text": "标题"}'))
    assert name == "json" and events[0].field == "livestream_title"


def test_profiles_load_and_pick_by_url() -> None:
    names = [p.name for p in all_profiles()]
    assert names[-1] == "generic" and "sandbox" in names
    assert profile_for("http://127.0.0.1:8800/live/room/3003?speed=4").name == "sandbox"
    assert profile_for("https://live.example.com/123").name == "generic"


# ---------------------------------------------------------------------------------------------- analysis


def ev(t: float, field: str, text: str, source: str = "ws:json", kind: str = "chat", **meta) -> Event:
    return Event(t, f"2026-01-01T00:00:{t:06.3f}Z", field, text, source, kind, dict(meta))


def test_socket_and_dom_copies_merge_but_repeated_messages_stay() -> None:
    events = merge_events([
        ev(1.00, "chat", "加我微信私下交易更便宜"), ev(1.02, "chat", "加我微信 私下交易更便宜", source="dom"),
        ev(5.01, "chat", "加我微信私下交易更便宜"), ev(5.00, "chat", "加我微信私下交易更便宜", source="dom"),
        ev(0.5, "livestream_title", "标题", kind="title"), ev(3.0, "livestream_title", "标题", kind="title"),
        ev(4.0, "livestream_title", "新标题", kind="title"),
    ], state_kinds=["title"])  # fmt: skip
    assert [(e.t, e.field, e.text) for e in events] == [
        (0.5, "livestream_title", "标题"), (1.0, "chat", "加我微信私下交易更便宜"),
        (4.0, "livestream_title", "新标题"), (5.0, "chat", "加我微信私下交易更便宜"),
    ]  # fmt: skip
    assert events[0].meta["repeats"] == 1 and events[1].meta["also"][0]["source"] == "dom"
    assert events[3].source == "ws:json" and events[3].meta["also"][0]["source"] == "dom"  # DOM first, socket origin
    assert [e.id for e in events] == [0, 1, 2, 3]
    fields, spans = build_fields(events)
    assert fields["chat"] == "加我微信私下交易更便宜\n加我微信私下交易更便宜"
    assert [(s.start, s.end) for s in spans["chat"]] == [(0, 11), (12, 23)]


def test_hits_carry_their_event_time_and_nearest_screenshot() -> None:
    import rules

    session = Session("http://room", "sandbox", 0.0, "2026-01-01T00:00:00.000Z", 10)
    session.shots = [Shot(0, 0.5, "a", b"png0", "sha0"), Shot(1, 5.5, "b", b"png1", "sha1")]
    session.events = [ev(1.0, "chat", "主播好"), ev(6.0, "chat", "想要的加我微信下单，更便宜")]
    _events, fields, hits = analyse(session, rules.load_engine())
    assert hits, fields
    x = hits[0]["extracted"]
    assert x["event_offset"] == 6.0 and x["event_time"] == "2026-01-01T00:00:06.000Z"
    assert x["screenshot"]["sha256"] == "sha1" and x["event_source"] == "ws:json"
    assert [e["text"] for e in x["events_around"]] == ["主播好", "想要的加我微信下单，更便宜"]
    assert fields["chat"][hits[0]["start"]:hits[0]["end"]] == hits[0]["match"]


# ---------------------------------------------------------------------------------------------- speech


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def speech(t: float, text: str, piece: tuple[float, float], start: float, end: float) -> Event:
    return ev(t, "transcript", text, source="speech", kind="speech", media_start=start, media_end=end,
              audio_segment=list(piece))


def test_speech_the_audio_cut_split_is_read_as_one_utterance() -> None:
    import rules

    events = [
        speech(1.0, "家人们看过来", (0.0, 10.0), 1.0, 3.2),
        speech(6.0, "这个面霜抹三天湿疹就能根", (0.0, 10.0), 6.0, 9.9),  # runs into the cut at 10 s
        speech(10.0, "治，比药膏还好使", (10.0, 20.0), 10.05, 12.0),  # … and goes on after it
        speech(19.7, "今天下单的家人们。", (10.0, 20.0), 17.0, 19.95),  # a sentence end at the cut:
        speech(20.1, "明天发货", (20.0, 30.0), 20.1, 21.0),  # the next piece starts a new line
    ]
    fields, spans = build_fields(events)
    assert fields["transcript"].splitlines() == ["家人们看过来", "这个面霜抹三天湿疹就能根治，比药膏还好使",
                                                 "今天下单的家人们。", "明天发货"], fields
    assert [(s.start, s.end) for s in spans["transcript"]][1:3] == [(7, 19), (19, 27)]
    hits = rules.load_engine().check(fields)
    claim = [h for h in hits if "根治" in h.match]
    assert claim, hits
    # the hit maps back to the event where the claim starts, so the evidence shows its time
    from crawlers.live.analyze import event_at
    assert event_at(spans["transcript"], claim[0].start).t == 6.0


def test_ffmpeg_segments_and_sidecar_transcript(tmp_path: Path) -> None:
    from crawlers.live import speech

    media = WWW / "live" / "media" / "3003.webm"
    pieces = speech.cut_audio(str(media), tmp_path / "audio", seconds=6, segment_seconds=2)
    assert len(pieces) == 3 and pieces[0].start == 0.0 and pieces[-1].end == pytest.approx(6.0, abs=0.1)
    backend = speech.make_backend("sidecar")
    texts = [[s.text for s in backend.transcribe(p, str(media))] for p in pieces]
    assert texts == [["这个灵芝孢子粉能根治糖尿病，吃了就不用吃药了"], ["今天全网最低价，错过再等一年"], []]
    assert json.loads((WWW / "live/media/3003.transcript.json").read_text(encoding="utf-8")) == room_sim.transcript("3003")
    with pytest.raises(speech.SpeechError):
        speech.make_backend("faster-whisper", "/nonexistent-model")


# ---------------------------------------------------------------------------------------------- fangxin live


def run_live(sandbox_url: str, room: str, db: str) -> list[dict]:
    done = run_fangxin("live", f"{sandbox_url}/live/room/{room}?speed=4", "--seconds", "4", "--db", db,
                       "--shot-every", "1", "--speech", "sidecar", "--segment-seconds", "2", "--jsonl",
                       timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@needs_browser_and_ocr
def test_fangxin_live_flags_every_source_with_its_event_time(sandbox_url: str, tmp_path: Path) -> None:
    db = str(tmp_path / "live.db")
    hits = run_live(sandbox_url, "3003", db)
    by = {}
    for h in hits:
        assert h["event_time"].endswith("Z") and h["event_offset"] >= 0, h
        assert h["screenshot"], h
        by.setdefault((h["field"], h["event_kind"]), []).append(h)
    matches = {key: {h["match"] for h in found} for key, found in by.items()}
    assert any("私下交易" in m for m in matches[("chat", "chat")])  # binary protobuf-over-gzip frames
    assert {h["event_source"] for h in by[("chat", "chat")]} == {"ws:webcast"}
    assert "降血糖" in matches[("product_cards", "product_card")]
    assert any("仅剩50单" in m for m in matches[("pinned", "pinned")])
    assert any("倒计时" in m for m in matches[("product_cards", "countdown")])
    assert any("全网最低价" in m for m in matches[("livestream_title", "title")])
    ocr = by[("ocr", "stage")]
    assert any("原价999元" in h["match"] for h in ocr)  # burned into the <video>
    assert any("仅限今天" in h["match"] for h in ocr)  # drawn on the <canvas>
    assert all(h["image_url"].startswith("urn:screenshot:") for h in ocr)
    speech = {h["match"] for h in by[("transcript", "speech")]}
    assert "糖尿病" in speech and any("全网最低" in m for m in speech)
    # each chat hit happened at its own time: the lure repeats once per 1.5 s loop at speed 4
    offsets = sorted({h["event_offset"] for h in by[("chat", "chat")]})
    assert len(offsets) >= 2 and offsets[1] - offsets[0] == pytest.approx(1.5, abs=0.4)

    from pipelines.store import Store
    from pipelines.warc import iter_records, read_bytes

    with Store(db) as store:
        stored = list(store.iter_hits())
        assert len(stored) == len(hits)
        hit = store.get_hit(next(h["id"] for h in stored if h["field"] == "transcript"))
        extracted = hit["extracted"]
        assert extracted["event_source"] == "speech" and extracted["events_around"]
        assert extracted["event_time"] and extracted["screenshot"]["uri"].startswith("urn:screenshot:")
        cap = store.get_capture(hit["capture_id"])
        group = read_bytes(store.warc_path(cap["warc_file"]), cap["warc_offset"], cap["warc_length"])
    records = list(iter_records(group))
    assert all(r.digest_ok is not False for r in records)
    log = next(r for r in records if r.uri.startswith("urn:live-events:"))
    lines = [json.loads(line) for line in log.content.decode("utf-8").splitlines()]
    kinds = {line["record"] for line in lines}
    assert kinds == {"session", "frame", "event", "screenshot"}
    assert any(line["record"] == "frame" and line["opcode"] == "binary" for line in lines)
    shots = [r for r in records if r.uri.startswith("urn:screenshot:")]
    assert len(shots) >= 3 and shots[0].content.startswith(b"\x89PNG")
    assert records[-1].type == "metadata"

    # The bundle's report lists the events around the hit, the hit's own event marked.
    import zipfile

    out = tmp_path / "live.zip"
    done = run_fangxin("evidence", "export", str(hit["id"]), "--out", str(out), "--no-pdf", "--db", db)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        report = zf.read("report.html").decode("utf-8")
    assert "前后事件（直播）" in report and 'class="hit-event"' in report and "口播（语音转写）" in report
    assert run_fangxin("evidence", "verify", str(out)).returncode == 0


@needs_browser_and_ocr
def test_fangxin_live_clean_room_has_no_hit(sandbox_url: str, tmp_path: Path) -> None:
    assert run_live(sandbox_url, "3004", str(tmp_path / "clean.db")) == []


def test_live_plan_loads_and_runs(sandbox_url: str, tmp_path: Path, monkeypatch) -> None:
    from crawlers.live import plan as live_plan

    path = Path(live_plan.__file__).parent / "plans" / "sandbox-rooms.yaml"
    monkeypatch.delenv("SANDBOX", raising=False)
    with pytest.raises(live_plan.LivePlanError):
        live_plan.load_live_plan(path)  # ${SANDBOX} undefined
    loaded = live_plan.load_live_plan(path, {"SANDBOX": sandbox_url})
    assert loaded["seeds"] == [f"{sandbox_url}/live/room/3003", f"{sandbox_url}/live/room/3004"]
    opts = live_plan.plan_options(loaded)
    assert (opts.seconds, opts.shot_every, opts.speech) == (300.0, 5.0, "sidecar")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: live\nseeds: [ftp://x]\n", encoding="utf-8")
    with pytest.raises(live_plan.LivePlanError):
        live_plan.load_live_plan(bad)


def test_events_around_rows_for_the_report() -> None:
    from pipelines.bundle import events_around_rows

    extracted = {"event_id": 1, "events_around": [
        {"id": 0, "at": "2026-01-01T12:00:00.500Z", "t": 0.5, "field": "chat", "text": "主播好"},
        {"id": 1, "at": "2026-01-01T12:00:06.000Z", "t": 6.0, "field": "transcript", "text": "根治糖尿病"},
    ]}  # fmt: skip
    rows = events_around_rows(extracted)
    assert rows[0]["time"] == "2026-01-01 20:00:00.500" and rows[0]["field"] == "弹幕/评论" and not rows[0]["is_hit"]
    assert rows[1]["is_hit"] and rows[1]["offset"] == "+6.00 s" and rows[1]["field"] == "口播（语音转写）"


def test_fangxin_live_refuses_a_speech_engine_without_model(tmp_path: Path) -> None:
    done = run_fangxin("live", "http://127.0.0.1:9/live/room/1", "--seconds", "1", "--db", str(tmp_path / "x.db"),
                       "--speech", "faster-whisper", "--speech-model", str(tmp_path / "missing"), "--no-ocr")  # fmt: skip
    assert done.returncode == 1
    assert "--speech-model" in done.stderr and "未配置语音识别模型" in done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's Chromium")
def test_frames_take_chromiums_receive_time(sandbox_url: str) -> None:
    from crawlers.live import Options, monitor_rooms

    (session,) = monitor_rooms([f"{sandbox_url}/live/room/3003?speed=8"], Options(seconds=2, shot_every=0, ocr=False))
    received = [f for f in session.frames if f.direction == "in"]
    assert received and all(f.time_source == "browser" for f in received), session.errors
    assert any(f.binary for f in received) and not session.errors
    chat = [e for e in session.events if e.source == "ws:webcast"]
    assert chat and all(any(e.t == f.t for f in received) for e in chat)
