"""`fangxin live`: monitor one livestream room."""

from __future__ import annotations

import json
import sys

import click

from fangxin.commands.common import db_option, fail


@click.command()
@click.argument("url")
@click.option("--seconds", type=click.IntRange(min=1), required=True, help="How long to watch the room.")
@db_option
@click.option("--profile", default=None, metavar="NAME|FILE",
              help="Room profile (crawlers/live/profiles/NAME.yaml or a YAML file); default: chosen by URL.")
@click.option("--shot-every", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds between stage screenshots (0: none).")
@click.option("--ocr/--no-ocr", default=True, show_default=True,
              help="Read the stage screenshots with OCR (rapidocr).")
@click.option("--speech", type=click.Choice(["none", "sidecar", "faster-whisper"]), default="none",
              show_default=True,
              help="Speech-to-text backend for the room's audio (sidecar: the test sites' transcript files).")
@click.option("--speech-model", default="", envvar="FANGXIN_SPEECH_MODEL", metavar="PATH",
              help="Local model folder for --speech faster-whisper ($FANGXIN_SPEECH_MODEL).")
@click.option("--segment-seconds", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Length of the audio segments ffmpeg cuts for speech-to-text.")
@click.option("--evidence-dir", default=None, type=click.Path(file_okay=False),
              help="WARC folder (default: warc/ beside the database).")
@click.option("--plan", default="live", show_default=True, help="Plan name recorded with the run.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print each hit as one JSON line instead of a summary.")
def live(url: str, seconds: int, db: str, profile: str | None, shot_every: float, ocr: bool, speech: str,
         speech_model: str, segment_seconds: float, evidence_dir: str | None, plan: str, as_jsonl: bool) -> None:
    """Monitor one livestream room URL for N seconds and store what it said, with hits.

    \b
    Records every WebSocket frame, the DOM text of title, pinned message, product
    cards, countdown and chat, a stage screenshot every --shot-every seconds (read
    by OCR) and, with --speech, the transcript of the room's audio. The rule engine
    runs over these time-stamped events; every hit keeps its event time and the
    nearest screenshot. The event log and the screenshots go into the WARC evidence.
    """
    from crawlers.browser import BrowserNotFound
    from crawlers.live import Options, monitor
    from crawlers.live.profiles import ProfileError
    from crawlers.live.speech import SpeechError
    from pipelines.ocr import OcrUnavailable

    options = Options(seconds=seconds, shot_every=shot_every, ocr=ocr, speech=speech, speech_model=speech_model,
                      segment_seconds=segment_seconds)  # fmt: skip
    try:
        result = monitor(url, seconds, db, options=options, profile=profile, plan=plan, evidence_dir=evidence_dir)
    except (BrowserNotFound, ProfileError, SpeechError, OcrUnavailable) as exc:
        fail(str(exc))
        return
    room = result["rooms"][0]
    if as_jsonl:
        for hit in room["hits"]:
            x = hit.get("extracted") or {}
            line = {k: hit.get(k) for k in ("rule", "category", "severity", "law", "field", "start", "end", "match")}
            line.update({"url": url, "capture": room["capture_id"], "event_time": x.get("event_time"),
                         "event_offset": x.get("event_offset"), "event_source": x.get("event_source"),
                         "event_kind": x.get("event_kind"), "screenshot": (x.get("screenshot") or {}).get("sha256"),
                         "image_url": x.get("image_url")})  # fmt: skip
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    else:
        stats = room["stats"]
        click.echo(f"直播间 {url}")
        click.echo(f"  监测 {seconds} 秒：WebSocket 帧 {room['frames']} 条，事件 {room['events']} 条，"
                   f"截图 {room['screenshots']} 张，OCR {stats.get('ocr_images', 0)} 张，"
                   f"音频分段 {stats.get('audio_segments', 0)} 段")  # fmt: skip
        click.echo(f"  命中 {len(room['hits'])} 条（运行 {result['run_id']}，采集记录 {room['capture_id']}）")
        for hit in room["hits"]:
            x = hit.get("extracted") or {}
            click.echo(f"  +{x.get('event_offset', 0):7.2f}s {x.get('event_time', '')}  {hit.get('field')}  "
                       f"{hit.get('rule')}  「{hit.get('match')}」")  # fmt: skip
    for err in room["errors"]:
        click.echo(f"warning: {err}", err=True)
