"""Speech in a live room: ffmpeg cuts the audio track into fixed segments; a backend transcribes them.

    ffmpeg -t SECONDS -i MEDIA_URL -vn -ac 1 -ar 16000 -f segment -segment_time S seg_%05d.wav

Each segment is handed to the configured backend with its start and end in
media seconds; the backend returns `Segment(start, end, text)` in media
seconds too, and the monitor turns them into `transcript` events.

Backends (`--speech`):

``none``
    Speech is not transcribed (the default when no model is configured).
``sidecar``
    Test backend: reads the transcript a test site ships beside its media
    (`<media URL without extension>.transcript.json`:
    ``{"segments": [{"start", "end", "text"}]}``) and returns the lines whose
    start falls inside each audio segment. It runs the same path as a real
    engine, from the ffmpeg cut to the hits.
``faster-whisper``
    A real engine: faster-whisper (CTranslate2 Whisper) with a model folder the
    operator provides (`--speech-model PATH` or `$FANGXIN_SPEECH_MODEL`); it is
    loaded with `local_files_only`, never fetched. Install with
    `pip install faster-whisper` and use a multilingual model of size small or
    larger for Mandarin (base is too weak for Chinese). Not installed by default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import wave
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SAMPLE_RATE = 16_000
MIN_SEGMENT = 0.05  # seconds


class SpeechError(RuntimeError):
    pass


@dataclass
class Segment:
    start: float  # media seconds
    end: float
    text: str


@dataclass
class AudioPiece:
    path: Path
    start: float
    end: float


def ffmpeg_command(media_url: str, out_dir: Path, seconds: float, segment_seconds: float,
                   headers: dict[str, str] | None = None) -> list[str]:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SpeechError("ffmpeg not found: install Debian's ffmpeg (未找到 ffmpeg)")
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if media_url.startswith(("http://", "https://")):
        cmd += ["-rw_timeout", "15000000"]
        if headers:
            cmd += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]
    cmd += ["-t", f"{seconds:.3f}", "-i", media_url, "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
            "-c:a", "pcm_s16le", "-f", "segment", "-segment_time", f"{segment_seconds:g}",
            "-reset_timestamps", "1", str(out_dir / "seg_%05d.wav")]  # fmt: skip
    return cmd


def pieces(out_dir: Path, segment_seconds: float) -> list[AudioPiece]:
    """The cut segments with their media start and end (from each WAV's length)."""
    out = []
    start = 0.0
    for path in sorted(out_dir.glob("seg_*.wav")):
        try:
            with wave.open(str(path)) as w:
                duration = w.getnframes() / float(w.getframerate() or SAMPLE_RATE)
        except (wave.Error, EOFError, OSError):
            duration = segment_seconds
        if duration >= MIN_SEGMENT:  # a few milliseconds left over at the end carry no speech
            out.append(AudioPiece(path, round(start, 3), round(start + duration, 3)))
        start += duration
    return out


def cut_audio(media_url: str, out_dir: Path, seconds: float, segment_seconds: float = 10.0,
              timeout: float | None = None) -> list[AudioPiece]:
    """Blocking variant of the cut (the monitor runs the same command asynchronously)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = ffmpeg_command(media_url, out_dir, seconds, segment_seconds)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or seconds + 30)  # noqa: S603
    if proc.returncode != 0 and not list(out_dir.glob("seg_*.wav")):
        raise SpeechError(f"ffmpeg failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return pieces(out_dir, segment_seconds)


class NullBackend:
    name = "none"

    def transcribe(self, piece: AudioPiece, media_url: str) -> list[Segment]:
        return []


def sidecar_url(media_url: str) -> str:
    parts = urlsplit(media_url)
    stem = parts.path.rsplit(".", 1)[0] if "." in parts.path.rsplit("/", 1)[-1] else parts.path
    return urlunsplit((parts.scheme, parts.netloc, stem + ".transcript.json", "", ""))


class SidecarBackend:
    """Reads `<media>.transcript.json` beside the media (test sites only)."""

    name = "sidecar"

    def __init__(self) -> None:
        self._cache: dict[str, list[Segment]] = {}

    def _load(self, media_url: str) -> list[Segment]:
        if media_url not in self._cache:
            url = sidecar_url(media_url)
            try:
                if url.startswith(("http://", "https://")):
                    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - the room's own origin
                        data = json.loads(r.read().decode("utf-8"))
                else:
                    data = json.loads(Path(url).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SpeechError(f"no transcript beside {media_url}: {exc}") from exc
            self._cache[media_url] = [Segment(float(s["start"]), float(s["end"]), str(s["text"]))
                                      for s in data.get("segments", [])]  # fmt: skip
        return self._cache[media_url]

    def transcribe(self, piece: AudioPiece, media_url: str) -> list[Segment]:
        return [s for s in self._load(media_url) if piece.start <= s.start < piece.end]


class FasterWhisperBackend:
    """faster-whisper over a local CTranslate2 Whisper model folder (never downloads)."""

    name = "faster-whisper"

    def __init__(self, model_path: str, language: str = "zh", threads: int = 2):
        if not model_path or not Path(model_path).is_dir():
            raise SpeechError("faster-whisper needs --speech-model PATH, a local model folder (未配置语音识别模型)")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechError("faster-whisper is not installed: pip install faster-whisper") from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.language = language
        self.model = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=threads,
                                  local_files_only=True)  # fmt: skip

    def transcribe(self, piece: AudioPiece, media_url: str) -> list[Segment]:
        segments, _info = self.model.transcribe(str(piece.path), language=self.language, vad_filter=True)
        return [Segment(piece.start + s.start, piece.start + s.end, s.text.strip()) for s in segments if s.text.strip()]


def make_backend(name: str, model_path: str | None = None):
    name = (name or "none").lower()
    if name == "none":
        return NullBackend()
    if name == "sidecar":
        return SidecarBackend()
    if name in ("faster-whisper", "faster_whisper", "whisper"):
        return FasterWhisperBackend(model_path or os.environ.get("FANGXIN_SPEECH_MODEL", ""))
    raise SpeechError(f"unknown speech backend {name!r} (none, sidecar, faster-whisper)")
