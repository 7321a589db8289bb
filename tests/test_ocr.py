"""OCR (rapidocr): reading Chinese ad text in images, the image-hash cache, and picking page images."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import ocr

IMG = Path(__file__).resolve().parent / "sites" / "www" / "imgshop" / "img"
pytestmark = pytest.mark.skipif(not ocr.OcrEngine.available(), reason="needs rapidocr and onnxruntime")


def test_reads_the_detail_image_and_caches_by_hash(tmp_path: Path) -> None:
    data = (IMG / "8801-detail.png").read_bytes()
    engine = ocr.OcrEngine(cache_dir=tmp_path)
    first = engine.read(data)
    assert first.text.splitlines() == ["灵芝孢子粉礼盒装", "三天根治糖尿病", "降血压降血脂不用吃药"]
    assert (first.width, first.height) == (750, 420) and not first.cached and first.seconds > 0
    again = engine.read(data)
    assert again.cached and again.text == first.text and again.seconds == 0
    fresh = ocr.OcrEngine(cache_dir=tmp_path)  # a new process finds the result on disk
    assert fresh.read(data).cached
    assert fresh.stats["recognised"] == 0 and engine.stats == {**engine.stats, "images": 2, "recognised": 1,
                                                              "cache_hits": 1}  # fmt: skip


def test_page_images_and_size_threshold() -> None:
    html = (
        '<img src="/a.png"><img data-src="b.jpg"><img src="data:image/png;base64,xx"><img src="/icon.svg">'
        '<img src="/a.png"><img src="javascript:x">'
    )
    assert ocr.image_urls(html, "http://shop.test/item/1.html") == ["http://shop.test/a.png",
                                                                    "http://shop.test/item/b.jpg"]  # fmt: skip
    assert ocr.image_urls("", "http://x/") == []
    assert ocr.big_enough(750, 420) and not ocr.big_enough(96, 40) and not ocr.big_enough(2000, 60)
    assert ocr.image_size((IMG / "logo.png").read_bytes()) == (96, 40)
    assert ocr.image_size(b"not an image") == (0, 0)


def test_ocr_hits_point_at_their_image() -> None:
    import rules

    engine = ocr.OcrEngine()
    images = [ocr.ImageText(f"http://shop.test/{name}", engine.read((IMG / name).read_bytes()))
              for name in ("8801-spec.png", "8801-detail.png")]  # fmt: skip
    text, placed = ocr.ocr_field(images)
    hits = ocr.ocr_hits(rules.load_engine(), {"title": "灵芝孢子粉礼盒", "ocr": text}, placed)
    assert hits and {h["extracted"]["image_url"] for h in hits} == {"http://shop.test/8801-detail.png"}
    for h in hits:
        assert text[h["start"]:h["end"]] == h["match"]
        assert h["extracted"]["image_width"] == 750


def test_tall_detail_image_is_read_in_slices_without_duplicates() -> None:
    import io

    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (750, 3200), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 40, index=2)
    rows = {100: "灵芝孢子粉礼盒", 1040: "三天根治糖尿病", 2100: "降血压不用吃药", 3100: "顺丰包邮"}
    for y, text in rows.items():  # 1040 straddles the first slices' overlap
        draw.text((60, y), text, font=font, fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    assert len(ocr.slices(buf.getvalue(), 750, 3200)) > 2
    result = ocr.OcrEngine().read(buf.getvalue())
    assert result.text.splitlines() == list(rows.values())
    assert [round(line.box[0][1], -2) for line in result.lines] == [100, 1000, 2100, 3100]


def _lines_image(lines: list[str], align: str = "left") -> bytes:
    """A 750 px detail image with the given lines, 40 px type, 60 px margins."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (750, 120 + 60 * len(lines)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 40, index=2)
    for i, line in enumerate(lines):
        width = draw.textlength(line, font=font)
        x = 60 if align == "left" else (750 - width) / 2
        draw.text((x, 60 + 60 * i), line, font=font, fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_a_claim_split_by_the_images_line_wrap_is_read_whole_and_flagged() -> None:
    import rules

    engine = ocr.OcrEngine()
    # a paragraph wrapped at the image's margin, 根治 split across two lines
    wrapped = engine.read(_lines_image(["本品选用长白山野生灵芝孢子，破", "壁率高，坚持服用三个月，彻底根", "治糖尿病，不用再打胰岛素"]))
    assert len(wrapped.lines) == 3
    assert wrapped.text == "本品选用长白山野生灵芝孢子，破壁率高，坚持服用三个月，彻底根治糖尿病，不用再打胰岛素"
    hits = rules.load_engine().check({"ocr": wrapped.text})
    assert any("根治" in h.match and wrapped.text[h.start:h.end] == h.match for h in hits)
    # the same lines read as separate lines lose the claim: what the join is for
    apart = "\n".join(line.text for line in wrapped.lines)
    assert not any("根治" in h.match for h in rules.load_engine().check({"ocr": apart}))
    # centred slogans wrap too
    centred = engine.read(_lines_image(["全网最低价买贵双倍退差价今天下", "单再送三重好礼"], align="center"))
    assert centred.text == "全网最低价买贵双倍退差价今天下单再送三重好礼"
    # a full line that ends its sentence, and stacked slogans of different lengths, stay lines
    ended = engine.read(_lines_image(["本店所有商品均为正品行货，假一赔十。", "全场满三百元包邮，偏远地区除外哦哦"]))
    assert ended.text.splitlines() == ["本店所有商品均为正品行货，假一赔十。", "全场满三百元包邮，偏远地区除外哦哦"]
    stacked = engine.read(_lines_image(["灵芝孢子粉礼盒装", "三天见效", "降血压降血脂不用吃药"]))
    assert stacked.text.splitlines() == ["灵芝孢子粉礼盒装", "三天见效", "降血压降血脂不用吃药"]


def test_a_cached_reading_is_joined_as_a_fresh_one(tmp_path: Path) -> None:
    import json

    data = _lines_image(["本品选用长白山野生灵芝孢子，破", "壁率高，坚持服用三个月，彻底根", "治糖尿病，不用再打胰岛素"])
    first = ocr.OcrEngine(cache_dir=tmp_path).read(data)
    entry = next(tmp_path.rglob("*.json"))
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["text"] = "\n".join(line["text"] for line in stored["lines"])  # as stored before lines were joined
    entry.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    again = ocr.OcrEngine(cache_dir=tmp_path).read(data)
    assert again.cached and again.text == first.text and "\n" not in again.text
