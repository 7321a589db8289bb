"""An ordinary crawl with the OCR pipeline flags a claim that exists only inside a product image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.ocr import OcrEngine
from tests.conftest import run_fangxin

PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.flag.FlagPipeline": 200,
    "pipelines.ocr.OcrPipeline": 210,
    "crawlers.pipelines.HitScreenshot": 250,
    "pipelines.evidence.EvidencePipeline": 300,
    "pipelines.save.SavePipeline": 400,
}


@pytest.mark.skipif(not OcrEngine.available(), reason="needs rapidocr and onnxruntime")
def test_image_only_claim_is_flagged_with_the_image_url(sandbox_url: str, tmp_path: Path) -> None:
    url = f"{sandbox_url}/imgshop/item/8801.html"

    def crawl(name: str, *sets: str):
        db = str(tmp_path / name / "fangxin.db")
        done = run_fangxin("crawl", "--url", url, "--db", db, "-s", "FANGXIN_SCREENSHOTS=none", *sets, timeout=180)
        assert done.returncode == 0, done.stderr
        from pipelines.store import Store

        with Store(db) as store:
            return [store.get_hit(h["id"]) for h in store.iter_hits()]

    assert crawl("plain") == []  # without OCR the page text is clean
    hits = crawl("ocr", "-s", "ITEM_PIPELINES=" + json.dumps(PIPELINES), "-s", "FANGXIN_OCR=true")
    assert hits, "the image's claim was not flagged"
    assert {h["field"] for h in hits} == {"ocr"}
    assert {h["extracted"]["image_url"] for h in hits} == {f"{sandbox_url}/imgshop/img/8801-detail.png"}
    assert {"糖尿病", "降血压"} <= {h["match"] for h in hits}
    assert all(h["category"] in ("medical_health", "health_food", "drug_device") for h in hits)
    assert len(list((tmp_path / "ocr" / "ocr-cache").rglob("*.json"))) == 2  # detail and spec; the logo is too small
