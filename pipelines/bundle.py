"""Evidence bundles for a case file: export and verify.

A bundle is a zip (every member stored uncompressed, fixed dates, so that its
exact bytes can be rebuilt and compared by a verifier on any machine):

    manifest.json                 SHA-256 of every other member, and of itself (see below)
    report.html, report.pdf       电子数据提取笔录 (the PDF is optional: rendered by the caller)
    evidence/capture-N.warc.gz    the WARC file's warcinfo record + the capture's records, bytes as written
    screenshots/capture-N.png     the full-page screenshot, when one was taken
    chain/capture-N.json          the capture's chain payload and links, and the record hashes that
                                  lead from it to the timestamped chain head of its run
    timestamps/run-R.tsr          RFC 3161 TimeStampResp over run R's chain head, when one exists
    VERIFY.txt                    how to verify, in Chinese and English

manifest.json is canonical JSON (sorted keys, no spaces) and carries
`manifest_sha256`, the SHA-256 of its own canonical form without that key, so
that an altered manifest is named as such rather than blamed on a member.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlers.items import FIELD_LABELS_ZH
from pipelines import chain
from pipelines.store import Store, to_cst, utc_now
from pipelines.warc import check_group, first_record_span, iter_records, read_bytes

FORMAT = "fangxin-evidence-bundle/1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TEMPLATES = Path(__file__).resolve().parent / "templates"

VERIFY_TEXT = """放心消费监测 证据包校验说明 / How to verify this evidence bundle
=================================================================

1. fangxin evidence verify THIS.zip
   校验全部文件的 SHA-256、WARC 记录摘要、哈希链证明和压缩包结构；任何被修改、删除或增加的字节都会报错并指出文件。
   Checks every file's SHA-256, the WARC record digests, the hash-chain proof and the zip structure;
   any altered, missing or added byte fails and names the file.

