"""Livestream room monitoring: frames, DOM text, stage screenshots, OCR and speech, to time-stamped hits.

    from crawlers.live import monitor, Options
    result = monitor("https://…/room", seconds=300, db="data/fangxin.db", options=Options(shot_every=5))

Modules: `protobuf` (wire format), `decoders` (frames -> events), `profiles` (per-platform YAML),
`monitor` (the Playwright window), `speech` (ffmpeg segments, speech backends), `analyze`
(events -> fields -> hits with event time and screenshot), `record` (WARC and store).
"""

from crawlers.live.monitor import Options, Session
from crawlers.live.record import monitor, monitor_rooms

__all__ = ["Options", "Session", "monitor", "monitor_rooms"]
