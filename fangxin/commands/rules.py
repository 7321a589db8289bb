"""`fangxin rules`: test, lint, check and explain rule packs."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import sys
import time

import click


def _load(packs: tuple[str, ...]):
    import rules as rules_lib

    try:
        return rules_lib.load_engine(list(packs) or None)
    except rules_lib.PackError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


@click.group()
def rules() -> None:
    """Rule packs (rules/packs/*): test, lint, check text, explain a rule.

    \b
    PACK arguments are pack folders (default: every pack under rules/packs/,
    the national base first). A malformed pack prints one line
    FILE:LINE: FIELD: problem and exits 2.
    """


@rules.command("test")
@click.argument("packs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--coverage", is_flag=True, help="Also fail a rule whose trigger selections no must_match case fires.")
@click.option("-v", "--verbose", is_flag=True, help="List todo cases that already pass.")
@click.option("--rule", "rule_ids", multiple=True, metavar="RULE_ID",
              help="Only this rule's cases (repeatable): quick feedback while editing one rule.")
def rules_test(packs: tuple[str, ...], coverage: bool, verbose: bool, rule_ids: tuple[str, ...]) -> None:
    """Run every rule's must_match / must_not_match cases through the production check path.

    Fails (exit 1) on any must_match case that does not fire its rule or any
    must_not_match case that does, naming the rule, file:line and case.
    """
    from rules.errors import PackError
    from rules.series import add_series_tests, load_series_rules
    from rules.testing import run_tests

    engine = _load(packs)
    only = set(rule_ids) or None
    if only is not None:
        unknown = only - {r.id for r in engine.rules}
        if unknown:  # series rules are read only when a named id is not a text rule
            try:
                unknown -= {r.id for r in load_series_rules([p.path for p in engine.packs])}
            except PackError:  # add_series_tests reports the malformed series file as a failure
                unknown = set()
        if unknown:
            click.echo(f"未知规则 (unknown rule): {', '.join(sorted(unknown))}", err=True)
            sys.exit(2)
    report = add_series_tests(run_tests(engine, rule_ids=only), engine, rule_ids=only)  # text, then series
    for f in report.failures:
        click.echo(f.line())
    if verbose:
        for rule, case in report.todo_firing:
            click.echo(f"{rule.file}:{case.line}: {rule.id}: todo now fires: {case.text}")
    bad_cov = []
    if coverage:
        for rule, trig in report.uncovered:
            bad_cov.append(rule.id)
            click.echo(f"{rule.file}:{rule.line}: {rule.id}: coverage: trigger {trig!r} never fired by a must_match case")
    click.echo(
        f"{report.rules} rules, {report.cases} cases: {len(report.failures)} failed"
        + (f", {len(bad_cov)} uncovered triggers" if coverage else "")
        + (f", {report.todo} todo" if report.todo else "")
        + (f" ({len(report.todo_firing)} now firing: -v lists them)" if report.todo_firing else "")
    )
    if report.failures or bad_cov:
        sys.exit(1)


@rules.command("lint")
@click.argument("packs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def rules_lint(packs: tuple[str, ...], strict: bool) -> None:
    """Schema, unique ids, known laws, regexes compile, nested quantifiers, timing on adversarial input,
    trigger literals common in ordinary shop text (rules/ordinary.py).

    Prints FILE:LINE: FIELD: level: problem per finding; exit 1 on any error
    (or warning with --strict).
    """
    from rules.lint import lint

    engine, findings = lint(list(packs) or None)
    if engine is None:  # the pack does not load: the loader's one line, as everywhere
        f = findings[0]
        click.echo(f"{f.file}:{f.line}: {f.field}: {f.problem}", err=True)
        sys.exit(2)
    for f in findings:
        click.echo(f.text())
    errors = [f for f in findings if f.level == "error" or strict]
    n_rules = len(engine.rules) if engine else 0
    click.echo(f"{n_rules} rules: {sum(f.level == 'error' for f in findings)} errors, "
               f"{sum(f.level == 'warning' for f in findings)} warnings")
    if errors:
        sys.exit(1)


_encode = json.JSONEncoder(ensure_ascii=False).encode


@contextlib.contextmanager
def _batch_gc():
    """A check loop allocates many short-lived acyclic objects: collect the young generation less
    often and leave the loaded engine (frozen) out of collections. Restored afterwards."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], 50_000), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
_RULE_PART: dict[tuple, str] = {}


def _out_line(doc_id, hit) -> str:
    """One output line; byte-identical to ``json.dumps({...}, ensure_ascii=False)`` of the contract
    keys. The rule's constant part is encoded once per rule."""
    key = (hit.rule, hit.category, hit.severity, hit.law)
    part = _RULE_PART.get(key)
    if part is None:
        part = _RULE_PART[key] = (f'"rule": {_encode(hit.rule)}, "category": {_encode(hit.category)}, '
                                  f'"severity": {_encode(hit.severity)}, "law": {_encode(hit.law)}')
    return (f'{{"id": {_encode(doc_id)}, {part}, "field": {_encode(hit.field)}, '
            f'"start": {hit.start}, "end": {hit.end}, "match": {_encode(hit.match)}}}')


@rules.command("check")
@click.argument("text", required=False)
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False, allow_dash=True),
              help='Read lines {"id": …, "text": …[, "field": …]} from FILE ("-" for stdin).')
@click.option("--field", "field", default="body", show_default=True, help="Field name for TEXT (and --jsonl lines without one).")
@click.option("--pack", "packs", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Pack folder (repeatable; default every pack).")
@click.option("--progress/--no-progress", default=None,
              help="With --jsonl: documents, MB/s and hits on stderr as they go, then a summary line "
                   "(default: when stderr is a terminal).")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge the text as of this date (YYYY-MM-DD; default today): rules that count years, "
                   "such as a patent number's term, count from it. For re-checking old captures.")
def rules_check(text: str | None, jsonl: str | None, field: str, packs: tuple[str, ...],
                progress: bool | None, as_of) -> None:
    """Print one JSON line per hit for TEXT, or for each line of --jsonl FILE.

    \b
    Output lines: {"id","rule","category","severity","law","field","start","end","match"};
    start/end index the original text; an input without hit prints nothing.
    TEXT gets id null. Example:
      fangxin rules check "全网最低价，保证无效退款"
    """
    if (text is None) == (jsonl is None):
        raise click.UsageError("give TEXT or --jsonl FILE (not both)")
    engine = _load(packs)
    out = sys.stdout
    day = as_of.date() if as_of is not None else None
    if text is not None:
        for hit in engine.check({field: text}, as_of=day):
            out.write(_out_line(None, hit) + "\n")
        return
    stream = sys.stdin.buffer if jsonl == "-" else open(jsonl, "rb")  # noqa: SIM115
    check = engine.check if day is None else functools.partial(engine.check, as_of=day)
    buf: list[str] = []  # output lines, written in batches (per document when reading stdin)
    batch = 1 if jsonl == "-" else 512

    def flush() -> None:
        if buf:
            buf.append("")
            out.write("\n".join(buf))
            buf.clear()

    if progress is None:
        progress = sys.stderr.isatty()
    meter = _Progress() if progress else None
    with _batch_gc():
        try:
            for n, raw in enumerate(stream, 1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.decode("utf-8"))
                    doc_text = rec["text"]
                except (ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
                    flush()
                    out.flush()
                    if meter is not None:
                        meter.done()
                    what = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not a JSON object with a text"
                    click.echo(f"{jsonl}:{n}: input: {what}", err=True)
                    sys.exit(2)
                doc_id = rec.get("id")
                found = check({rec.get("field") or field: doc_text})
                for hit in found:
                    buf.append(_out_line(doc_id, hit))
                if len(buf) >= batch:
                    flush()
                if meter is not None:
                    meter.add(len(raw), len(found))
            flush()
            if meter is not None:
                meter.done()
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


class _Progress:
    """`rules check --jsonl` progress on stderr: one line rewritten about once a second."""

    def __init__(self) -> None:
        self.t0 = self.shown = time.monotonic()
        self.docs = self.bytes = self.hits = 0

    def add(self, size: int, hits: int) -> None:
        self.docs += 1
        self.bytes += size
        self.hits += hits
        if self.docs & 63 == 0:
            now = time.monotonic()
            if now - self.shown >= 1.0:
                self.shown = now
                click.echo("\r" + self.line(now), err=True, nl=False)

    def line(self, now: float) -> str:
        mb = self.bytes / 1e6
        return (f"{self.docs:,} documents, {mb:.1f} MB, {mb / max(now - self.t0, 1e-9):.1f} MB/s, "
                f"{self.hits:,} hits")

    def done(self) -> None:
        click.echo("\r" + self.line(time.monotonic()), err=True)


@rules.command("explain")
@click.argument("rule_id")
@click.option("--json", "as_json", is_flag=True, help="Print the rule (or, with --text, the trace) as JSON.")
@click.option("--text", "text", metavar="TEXT",
              help="Trace the rule on TEXT: each candidate, whether it became a hit, and the parts of the "
                   "condition that blocked it, with the value of every selection they read.")
@click.option("--field", "field_name", default="body", show_default=True,
              help="Document field TEXT arrives in (with --text): body, title, transcript, chat, ocr, terms …")
def rules_explain(rule_id: str, as_json: bool, text: str | None, field_name: str) -> None:
    """Show a rule: title, category, severity, legal citation, selections, condition and examples.

    With --text, say why the rule fires or not on that text. Example:
      fangxin rules explain ABS-SUPERLATIVE-001 --text "我用过最好的面霜" --field transcript
    """
    from rules.compare import unparse as unparse_compare
    from rules.legal import cn_number

    engine = _load(())
    try:
        rule = engine.rule(rule_id)
    except KeyError:
        click.echo(f"unknown rule {rule_id!r}", err=True)
        sys.exit(1)
    if text is not None:
        _explain_text(engine, rule, text, field_name, as_json)
        return
    if as_json:
        from rules.errors import PackError
        from rules.loader import rule_source

        pack = next(p for p in engine.packs if p.id == rule.pack)
        try:
            click.echo(json.dumps(rule_source(pack, rule), ensure_ascii=False, indent=1))
        except PackError as err:
            click.echo(str(err), err=True)
            sys.exit(1)
        return
    lines = [
        f"{rule.id}  {rule.title}",
        f"  pack:       {rule.pack} {rule.pack_version}  ({rule.file}:{rule.line})",
        f"  category:   {rule.category}    severity: {rule.severity}    confidence: {rule.confidence}    status: {rule.status}",
        f"  law:        {rule.law}",
    ]
    for entry in rule.legal:
        lines.append(f"              - {entry['citation']}" + (f"（罚则：第{cn_number(entry['penalty'])}条）" if entry.get("penalty") else ""))
    lines.append(f"  scopes:     {', '.join(rule.scopes)}")
    lines.append(f"  message:    {rule.message}")
    if rule.description:
        lines.append(f"  about:      {rule.description}")
    lines.append("  selections:")
    for name, sel in rule.selections.items():
        what = []
        if sel.terms:
            shown = "、".join(sel.terms[:12]) + (f" …(+{len(sel.terms) - 12})" if len(sel.terms) > 12 else "")
            what.append(f"terms: {shown}")
        if sel.regex_source:
            what.append(f"regex: {sel.regex_source}")
        if sel.fields:
            what.append(f"fields: {', '.join(sorted(sel.fields))}")
        if sel.min_ratio is not None:
            what.append(f"min_ratio: {sel.min_ratio:g}")
        if sel.min_years_ago is not None:
            what.append(f"min_years_ago: {sel.min_years_ago}")
        if sel.compare is not None:
            what.append(f"compare: {unparse_compare(sel.compare)}")
        role = "trigger" if name in rule.triggers else f"within {sel.within[0]}" + (f":{sel.within[1]}" if sel.within[1] else "")
        lines.append(f"    {name} [{role}] " + "; ".join(what))
    lines.append(f"  condition:  {rule.condition_source}")
    lines.append(f"  exceptions: {', '.join(rule.exceptions) or '-'}")
    lines.append("  must_match:")
    lines += [f"    + [{c.field}] {c.text}" for c in rule.must_match]
    lines.append("  must_not_match:")
    lines += [f"    - [{c.field}] {c.text}" for c in rule.must_not_match]
    prov = rule.provenance
    if prov.get("author") or prov.get("created"):
        dates = prov.get("created", "") + (f", modified {prov['modified']}" if prov.get("modified") else "")
        lines.append(f"  provenance: {prov.get('author', '-')} ({dates})")
    if prov.get("sources"):
        lines.append("  sources:")
        lines += [f"    * {s}" for s in prov["sources"]]
    click.echo("\n".join(lines))


def _explain_text(engine, rule, text: str, field_name: str, as_json: bool) -> None:
    from dataclasses import asdict

    from rules.model import FIELDS
    from rules.trace import trace_rule

    if field_name not in FIELDS:
        click.echo(f"--field: unknown field {field_name!r} (one of {', '.join(FIELDS)})", err=True)
        sys.exit(2)
    tr = trace_rule(engine, rule.id, {field_name: text})
    if as_json:
        click.echo(json.dumps(asdict(tr), ensure_ascii=False, indent=1))
        return
    lines = [f"{rule.id}  {rule.title}", f"  text [{field_name}]: {text}"]
    if field_name not in rule.scopes:
        lines.append(f"  the rule does not read field {field_name!r} (scopes: {', '.join(rule.scopes)})")
    if field_name in tr.normalised:
        lines.append(f"  normalised: {tr.normalised[field_name]}")
    if not tr.candidates:
        lines.append("  no candidate: none of the rule's triggers matches here "
                     f"({', '.join(rule.triggers)}; `fangxin rules explain {rule.id}` shows them)")
    for c in tr.candidates:
        head = f"  candidate {c.start}-{c.end} 「{c.match}」: "
        if c.fired:
            lines.append(head + "hit")
            continue
        if not c.blocking:  # every part holds, yet a longer overlapping candidate took the place
            lines.append(head + "no hit (an overlapping candidate was reported instead)")
            continue
        lines.append(head + "no hit, blocked by:")
        for conj in c.blocking:
            values = " ".join(f"{k}={'true' if v else 'false'}" for k, v in conj.selections.items())
            lines.append(f"    {conj.source}    [{values}]")
    if tr.timed_out:
        lines.append("  the document deadline passed: the trace is incomplete")
    click.echo("\n".join(lines))

