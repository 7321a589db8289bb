"""Text in images: OCR with rapidocr, cached by image hash, and the crawl pipeline that uses it.

Product detail pages put their boldest claims in images, and a live room's price and
slogans are burned into the video or drawn on a canvas. `OcrEngine.read(image_bytes)`
returns the text of one image; results are cached by the image's SHA-256 (in memory,
and on disk when a cache folder is given), so an image seen on many pages or a stage
that did not change costs one recognition.

The engine is rapidocr (PP-OCR det + cls + rec models as ONNX, shipped inside the
`rapidocr` wheel; `onnxruntime` runs them). Nothing is downloaded at run time.

`OcrPipeline` is a Scrapy item pipeline for ordinary crawls. It runs after the rule
engine (`pipelines.flag`, 200) and before the screenshot and evidence pipelines:

    ITEM_PIPELINES["pipelines.ocr.OcrPipeline"] = 210
    FANGXIN_OCR = True                # off unless set
    FANGXIN_OCR_MIN_PIXELS = 40000    # images smaller than this (width x height) are skipped
    FANGXIN_OCR_MIN_SIDE = 120        # ... and images whose shorter side is below this
    FANGXIN_OCR_MAX_IMAGES = 12       # per page, in document order
    FANGXIN_OCR_CACHE = ""            # folder for the on-disk cache; empty: `ocr-cache/` beside the database

For each HTML capture it downloads the page's images (through Scrapy's engine, so the
crawl's politeness settings apply), skips icons and small images, reads the rest, and
sets `fields["ocr"]` to their text, one image per paragraph. It then runs the rule
engine over the whole document and adds the hits whose field is `ocr`, each with the
image URL, hash and size in `hit["extracted"]` (`image_url`, `image_sha256`, `image_width`,
`image_height`), so a reviewer sees which image holds the claim.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

logger = logging.getLogger(__name__)

DEFAULT_MIN_PIXELS = 40_000
DEFAULT_MIN_SIDE = 120
DEFAULT_MAX_IMAGES = 12
MAX_SIDE = 2000  # pixels: longer images are read in slices
TALL_RATIO = 2.5  # height / width beyond which an image is read in slices
OVERLAP = 120  # pixels shared by consecutive slices
IMAGE_ATTRS = ("src", "data-src", "data-original", "data-lazy-src")
SKIP_IMAGE_SUFFIXES = (".svg", ".ico", ".gif")


class OcrUnavailable(RuntimeError):
    """rapidocr or onnxruntime is not installed."""


@dataclass
class OcrLine:
    text: str
    score: float
    box: list[list[float]]  # four corner points, pixels


@dataclass
class OcrText:
    sha256: str
    text: str  # the lines in reading order, a wrapped line joined to the next (join_lines), others by "\n"
    lines: list[OcrLine] = field(default_factory=list)
    width: int = 0
    height: int = 0
    seconds: float = 0.0  # time spent recognising (0 when served from the cache)
    cached: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OcrText:
        lines = [OcrLine(**line) for line in data.get("lines") or []]
        return cls(**{**data, "lines": lines})


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an encoded image, (0, 0) when it cannot be decoded."""
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return int(img.width), int(img.height)
    except Exception:  # any undecodable image is simply not read
        return 0, 0