2. Without this software / 不依赖本软件:
   - sha256sum each file and compare with "files" in manifest.json;
   - warcio check evidence/*.warc.gz   (WARC-Block-Digest / WARC-Payload-Digest, sha256 base32);
   - chain/capture-N.json: record_sha256 = sha256(canonical JSON of "payload"),
     chain_hash = sha256(chain_prev + ":" + record_sha256) (hex, ASCII);
     folding each hash of "following" the same way gives "head", the value the timestamp covers;
     the WARC member minus its first "warcinfo_length" bytes has SHA-256 = payload.warc_sha256;
   - openssl ts -verify -digest <head> -in timestamps/run-R.tsr -CAfile <TSA root certificate>
"""


class BundleError(RuntimeError):
    pass


# ------------------------------------------------------------------ zip writing


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    return info


def write_zip(members: list[tuple[str, bytes]]) -> bytes:
    """Deterministic zip bytes for the given members, in order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            zf.writestr(_zip_info(name), data)
    return buf.getvalue()


def build_manifest(files: dict[str, str], extra: dict[str, Any]) -> bytes:
    body = {"format": FORMAT, "algorithm": "sha256", "files": dict(sorted(files.items())), **extra}
    body["manifest_sha256"] = chain.sha256_hex(chain.canonical_json(body))
    return chain.canonical_json(body)


# ------------------------------------------------------------------ export


@dataclass
class ExportResult:
    path: Path
    files: dict[str, str]
    captures: list[int]
    hits: list[int]
    pdf: bool


@dataclass
class _Members:
    items: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, name: str, data: bytes) -> None:
        self.items.append((name, data))

    def digests(self) -> dict[str, str]:
        return {n: hashlib.sha256(d).hexdigest() for n, d in self.items}


def parse_ident(ident: str) -> tuple[str, int]:
    """`12`, `hit:12`, `H12` → ("hit", 12); `lead:3`, `L3` → ("lead", 3)."""
    text = ident.strip().lower()
    kind = "hit"
    for prefix, k in (("hit:", "hit"), ("lead:", "lead"), ("h", "hit"), ("l", "lead")):
        if text.startswith(prefix):
            kind, text = k, text[len(prefix) :]
            break
    if not text.isdigit():
        raise BundleError(f"not a hit or lead ID: {ident!r} (use 12, H12 or L3) / 无效编号")
    return kind, int(text)


def mark_excerpt(excerpt: str, match: str) -> str:
    """HTML of an excerpt with every occurrence of the matched words in <mark> (all text escaped)."""
    excerpt = excerpt or ""
    if not match or match not in excerpt:
        return html.escape(excerpt)
    return f"<mark>{html.escape(match)}</mark>".join(html.escape(part) for part in excerpt.split(match))


def _warcinfo(store: Store, warc_file: str) -> dict[str, str]:
    path = store.warc_path(warc_file)
    try:
        offset, length = first_record_span(path)
        for rec in iter_records(read_bytes(path, offset, length)):
            if rec.type == "warcinfo":
                out = {}
                for line in rec.content.decode("utf-8", "replace").splitlines():
                    name, sep, value = line.partition(":")
                    if sep:
                        out[name.strip()] = value.strip()
                return out
    except (OSError, ValueError):
        pass
    return {}


def export_bundle(
    store: Store,
    ident: str,
    out: str | Path,
    *,
    actor: str,
    pdf_renderer: Callable[[str], bytes] | None = None,
) -> ExportResult:
    """Write the evidence bundle of a hit or lead to `out` (a .zip)."""
    kind, number = parse_ident(ident)
    if kind == "hit":
        hit = store.get_hit(number)
        if hit is None:
            raise BundleError(f"no hit {number} in the database / 数据库中没有命中记录 {number}")
        hit_ids = [number]
        subject_label = f"命中记录 #{number}"
        subject_title = f"命中记录 #{number}：{hit['rule']}（{hit.get('law') or ''}）"
    else:
        lead = store.get_lead(number)
        if lead is None:
            raise BundleError(f"no lead {number} in the database / 数据库中没有线索 {number}")
        hit_ids = lead["hit_ids"]
        if not hit_ids:
            raise BundleError(f"lead {number} has no hits / 线索 {number} 未关联命中记录")
        subject_label = f"线索 #{number}"
        subject_title = f"线索 #{number}：{lead['title']}"

    hits = [store.get_hit(h) for h in hit_ids]
    # A series hit (fake 原价, repeated urgency …) is proven by several captures over time: all go in.
    capture_ids = sorted({h["capture_id"] for h in hits} | {c for h in hits for c in store.hit_capture_ids(h["id"])})
    members = _Members()
    captures_ctx = []
    operators: set[str] = set()
    environment: dict[str, str] = {}
    software = ""
    methods: set[str] = set()
    has_timestamps = False
    run_stamps: dict[int, dict | None] = {}

    for cid in capture_ids:
        cap = store.get_capture(cid)
        run = store.get_run(cap["run_id"]) or {}
        operators.add(run.get("operator") or "")
        ctx: dict[str, Any] = dict(cap)
        ctx["fetched_cst"] = to_cst(cap["fetched_at"])
        ctx["method_text"] = {
            "browser": "浏览器渲染（Chromium，无头模式）并全页截屏",
            "series": "序列规则分析记录（多次采集比对）",
        }.get(cap["render"], "HTTP 直接请求（静态抓取）")
        methods.add(ctx["method_text"])
        merchant = None
        if cap.get("merchant_id"):
            m = store.get_merchant(cap["merchant_id"])
            if m:
                merchant = "，".join(x for x in (m["name"], m["credit_code"], m["domain"]) if x)
        ctx["merchant"] = merchant

        warcinfo_length = 0
        if cap.get("warc_file"):
            path = store.warc_path(cap["warc_file"])
            try:
                info_off, info_len = first_record_span(path)
                info_bytes = read_bytes(path, info_off, info_len)
                group = read_bytes(path, cap["warc_offset"], cap["warc_length"])
            except (OSError, ValueError) as exc:
                raise BundleError(f"capture {cid}: WARC file unreadable: {exc} / 无法读取 WARC 文件") from exc
            if hashlib.sha256(group).hexdigest() != cap.get("warc_sha256"):
                raise BundleError(
                    f"capture {cid}: WARC bytes do not match the stored hash / WARC 内容与存储的哈希不符"
                )
            warcinfo_length = len(info_bytes)
            member = f"evidence/capture-{cid}.warc.gz"
            members.add(member, info_bytes + group)
            ctx["warc_member"] = member
            info = _warcinfo(store, cap["warc_file"])
            environment = environment or {
                "hostname": info.get("hostname"),
                "ip": info.get("ip"),
                "user_agent": info.get("http-header-user-agent"),
                "plan": info.get("plan"),
                "robots": info.get("robots"),
            }
            software = software or info.get("software", "")
            for rec in iter_records(group):
                if rec.type == "resource" and rec.uri.startswith("urn:screenshot:"):
                    shot = f"screenshots/capture-{cid}.png"
                    members.add(shot, rec.content)
                    ctx["screenshot_member"] = shot
                    ctx["screenshot_b64"] = base64.b64encode(rec.content).decode("ascii")
                    break
        else:
            ctx["warc_member"] = "（未写入 WARC）"

        # chain proof up to the run's timestamped head, if any
        if cap["run_id"] not in run_stamps:
            stamps = store.timestamps_for_run(cap["run_id"])
            run_stamps[cap["run_id"]] = stamps[-1] if stamps else None
        stamp = run_stamps[cap["run_id"]]
        head = stamp["chain_hash"] if stamp else (run.get("chain_head") or cap["chain_hash"])
        following = [] if head == cap["chain_hash"] else store.chain_records_between(cid, head)
        if following is None:
            following, head = [], cap["chain_hash"]
        proof = {
            "capture_id": cid,
            "payload": store.capture_chain_payload(cid),
            "record_sha256": cap["record_sha256"],
            "chain_prev": cap["chain_prev"],
            "chain_hash": cap["chain_hash"],
            "following": following,
            "head": head,
            "warc_member": ctx["warc_member"] if cap.get("warc_file") else None,
            "warcinfo_length": warcinfo_length,
            "timestamp": None,
        }
        if stamp:
            tsr = f"timestamps/run-{cap['run_id']}.tsr"
            if tsr not in dict(members.items):
                members.add(tsr, bytes(stamp["token"]))
            proof["timestamp"] = {"member": tsr, "tsa_url": stamp["tsa_url"], "gen_time": stamp["gen_time"]}
            ctx["timestamp"] = {
                "tsa_url": stamp["tsa_url"],
                "gen_cst": to_cst(stamp["gen_time"]) if stamp["gen_time"] else "—",
                "chain_hash": stamp["chain_hash"],
                "member": tsr,
            }
            has_timestamps = True
        members.add(
            f"chain/capture-{cid}.json", json.dumps(proof, ensure_ascii=False, indent=1).encode("utf-8")
        )

        ctx["hits"] = []
        for h in hits:
            if h["capture_id"] == cid:
                hh = dict(h)
                hh["excerpt_html"] = mark_excerpt(h.get("excerpt") or "", h.get("match") or "")
                hh["field_label"] = FIELD_LABELS_ZH.get(h.get("field") or "", h.get("field") or "")
                hh["events_around"] = events_around_rows(h.get("extracted") or {})
                hh["image_url"] = (h.get("extracted") or {}).get("image_url")
                ctx["hits"].append(hh)
        captures_ctx.append(ctx)

    for h in hits:
        proof = store.series_proof(h["id"])  # None for a text hit
        if proof:
            members.add(f"series/hit-{h['id']}-proof.json", proof["text"].encode("utf-8"))

    members.add("VERIFY.txt", VERIFY_TEXT.encode("utf-8"))

    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    from pipelines.evidence import software_line

    for c in captures_ctx:
        for h in c["hits"]:
            h["excerpt_html"] = Markup(h["excerpt_html"])  # built from escaped parts above  # noqa: S704
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    created = utc_now()
    report = env.get_template("report.html").render(
        software_name="Fangxin Watch",
        subject_label=subject_label,
        subject_title=subject_title,
        created_cst=to_cst(created),
        method_summary="；".join(sorted(methods)),
        software=software or software_line(),
        operators="、".join(sorted(o for o in operators if o)) or "—",
        environment=environment,
        captures=captures_ctx,
        has_timestamps=has_timestamps,
        files=sorted(members.digests().items()),
    )
    members.add("report.html", report.encode("utf-8"))
    pdf = False
    if pdf_renderer is not None:
        members.add("report.pdf", pdf_renderer(report))
        pdf = True

    files = members.digests()
    manifest = build_manifest(
        files,
        {
            "created_at": created,
            "software": software_line(),
            "subject": {"kind": kind, "id": number, "hits": hit_ids, "captures": capture_ids},
        },
    )
    data = write_zip([("manifest.json", manifest), *members.items])
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out_path)
    store.append_audit(
        actor,
        "evidence.export",
        kind,
        number,
        {"file": out_path.name, "sha256": hashlib.sha256(data).hexdigest(), "captures": capture_ids},
    )
    return ExportResult(out_path, files, capture_ids, hit_ids, pdf)


# ------------------------------------------------------------------ verify


@dataclass
class Problem:
    member: str
    reason: str

    def __str__(self) -> str:
        return f"{self.member}: {self.reason}"


def events_around_rows(extracted: dict) -> list[dict]:
    """Rows for the report: the events around a livestream hit, times in China time (+08:00).

    Each row: {"time": "2026-01-01 20:00:05.120", "offset": "+5.12 s", "field": label, "text", "is_hit"}.
    """
    import datetime as dt

    cst = dt.timezone(dt.timedelta(hours=8))
    rows = []
    for ev in extracted.get("events_around") or []:
        try:
            moment = dt.datetime.fromisoformat(str(ev.get("at", "")).replace("Z", "+00:00")).astimezone(cst)
            shown = moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        except ValueError:
            shown = str(ev.get("at", ""))
        rows.append({
            "time": shown, "offset": f"+{float(ev.get('t', 0.0)):.2f} s",
            "field": FIELD_LABELS_ZH.get(ev.get("field", ""), ev.get("field", "")), "text": ev.get("text", ""),
            "is_hit": ev.get("id") == extracted.get("event_id"),
        })  # fmt: skip
    return rows


def verify_bundle(path: str | Path) -> list[Problem]:
    """All problems found in a bundle (empty list: intact). The first names the first bad file."""
    path = Path(path)
    label = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [Problem(label, f"cannot read: {exc.strerror or exc} / 无法读取")]
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return [Problem(label, f"not a readable zip ({exc}) / 不是完整的 zip 文件")]

    problems: list[Problem] = []
    contents: dict[str, bytes] = {}
    names = [i.filename for i in infos]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(name, "appears more than once (added) / 文件重复"))
    for info in infos:
        try:
            contents[info.filename] = zf.read(info)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
            problems.append(Problem(info.filename, f"damaged ({exc}) / 文件已损坏"))

    manifest_raw = contents.get("manifest.json")
    if manifest_raw is None:
        if "manifest.json" not in names:
            problems.insert(0, Problem("manifest.json", "missing / 缺少清单文件"))
        return problems
    try:
        manifest = json.loads(manifest_raw.decode("utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError("no files list")
    except (UnicodeDecodeError, ValueError) as exc:
        return [Problem("manifest.json", f"altered: not a valid manifest ({exc}) / 清单被篡改")] + problems
    claimed = manifest.pop("manifest_sha256", None)
    if chain.canonical_json(
        {**manifest, "manifest_sha256": claimed}
    ) != manifest_raw or claimed != chain.sha256_hex(chain.canonical_json(manifest)):
        return [
            Problem("manifest.json", "altered: its own hash does not match / 清单被篡改（自身哈希不符）")
        ] + problems

    files: dict[str, str] = manifest["files"]
    for name, digest in sorted(files.items()):
        if name not in names:
            problems.append(Problem(name, "missing / 文件缺失"))
        elif name in contents and hashlib.sha256(contents[name]).hexdigest() != digest:
            problems.append(
                Problem(name, "altered: SHA-256 does not match the manifest / 文件被篡改（哈希不符）")
            )
    for name in names:
        if name != "manifest.json" and name not in files:
            problems.append(Problem(name, "not in the manifest (added) / 清单外的文件（被添加）"))
    if problems:
        return problems

    # every member is as exported: now check the evidence inside
    for name in sorted(files):
        data = contents[name]
        if name.endswith(".warc.gz"):
            for issue in check_group(data):
                problems.append(Problem(name, f"WARC digest check failed: {issue} / WARC 摘要校验失败"))
        elif name.startswith("chain/") and name.endswith(".json"):
            problems.extend(_check_proof(name, data, contents))

    # the zip itself: rebuild it from the members and compare every byte
    rebuilt = write_zip([(i.filename, contents[i.filename]) for i in infos])
    if rebuilt != raw:
        offset = next(
            (i for i, (a, b) in enumerate(zip(rebuilt, raw, strict=False)) if a != b),
            min(len(rebuilt), len(raw)),
        )
        where = label
        for info in infos:
            if info.header_offset <= offset:
                where = info.filename
        problems.append(
            Problem(where if offset < zf.start_dir else label,
                    f"zip structure altered at byte {offset} (headers or directory) / 压缩包结构被修改")
        )  # fmt: skip
    return problems


def _check_proof(name: str, data: bytes, contents: dict[str, bytes]) -> list[Problem]:
    try:
        proof = json.loads(data.decode("utf-8"))
        payload = proof["payload"]
        rec = chain.record_hash(payload)
        if rec != proof["record_sha256"]:
            return [Problem(name, "record hash does not match its payload / 记录哈希与内容不符")]
        if chain.link(proof["chain_prev"], rec) != proof["chain_hash"]:
            return [Problem(name, "chain hash does not match / 链哈希不符")]
        if chain.fold(proof["chain_hash"], proof.get("following") or []) != proof["head"]:
            return [Problem(name, "the chain does not lead to the stated head / 哈希链无法推导至链头")]
        member = proof.get("warc_member")
        if member:
            group = contents.get(member, b"")[int(proof.get("warcinfo_length") or 0) :]
            if hashlib.sha256(group).hexdigest() != payload.get("warc_sha256"):
                return [Problem(member, "WARC records do not match the hash chain / WARC 记录与哈希链不符")]
    except (KeyError, TypeError, ValueError) as exc:
        return [Problem(name, f"unreadable chain proof ({exc}) / 哈希链证明无法解析")]
    return []


# ------------------------------------------------------------------ database verification


@dataclass
class DbReport:
    captures: Any  # store.ChainReport
    warc_groups: int
    timestamps: int
    timestamp_problem: str | None

    @property
    def ok(self) -> bool:
        return self.captures.ok and self.timestamp_problem is None


def verify_database(store: Store) -> DbReport:
    """Walk the capture chain in order, checking each capture's WARC bytes and digests; then the timestamps."""
    checked_groups = 0

    def check_warc(row: dict) -> chain.Break | None:
        nonlocal checked_groups
        if not row.get("warc_file"):
            return None
        path = store.warc_path(row["warc_file"])
        try:
            data = read_bytes(path, row["warc_offset"], row["warc_length"])
        except FileNotFoundError:
            return chain.Break(row["id"], f"WARC file missing: {row['warc_file']} / WARC 文件缺失")
        except (OSError, ValueError) as exc:
            return chain.Break(row["id"], f"WARC file unreadable: {exc} / WARC 文件无法读取")
        if hashlib.sha256(data).hexdigest() != row["warc_sha256"]:
            return chain.Break(
                row["id"],
                f"WARC bytes altered in {row['warc_file']} at offset {row['warc_offset']} / WARC 内容被篡改",
            )
        issues = check_group(data)
        if issues:
            return chain.Break(row["id"], f"WARC digest check failed: {issues[0]} / WARC 摘要校验失败")
        checked_groups += 1
        return None

    report = store.verify_captures(on_entry=check_warc)
    problem = None
    stamps = store._all("SELECT id, run_id, chain_hash FROM timestamps ORDER BY id")
    if report.ok:
        known = {r[0] for r in store.conn.execute("SELECT chain_hash FROM captures")} | {chain.GENESIS}
        for stamp in stamps:
            if stamp["chain_hash"] not in known:
                problem = (
                    f"timestamp {stamp['id']} (run {stamp['run_id']}) covers a chain head no longer in the chain "
                    "/ 时间戳覆盖的链头已不在哈希链中"
                )
                break
    return DbReport(report, checked_groups, len(stamps), problem)
