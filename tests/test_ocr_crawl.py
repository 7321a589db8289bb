"""An ordinary crawl with the OCR pipeline flags a claim that exists only inside a product image."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ocr import OcrEngine
from tests.conftest import run_fangxin


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
    hits = crawl("ocr", "-s", "FANGXIN_OCR=true")  # the OCR pipeline is in the default pipelines, off by default
    assert hits, "the image's claim was not flagged"
    assert {h["field"] for h in hits} == {"ocr"}
    assert {h["extracted"]["image_url"] for h in hits} == {f"{sandbox_url}/imgshop/img/8801-detail.png"}
    assert {"糖尿病", "降血压"} <= {h["match"] for h in hits}
    assert all(h["category"] in ("medical_health", "health_food", "drug_device") for h in hits)
    assert len(list((tmp_path / "ocr" / "ocr-cache").rglob("*.json"))) == 2  # detail and spec; the logo is too small


@pytest.mark.skipif(not OcrEngine.available(), reason="needs rapidocr and onnxruntime")
def test_a_plan_turns_ocr_on(sandbox_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "imgshop.yaml"
    plan.write_text(
        "name: imgshop\nsector: health\nseeds: [${SANDBOX}/imgshop/item/8801.html]\nocr: true\n"
        "sampling: {max_pages: 1, max_depth: 0}\n"
        "browser: {screenshots: none}\n"
        "politeness: {delay: 0, allow_private_addresses: true, authority: 测试局, contact: test@example.org}\n",
        encoding="utf-8",
    )
    db = str(tmp_path / "fangxin.db")
    done = run_fangxin("crawl", str(plan), "--db", db, env={"SANDBOX": sandbox_url}, timeout=180)
    assert done.returncode == 0, done.stderr
    from pipelines.store import Store

    with Store(db) as store:
        assert {h["field"] for h in store.iter_hits()} == {"ocr"}
