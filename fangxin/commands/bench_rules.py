"""`fangxin bench rules`: corpus precision/recall and check-path throughput beside grep -F."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click

from rules.ordinary import ordinary_sentence

CORPUS_DIR = Path(__file__).resolve().parents[2] / "tests" / "corpus"


# ---------------------------------------------------------------------- corpus
def load_corpus(root: Path = CORPUS_DIR, split: str | None = None) -> list[dict]:
    """Every labelled item of tests/corpus/<split>/*.jsonl (split: dev | heldout | None for both)."""
    items: list[dict] = []
    splits = [split] if split else ["dev", "heldout"]
    for sp in splits:
        folder = root / sp
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.jsonl")):
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    rec = json.loads(line)
                    rec.setdefault("field", "body")
                    rec.setdefault("labels", [])
                    rec.setdefault("allow", [])
                    rec["split"] = sp
                    rec["_where"] = f"{path.name}:{n}"
                    items.append(rec)
    return items


def evaluate(engine, items: list[dict]) -> dict:
    """Per-category and overall (micro) precision/recall; a category predicted but neither labelled
    nor allowed is a false positive; a labelled category not predicted is a false negative."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    errors: list[dict] = []
    for it in items:
        hits = engine.check({it["field"]: it["text"]})
        pred = {h.category for h in hits}
        gold = set(it["labels"])
        allow = set(it["allow"])
        for c in gold:
            if c in pred:
                tp[c] += 1
            else:
                fn[c] += 1
                errors.append({"kind": "FN", "category": c, "id": it["id"], "text": it["text"], "where": it["_where"]})
        for c in pred - gold - allow:
            fp[c] += 1
            rule = next(h.rule for h in hits if h.category == c)
            errors.append({"kind": "FP", "category": c, "rule": rule, "id": it["id"], "text": it["text"], "where": it["_where"]})
    cats = sorted(set(tp) | set(fp) | set(fn))
    per = {}
    for c in cats:
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 1.0
        r = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 1.0
        per[c] = {"tp": tp[c], "fp": fp[c], "fn": fn[c], "precision": round(p, 4), "recall": round(r, 4)}
    TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
    overall = {
        "tp": TP, "fp": FP, "fn": FN,
        "precision": round(TP / (TP + FP), 4) if TP + FP else 1.0,
        "recall": round(TP / (TP + FN), 4) if TP + FN else 1.0,
        "texts": len(items),
        "violations": sum(1 for it in items if it["labels"]),
        "negatives": sum(1 for it in items if not it["labels"]),
    }
    return {"per_category": per, "overall": overall, "errors": errors}


# ---------------------------------------------------------------------- throughput
def make_throughput_corpus(items: list[dict], target_bytes: int, seed: int = 7, page_bytes: int = 4000,
                           hard_share: float = 0.05) -> tuple[bytes, int]:
    """JSONL of product pages (~4 KB by default): template sentences of ordinary shop text, a
    share of sentences (5 % by default) lawful hard negatives of the corpus (temporal 最,
    disclaimers, law quotations), and one labelled violation per page."""
    rng = random.Random(seed)
    neg = [it["text"] for it in items if not it["labels"]]
    pos = [it["text"] for it in items if it["labels"]]
    out = []
    size = 0
    n = 0
    while size < target_bytes:
        parts = []
        page = 0
        while page < page_bytes:
            s = rng.choice(neg) if neg and rng.random() < hard_share else ordinary_sentence(rng)
            parts.append(s)
            page += len(s.encode())
        if pos:
            parts.insert(rng.randrange(len(parts)), rng.choice(pos))
        line = json.dumps({"id": f"p{n}", "text": "".join(parts)}, ensure_ascii=False) + "\n"
        b = line.encode()
        out.append(b)
        size += len(b)
        n += 1
    return b"".join(out), n


def _time_check_path(engine, path: str) -> tuple[float, int]:
    """The `rules check --jsonl` loop in process: read a line, parse, check, serialise hits
    (with the same garbage-collector setting as the command)."""
    from fangxin.commands.rules import _batch_gc, _out_line

    n_hits = 0
    with open(os.devnull, "w", encoding="utf-8") as sink, open(path, encoding="utf-8") as src, _batch_gc():
        t0 = time.process_time()
        for line in src:
            rec = json.loads(line)
            for hit in engine.check({"body": rec["text"]}):
                sink.write(_out_line(rec["id"], hit) + "\n")
                n_hits += 1
        elapsed = time.process_time() - t0
    return elapsed, n_hits


def _time_grep(patterns: list[str], path: str, mode: str) -> float | None:
    """Wall time (best of three) of `LC_ALL=C grep -F -f PATTERNS FILE`, a single-threaded
    process. mode "-c" counts matching lines (grep moves to the next line at the first match);
    mode "-o" prints every match, so the whole text is scanned."""
    grep = shutil.which("grep")
    if not grep:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(patterns) + "\n")
        pat_path = fh.name
    try:
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            # stdout to a pipe: GNU grep stops at the first match when its output is /dev/null
            subprocess.run([grep, mode, "-F", "-f", pat_path, path], stdout=subprocess.PIPE,
                           env={**os.environ, "LC_ALL": "C"}, check=False)
            elapsed = time.perf_counter() - t0
            best = elapsed if best is None else min(best, elapsed)
        return best
    finally:
        os.unlink(pat_path)


def _time_hyperscan(patterns: list[str], text: str) -> float | None:
    try:
        import hyperscan
    except ImportError:
        return None
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    from rules.engine import hyperscan_literal

    exprs = [hyperscan_literal(p.encode()) for p in patterns]
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
               flags=[hyperscan.HS_FLAG_SINGLEMATCH * 0] * len(exprs))
    data = text.encode()
    count = [0]

    def on_match(_id, _from, _to, _flags, _ctx):
        count[0] += 1

    t0 = time.process_time()
    db.scan(data, match_event_handler=on_match)
    return time.process_time() - t0


def _time_ahocorasick(engine, text: str) -> float:
    t0 = time.process_time()
    engine._automaton.find_matches_as_indexes(text, overlapping=True)
    return time.process_time() - t0


_COLD_LOAD = """
import json, os, time
from rules.loader import PACKS_DIR
from rules.yamlio import load_yaml
import rules
files = [os.path.join(r, n) for r, _d, ns in os.walk(PACKS_DIR) for n in sorted(ns) if n.endswith((".yaml", ".txt"))]
t0 = time.process_time()
for f in files:
    load_yaml(f) if f.endswith(".yaml") else open(f, encoding="utf-8").read().splitlines()
t1 = time.process_time()
rules.load_engine()
t2 = time.process_time()
print(json.dumps({"yaml": t1 - t0, "load": t2 - t1}))
"""


def _time_cold_load(runs: int = 3) -> tuple[float, float]:
    """(seconds, baseline seconds): CPU time of a pack load with no pack cache (every YAML file
    parsed, every rule checked against the schema, every pattern checked and analysed, the
    engine built) in a fresh interpreter, best of ``runs``; the baseline is reading the same
    pack files with the same YAML loader and nothing else, in the same process."""
    best: tuple[float, float] | None = None
    env = {**os.environ, "FANGXIN_RULES_CACHE": "off"}
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD_LOAD], env=env, capture_output=True, text=True,
                             check=True, cwd=str(CORPUS_DIR.parents[1]))
        got = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or got["load"] < best[0]:
            best = (got["load"], got["yaml"])
    return best


def _poll_peak_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a running child, read from /proc until it exits.
    (A forked child's ru_maxrss would include the parent's pages from before exec.)"""
    peak = 0
    status = f"/proc/{pid}/status"
    while True:
        try:
            with open(status, encoding="ascii") as fh:
                text = fh.read()
        except OSError:
            return peak
        if "VmHWM:" not in text:  # zombie: exited
            return peak
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        time.sleep(0.02)


def _fmt_table(per: dict, overall: dict) -> list[str]:
    lines = [f"{'category':<18} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    for c, v in per.items():
        lines.append(f"{c:<18} {v['tp']:>4} {v['fp']:>4} {v['fn']:>4} {v['precision']:>9.3f} {v['recall']:>7.3f}")
    lines.append(f"{'overall':<18} {overall['tp']:>4} {overall['fp']:>4} {overall['fn']:>4} "
                 f"{overall['precision']:>9.3f} {overall['recall']:>7.3f}")
    return lines


@click.command("rules")
@click.option("--mb", "megabytes", default=20.0, show_default=True, help="Size of the generated throughput corpus.")
@click.option("--skip-throughput", is_flag=True, help="Only precision/recall.")
@click.option("--dense", is_flag=True, help="Stress profile: 2 KB pages, 10 % hard negatives, one violation each.")
@click.option("--cli", "with_cli", is_flag=True, help="Also time the `fangxin rules check --jsonl` subprocess end to end.")
@click.option("--errors", "show_errors", is_flag=True, help="List the dev-split false positives and negatives.")
@click.option("--profile", "time_rules", is_flag=True,
              help="Also list the ten rules that take the most check time on the throughput corpus.")
@click.option("--split", "only_split", type=click.Choice(["dev", "heldout", "all"]),
              help="Report precision/recall of this split only (rule authors: dev, so no held-out figure is seen).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def rules_bench(megabytes: float, skip_throughput: bool, dense: bool, with_cli: bool, show_errors: bool,
                time_rules: bool, only_split: str | None, as_json: bool) -> None:
    """Precision/recall per category on tests/corpus (dev, held-out, all) and check-path throughput.

    \b
    Throughput: a generated JSONL corpus (~20 MB of ~4 KB product pages, one
    violation per page, 5 % hard-negative sentences; --dense: 2 KB pages, 10 %)
    goes through the `rules check --jsonl` loop on one core (CPU time); in the
    same run `LC_ALL=C grep -F -f` with every literal term of the packs scans the
    same file (-c: line mode, -o: every match) and the ratios are reported. Also
    pack load time (cached; and without the pack cache, beside reading the same
    YAML alone), the literal scan alone (ahocorasick_rs, hyperscan when
    installed) and peak memory (--cli: of the `fangxin rules check` process).
    --profile: the ten rules with the largest share of check time (trigger regexes
    around their anchors plus condition evaluation), to find a costly anchor.
    """
    import rules as rules_lib

    t0 = time.perf_counter()
    engine = rules_lib.load_engine()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rules_lib.load_engine()
    reload_s = time.perf_counter() - t0
    cold_s, yaml_s = _time_cold_load()
    result: dict = {"rules": len(engine.rules), "literals": len(engine.patterns), "scanner": engine.scanner,
                    "load_seconds": round(load_s, 3), "reload_seconds": round(reload_s, 3),
                    "cold_load_seconds": round(cold_s, 3), "cold_load_yaml_seconds": round(yaml_s, 3)}
    splits = ("dev", "heldout", "all")
    if only_split:
        splits = (only_split,)
    if show_errors and "dev" not in splits:
        splits = ("dev", *splits)  # the listed errors are the dev split's; its table comes with them
    for name in splits:
        split = None if name == "all" else name
        items = load_corpus(split=split)
        ev = evaluate(engine, items)
        result[name] = {"per_category": ev["per_category"], "overall": ev["overall"]}
        if split == "dev":
            dev_errors = ev["errors"]
    if not skip_throughput:
        items = load_corpus()
        profile = {"page_bytes": 2000, "hard_share": 0.10} if dense else {"page_bytes": 4000, "hard_share": 0.05}
        data, pages = make_throughput_corpus(items, int(megabytes * 1024 * 1024), **profile)
        with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as fh:
            fh.write(data)
            path = fh.name
        mb = len(data) / 1e6
        # the literal-scan comparison runs on the first ~5 MB of page text
        sample = data[: 5 * 1024 * 1024].decode("utf-8", "ignore").splitlines()[:-1]
        text_only = "\n".join(json.loads(line)["text"] for line in sample)
        del data, sample
        try:
            check_s, n_hits = _time_check_path(engine, path)
            grep_s = _time_grep(engine.literal_terms(), path, "-c")
            grep_o_s = _time_grep(engine.literal_terms(), path, "-o")
            ac_s = _time_ahocorasick(engine, text_only)
            hs_s = _time_hyperscan(engine.literal_terms(), text_only)
            tp = {
                "corpus_mb": round(mb, 2), "pages": pages, "hits": n_hits, "profile": profile,
                "check_mb_s": round(mb / check_s, 1),
                "grep_mb_s": round(mb / grep_s, 1) if grep_s else None,
                "check_over_grep": round((mb / check_s) / (mb / grep_s), 3) if grep_s else None,
                "grep_o_mb_s": round(mb / grep_o_s, 1) if grep_o_s else None,
                "check_over_grep_o": round((mb / check_s) / (mb / grep_o_s), 3) if grep_o_s else None,
                "ahocorasick_scan_mb_s": round(len(text_only.encode()) / 1e6 / ac_s, 1) if ac_s else None,
                "hyperscan_scan_mb_s": round(len(text_only.encode()) / 1e6 / hs_s, 1) if hs_s else None,
            }
            if with_cli:
                exe = shutil.which("fangxin") or os.path.join(os.path.dirname(sys.executable), "fangxin")
                proc = subprocess.Popen([exe, "rules", "check", "--jsonl", path, "--no-progress"], stdout=subprocess.DEVNULL)
                peak_kb = _poll_peak_kb(proc.pid)
                _pid, _status, usage = os.wait4(proc.pid, 0)
                cli_cpu = usage.ru_utime + usage.ru_stime
                tp["cli_mb_s"] = round(mb / cli_cpu, 1)
                tp["cli_peak_rss_mb"] = round(peak_kb / 1024, 1) if peak_kb else None
                starts = []
                for _ in range(3):  # start-up alone: load (or read the cached) packs, check one word
                    proc = subprocess.Popen([exe, "rules", "check", "无"], stdout=subprocess.DEVNULL)
                    _pid, _status, usage = os.wait4(proc.pid, 0)
                    starts.append(usage.ru_utime + usage.ru_stime)
                tp["cli_startup_cpu_s"] = round(min(starts), 3)
            if time_rules:
                from rules.profile import profile_rules

                docs = [{"body": json.loads(line)["text"]} for line in open(path, encoding="utf-8")]
                total, ranked = profile_rules(engine, docs)
                tp["costliest_rules"] = [{"rule": rid, "share": round(sec / total, 3), "anchor_windows": n}
                                 for rid, sec, n in ranked[:10]]
            result["throughput"] = tp
        finally:
            os.unlink(path)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    click.echo(f"rules: {result['rules']}  literals: {result['literals']}  literal scanner: {result['scanner']}")
    click.echo(f"pack load: {load_s:.3f} s (first), {reload_s:.3f} s (reload); without the pack cache "
               f"{cold_s:.3f} s CPU beside {yaml_s:.3f} s to read the same YAML files alone "
               f"(ratio {cold_s / yaml_s:.1f})")
    for split in splits:
        o = result[split]["overall"]
        click.echo(f"\n[{split}] {o['texts']} texts ({o['violations']} violations, {o['negatives']} lawful)")
        for line in _fmt_table(result[split]["per_category"], o):
            click.echo("  " + line)
    if "throughput" in result:
        tp = result["throughput"]
        click.echo(f"\nthroughput on {tp['corpus_mb']} MB ({tp['pages']} pages of ~{tp['profile']['page_bytes']} B, "
                   f"{int(tp['profile']['hard_share'] * 100)} % hard-negative sentences, {tp['hits']} hits), one core:")
        click.echo(f"  rules check path : {tp['check_mb_s']} MB/s")
        for row in tp.get("costliest_rules", []):
            click.echo(f"    {row['share'] * 100:5.1f} % of check time  {row['rule']}  ({row['anchor_windows']} regex windows)")
        if tp["grep_mb_s"]:
            click.echo(f"  LC_ALL=C grep -c -F -f : {tp['grep_mb_s']} MB/s  (ratio check/grep = {tp['check_over_grep']}); "
                       "grep leaves a line at its first match")
            click.echo(f"  LC_ALL=C grep -o -F -f : {tp['grep_o_mb_s']} MB/s  (ratio check/grep = {tp['check_over_grep_o']}); "
                       "every match, whole text")
        click.echo(f"  literal scan only: ahocorasick_rs {tp['ahocorasick_scan_mb_s']} MB/s"
                   + (f", hyperscan {tp['hyperscan_scan_mb_s']} MB/s" if tp["hyperscan_scan_mb_s"] else ", hyperscan not installed"))
        if "cli_mb_s" in tp:
            click.echo(f"  fangxin rules check --jsonl (subprocess, incl. start-up): {tp['cli_mb_s']} MB/s, peak {tp['cli_peak_rss_mb']} MB; "
                       f"start-up alone {tp['cli_startup_cpu_s']} s CPU")
    click.echo(f"peak memory (this process): {result['peak_rss_mb']} MB")
    if show_errors:
        click.echo("\ndev-split errors:")
        for e in dev_errors:
            click.echo(f"  {e['kind']} {e['category']:<16} {e.get('rule', ''):<28} {e['where']}: {e['text']}")