def _reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, then left to right for boxes on the same text row."""

    def key(line: OcrLine) -> tuple[float, float]:
        ys = [p[1] for p in line.box]
        xs = [p[0] for p in line.box]
        height = max(max(ys) - min(ys), 1.0)
        return (round(min(ys) / (height * 0.6)), min(xs))

    return sorted(lines, key=key)


# a line ending in one of these ends its sentence: the next line starts a new one, wrapped or not
# (live-room speech split by the audio cut is joined on the same rule: crawlers/live/analyze.py)
SENTENCE_END = "。！？!?；;…"


def _extent(line: OcrLine) -> tuple[float, float, float, float]:
    xs = [p[0] for p in line.box]
    ys = [p[1] for p in line.box]
    return min(xs), max(xs), min(ys), max(ys)


def join_lines(lines: list[OcrLine]) -> str:
    """The lines' text in reading order: a line the text wrapped is joined to the next without a
    break, every other line ends with "\n".

    Images set a paragraph or a slogan across lines and wrap it wherever the width runs out, in
    the middle of a word as often as not (根 | 治糖尿病, 全网最 | 低价); read as separate lines, the
    claim is lost to the rule engine, for which a line break ends a clause. A line counts as
    wrapped when it spans its block's whole width (its left and right edges within half a line
    height of the outermost edges of the lines of its size: left-aligned and centred text alike)
    and the next line is of the same size, right below it, and continues the sentence (the line
    does not end in 。！？；). Stacked slogans of different lengths are not full-width, except the
    widest, and the widest one joined to the next still reads as one clause of two slogans."""
    if not lines:
        return ""
    ext = [_extent(line) for line in lines]
    parts: list[str] = [lines[0].text]
    for i in range(1, len(lines)):
        prev, cur = lines[i - 1], lines[i]
        left, right, top, bottom = ext[i - 1]
        height = max(bottom - top, 1.0)
        _c_left, _c_right, c_top, c_bottom = ext[i]
        c_height = max(c_bottom - c_top, 1.0)
        same_size = 0.75 <= c_height / height <= 1.33
        right_below = -0.2 * height <= c_top - bottom <= 0.9 * height
        joined = False
        if same_size and right_below and prev.text and cur.text and prev.text[-1] not in SENTENCE_END:
            peers = [e for e in ext if 0.75 <= (e[3] - e[2]) / height <= 1.33]
            block_left = min(e[0] for e in peers)
            block_right = max(e[1] for e in peers)
            full = left <= block_left + height / 2 and right >= block_right - height / 2
            joined = full and len(prev.text) >= 4
        parts.append(cur.text if joined else "\n" + cur.text)
    return "".join(parts)


class OcrEngine:
    """rapidocr behind a cache keyed by image SHA-256; thread-safe (one recognition at a time)."""

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        min_score: float = 0.5,
        threads: int = 0,
        memory_items: int = 4096,
    ):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.min_score = min_score
        self.threads = threads
        self.memory_items = memory_items
        self._memory: OrderedDict[str, OcrText] = OrderedDict()
        self._engine: Any = None
        self._lock = threading.Lock()
        self.stats = {"images": 0, "recognised": 0, "cache_hits": 0, "seconds": 0.0}

    # -- engine ----------------------------------------------------------------------
    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise OcrUnavailable(
                    "OCR needs `pip install rapidocr onnxruntime` (未安装文字识别组件 rapidocr/onnxruntime)"
                ) from exc
            # Detection at the image's own resolution (rapidocr's default scales the shorter side up to 736 px,
            # which costs 2-3x on stage screenshots and banners for the same text); tall images are cut in
            # slices below, so no side exceeds MAX_SIDE.
            params: dict[str, Any] = {"Global.log_level": "warning", "Det.limit_type": "max",
                                      "Det.limit_side_len": MAX_SIDE, "Global.max_side_len": MAX_SIDE}  # fmt: skip
            if self.threads:
                params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.threads
            self._engine = RapidOCR(params=params)
        return self._engine

    @staticmethod
    def available() -> bool:
        try:
            import onnxruntime  # noqa: F401
            import rapidocr  # noqa: F401
        except ImportError:
            return False
        return True

    # -- cache -----------------------------------------------------------------------
    def _cache_path(self, digest: str) -> Path | None:
        return self.cache_dir / digest[:2] / f"{digest}.json" if self.cache_dir else None

    def cached(self, digest: str) -> OcrText | None:
        hit = self._memory.get(digest)
        if hit is not None:
            self._memory.move_to_end(digest)
            return hit
        path = self._cache_path(digest)
        if path is not None and path.is_file():
            try:
                hit = OcrText.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                return None
            self._remember(hit)
            return hit
        return None

    def _remember(self, result: OcrText) -> None:
        self._memory[result.sha256] = result
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    def _store(self, result: OcrText) -> None:
        self._remember(result)
        path = self._cache_path(result.sha256)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(result.as_dict(), ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)

    # -- reading ---------------------------------------------------------------------
    def read(self, image: bytes) -> OcrText:
        """The text of one encoded image (PNG, JPEG, WebP …)."""
        digest = hashlib.sha256(image).hexdigest()
        with self._lock:
            self.stats["images"] += 1
            hit = self.cached(digest)
            if hit is not None:
                self.stats["cache_hits"] += 1
                # the text is joined anew from the lines: an entry stored before a change of
                # join_lines reads as a fresh recognition would
                text = join_lines(hit.lines) if hit.lines else hit.text
                return OcrText(**{**asdict(hit), "text": text, "lines": hit.lines, "cached": True, "seconds": 0.0})
            width, height = image_size(image)
            engine = self._load()
            started = time.perf_counter()
            lines: list[OcrLine] = []
            if width and height:
                for piece, top, low, high in slices(image, width, height):
                    out = engine(piece)
                    texts = out.txts or ()
                    scores = out.scores or ()
                    boxes = out.boxes if out.boxes is not None else []
                    for text, score, box in zip(texts, scores, boxes, strict=False):
                        if not text or float(score) < self.min_score:
                            continue
                        points = [[float(x), float(y) + top] for x, y in box]
                        middle = sum(pt[1] for pt in points) / len(points)
                        if low <= middle < high:  # a line in an overlap belongs to one slice only
                            lines.append(OcrLine(str(text), round(float(score), 4), points))
            seconds = time.perf_counter() - started
            lines = _reading_order(lines)
            result = OcrText(digest, join_lines(lines), lines, width, height, seconds)
            self.stats["recognised"] += 1
            self.stats["seconds"] += seconds
            self._store(result)
            return result


def slices(image: bytes, width: int, height: int) -> list[tuple[Any, int, float, float]]:
    """The image as pieces to read: [(bytes or PIL image, top, owned_from, owned_to)].

    Product-detail images are often 750 px wide and several thousand tall; read whole they would be
    shrunk until their text is unreadable. They are cut into slices about 1.5 widths tall that overlap
    by OVERLAP px; a line whose middle lies in an overlap is kept by the slice that owns that half.
    """
    if height <= MAX_SIDE and height <= TALL_RATIO * width:
        return [(image, 0, float("-inf"), float("inf"))]
    import io

    from PIL import Image

    step = max(int(min(MAX_SIDE, 1.5 * width)) - OVERLAP, OVERLAP)
    out = []
    with Image.open(io.BytesIO(image)) as img:
        rgb = img.convert("RGB")
        top = 0
        while True:
            bottom = min(height, top + step + OVERLAP)
            low = float("-inf") if top == 0 else top + OVERLAP / 2
            high = float("inf") if bottom >= height else bottom - OVERLAP / 2
            out.append((rgb.crop((0, top, width, bottom)), top, low, high))
            if bottom >= height:
                return out
            top += step


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def shared_engine(cache_dir: str | Path | None = None) -> OcrEngine:
    """One engine per process (the ONNX sessions are loaded once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine(cache_dir)
        elif cache_dir and _shared.cache_dir is None:
            _shared.cache_dir = Path(cache_dir)
        return _shared


# ------------------------------------------------------------------ documents with image text


def image_urls(html: str | bytes, base_url: str, limit: int = DEFAULT_MAX_IMAGES) -> list[str]:
    """Absolute URLs of a page's <img> elements in document order, without icons, SVG or data: URLs."""
    import lxml.html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    try:
        doc = lxml.html.fromstring(html)
    except (ValueError, TypeError, Exception):  # lxml raises ParserError on empty documents
        return []
    seen: list[str] = []
    for img in doc.iter("img"):
        src = next((img.get(a) for a in IMAGE_ATTRS if img.get(a)), None)
        if not src or src.startswith(("data:", "javascript:")):
            continue
        url = urljoin(base_url, src.strip())
        if not url.startswith(("http://", "https://")) or url.lower().split("?")[0].endswith(SKIP_IMAGE_SUFFIXES):
            continue
        if url not in seen:
            seen.append(url)
        if len(seen) >= limit:
            break
    return seen


@dataclass
class ImageText:
    url: str
    ocr: OcrText
    start: int = 0  # span of this image's text inside the `ocr` field
    end: int = 0


def ocr_field(images: Iterable[ImageText]) -> tuple[str, list[ImageText]]:
    """Join image texts into one `ocr` field (one image per paragraph) and record each image's span."""
    parts: list[str] = []
    placed: list[ImageText] = []
    pos = 0
    for item in images:
        if not item.ocr.text:
            continue
        if parts:
            pos += 2
        item.start, item.end = pos, pos + len(item.ocr.text)
        parts.append(item.ocr.text)
        pos = item.end
        placed.append(item)
    return "\n\n".join(parts), placed


def image_for_span(placed: list[ImageText], start: int) -> ImageText | None:
    for item in placed:
        if item.start <= start < item.end:
            return item
    return None


def ocr_hits(engine_rules: Any, fields: dict, placed: list[ImageText]) -> list[dict]:
    """Run the rule engine over the whole document and keep the `ocr` hits, each with its image."""
    out = []
    for hit in engine_rules.check(fields):
        data = hit.to_dict()
        if data.get("field") != "ocr":
            continue
        image = image_for_span(placed, int(data.get("start") or 0))
        if image is not None:
            data["extracted"] = {
                **(data.get("extracted") or {}),
                "image_url": image.url,
                "image_sha256": image.ocr.sha256,
                "image_width": image.ocr.width,
                "image_height": image.ocr.height,
            }
        out.append(data)
    return out


def big_enough(width: int, height: int, min_pixels: int = DEFAULT_MIN_PIXELS, min_side: int = DEFAULT_MIN_SIDE) -> bool:
    return width * height >= min_pixels and min(width, height) >= min_side


class OcrPipeline:
    """Scrapy pipeline: OCR of a page's large images into `fields["ocr"]` and hits that name the image."""

    def __init__(self, crawler: Any):
        settings = crawler.settings
        self.crawler = crawler
        self.enabled = settings.getbool("FANGXIN_OCR", False)
        self.min_pixels = settings.getint("FANGXIN_OCR_MIN_PIXELS", DEFAULT_MIN_PIXELS)
        self.min_side = settings.getint("FANGXIN_OCR_MIN_SIDE", DEFAULT_MIN_SIDE)
        self.max_images = settings.getint("FANGXIN_OCR_MAX_IMAGES", DEFAULT_MAX_IMAGES)
        cache = settings.get("FANGXIN_OCR_CACHE") or ""
        db = settings.get("FANGXIN_DB") or "data/fangxin.db"
        self.cache_dir = Path(cache) if cache else Path(db).resolve().parent / "ocr-cache"
        self.packs = settings.getlist("FANGXIN_RULE_PACKS")
        self.engine: OcrEngine | None = None
        self.rules: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> OcrPipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        if not self.enabled:
            return
        import rules

        self.rules = rules.load_engine(self.packs or None)
        self.engine = shared_engine(self.cache_dir)

    def _inc(self, key: str, count: int | float = 1) -> None:
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"fangxin/ocr_{key}", count)

    async def _fetch(self, url: str) -> bytes | None:
        import scrapy

        request = scrapy.Request(url, dont_filter=True, meta={"fangxin_resource": "image"})
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # a missing image must not fail the page
            logger.debug("image %s not fetched: %s", url, exc)
            self._inc("fetch_failed")
            return None
        if response.status != 200:
            self._inc("fetch_failed")
            return None
        return bytes(response.body)

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        if not self.enabled or item.get("error") or not item.get("body"):
            return item
        if (item.get("content_type") or "text/html") not in ("text/html", "application/xhtml+xml"):
            return item
        import asyncio

        html = item.get("dom") or item.get("body")
        base = item.get("final_url") or item.get("url")
        found: list[ImageText] = []
        for url in image_urls(html, base, self.max_images):
            data = await self._fetch(url)
            if not data:
                continue
            width, height = image_size(data)
            if not big_enough(width, height, self.min_pixels, self.min_side):
                self._inc("skipped_small")
                continue
            assert self.engine is not None
            text = await asyncio.get_running_loop().run_in_executor(None, self.engine.read, data)
            self._inc("cache_hits" if text.cached else "images")
            found.append(ImageText(url, text))
        if not found:
            return item
        text, placed = ocr_field(found)
        if not text:
            return item
        fields = dict(item.get("fields") or {})
        fields["ocr"] = text
        item["fields"] = fields
        hits = ocr_hits(self.rules, fields, placed)
        if hits:
            item["hits"] = list(item.get("hits") or []) + hits
            self._inc("hits", len(hits))
            if self.crawler.stats:
                self.crawler.stats.inc_value("fangxin/hits", len(hits))
        return item
