"""`fangxin bench live`: OCR speed and how many live rooms one machine monitors at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

LINES = [
    ("全网最低价 仅限今天", "到手价 ¥{p}.9 划线价 ¥{r}"),
    ("三天根治糖尿病 降血压", "买{n}送一 最后{n}分钟"),
    ("本品为保健食品 不能代替药物", "已售{n}万件 库存仅剩{p}单"),
    ("限时秒杀倒计时 {r}秒", "加微信领{n}元优惠券"),
]


def make_images(folder: Path, count: int) -> list[str]:
    """Distinct ad-like images (no two alike, so the OCR cache cannot help): product-detail and stage sizes."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    paths = []
    for i in range(count):
        size = (750, 420) if i % 2 == 0 else (480, 270)
        img = Image.new("RGB", size, (250 - i * 3 % 40, 240, 225 + i % 30))
        draw = ImageDraw.Draw(img)
        try:
            font = ImageFont.truetype(font_path, 40 if size[0] == 750 else 28, index=2)
        except OSError:
            font = ImageFont.load_default()
        top, bottom = LINES[i % len(LINES)]
        values = {"p": 10 + i, "r": 100 + 7 * i, "n": 2 + i % 7}
        draw.text((30, 40), top.format(**values), font=font, fill=(180, 20, 30))
        draw.text((30, 40 + size[1] // 3), bottom.format(**values), font=font, fill=(30, 30, 30))
        path = folder / f"ad-{i:02d}.png"
        img.save(path)
        paths.append(str(path))
    return paths


class TreeMeter:
    """CPU seconds and peak memory (PSS, falling back to RSS) of a process and all its descendants."""

    def __init__(self, pid: int, every: float = 0.5):
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.every = every
        self.cpu: dict[int, float] = {}
        self.peak_mb = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _procs(self):
        try:
            return [self.root, *self.root.children(recursive=True)]
        except self.psutil.Error:
            return []

    def _loop(self) -> None:
        while not self.stop.is_set():
            total = 0.0
            for proc in self._procs():
                try:
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = max(self.cpu.get(proc.pid, 0.0), times.user + times.system)
                    try:
                        total += proc.memory_full_info().pss
                    except (self.psutil.AccessDenied, AttributeError):
                        total += proc.memory_info().rss
                except self.psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self.stop.wait(self.every)

    def finish(self) -> dict:
        self.stop.set()
        self.thread.join(timeout=2)
        return {"cpu_seconds": round(sum(self.cpu.values()), 2), "peak_mb": round(self.peak_mb, 1)}


def run_worker(*args: str, timeout: float = 900) -> dict:
    cmd = [sys.executable, "-m", "crawlers.live.bench", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    meter = TreeMeter(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        usage = meter.finish()
    wall = time.perf_counter() - started
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise click.ClickException(f"bench worker {args[0]} failed: {err.strip().splitlines()[-1:] or proc.returncode}")
    result = json.loads(lines[-1])
    result.update(usage)
    result["process_wall"] = round(wall, 2)
    result["cores_used"] = round(usage["cpu_seconds"] / wall, 2) if wall else 0.0
    return result


@click.command("live")
@click.option("--rooms", "ladder", default="1,2,4,6", show_default=True,
              help="Numbers of rooms monitored at once, one run each.")
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Monitoring window of each run.")
@click.option("--shot-every", type=float, default=5.0, show_default=True,
              help="Stage screenshot (and OCR) period per room, seconds.")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Sandbox room timeline speed (1: real time, one event every 0.4 s per room).")
@click.option("--images", type=int, default=12, show_default=True, help="Distinct images for the OCR benchmark.")
@click.option("--ocr-every-shot", is_flag=True,
              help="Read every screenshot with OCR, even when the stage looks unchanged (worst case).")
@click.option("--no-baseline", is_flag=True, help="Skip the bare-Chromium baseline runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def live_bench(ladder: str, seconds: float, shot_every: float, speed: float, images: int, ocr_every_shot: bool,
               no_baseline: bool, as_json: bool) -> None:
    """Benchmark OCR and live-room monitoring on this machine.

    \b
    ocr    images/s and per-image latency (p50/p95) of rapidocr called directly
           (baseline), through pipelines.ocr without cache, and from the cache
    rooms  for each N in --rooms: N sandbox simulator rooms (3003/3004, binary
           chat, countdown, video, canvas) monitored at once for --seconds with
           a stage screenshot every --shot-every seconds, read by OCR when it
           changed (every one with --ocr-every-shot); dropped frames
           (gaps in the server's sequence numbers), chat seen on the socket but
           missing from the DOM, screenshots OCR could not keep up with, CPU
           (cores used by the monitor and its Chromium) and peak memory (PSS),
           beside the same N rooms open in a bare Chromium (baseline)
    A room count passes when nothing was dropped, missed or left unread.
    """
    from tests.sites.server import start_in_thread

    counts = [int(x) for x in ladder.split(",") if x.strip()]
    base, stop = start_in_thread(0)
    out: dict = {"cores": os.cpu_count(), "seconds": seconds, "shot_every": shot_every, "speed": speed,
                 "ocr_every_shot": ocr_every_shot}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="fangxin-bench-live-") as tmp:
            paths = make_images(Path(tmp), images)
            out["ocr"] = run_worker("ocr", *paths, "--repeat", "2")
        runs = []
        for n in counts:
            urls = [f"{base}/live/room/{'3003' if i % 2 == 0 else '3004'}?speed={speed:g}" for i in range(n)]
            row: dict = {"rooms": n}
            if not no_baseline:
                bare = run_worker("bare", *urls, "--seconds", f"{seconds:g}")
                row["bare"] = {k: bare[k] for k in ("cpu_seconds", "peak_mb", "cores_used", "process_wall")}
            mon = run_worker("rooms", *urls, "--seconds", f"{seconds:g}", "--shot-every", f"{shot_every:g}",
                             *(["--ocr-every-shot"] if ocr_every_shot else []))  # fmt: skip
            rooms = mon["rooms"]
            row["monitor"] = {
                "cpu_seconds": mon["cpu_seconds"], "peak_mb": mon["peak_mb"], "cores_used": mon["cores_used"],
                "process_wall": mon["process_wall"], "frames": sum(r["frames"] for r in rooms),
                "seq_gaps": sum(r["seq_gaps"] for r in rooms),
                "chat_missing_in_dom": sum(r["chat_missing_in_dom"] for r in rooms),
                "chat_on_socket": sum(r["chat_on_socket"] for r in rooms),
                "screenshots": sum(r["screenshots"] for r in rooms),
                "screenshots_not_read": sum(r["screenshots_not_read"] for r in rooms),
                "ocr_images": sum(r["ocr_images"] for r in rooms),
                "late_work_cancelled": sum(r["late_work_cancelled"] for r in rooms),
                "errors": [e for r in rooms for e in r["errors"]][:5],
            }  # fmt: skip
            m = row["monitor"]
            row["ok"] = not (m["seq_gaps"] or m["chat_missing_in_dom"] or m["screenshots_not_read"]
                             or m["late_work_cancelled"] or m["errors"] or not m["frames"])  # fmt: skip
            runs.append(row)
        out["runs"] = runs
        passing = [r["rooms"] for r in runs if r["ok"]]
        out["max_rooms_without_loss"] = max(passing) if passing else 0
    finally:
        stop()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    o = out["ocr"]
    click.echo(f"OCR ({images} distinct images, {o['ocr_engine_uncached']['images']} reads; {out['cores']} cores)")
    for name, label in (("rapidocr_direct", "rapidocr direct (baseline)"), ("ocr_engine_uncached", "pipelines.ocr uncached"),
                        ("ocr_engine_cached", "pipelines.ocr cached")):  # fmt: skip
        s = o[name]
        click.echo(f"  {label:28} {s['images_per_s']:8.2f} images/s  p50 {s['p50_ms']:7.1f} ms  "
                   f"p95 {s['p95_ms']:7.1f} ms")  # fmt: skip
    click.echo(f"Rooms ({seconds:g} s each, speed {speed:g}, screenshot+OCR every {shot_every:g} s per room)")
    for r in out["runs"]:
        m = r["monitor"]
        bare = r.get("bare")
        base_txt = f" | bare Chromium {bare['cores_used']:.2f} cores {bare['peak_mb']:.0f} MB" if bare else ""
        click.echo(f"  {r['rooms']} rooms: {'ok  ' if r['ok'] else 'LOSS'} frames {m['frames']}, gaps {m['seq_gaps']}, "
                   f"chat missing {m['chat_missing_in_dom']}/{m['chat_on_socket']}, unread shots "
                   f"{m['screenshots_not_read']}/{m['screenshots']}; monitor {m['cores_used']:.2f} cores "
                   f"{m['peak_mb']:.0f} MB{base_txt}")  # fmt: skip
    click.echo(f"  rooms monitored at once without loss: {out['max_rooms_without_loss']} (goal >= 4)")
