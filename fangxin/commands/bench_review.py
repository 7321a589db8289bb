"""`fangxin bench review`: review UI server time on a seeded database, beside a bare SQL baseline."""

from __future__ import annotations

import json

import click


@click.command("review")
@click.option("--db", "db", default="data/bench/review.db", show_default=True, type=click.Path(dir_okay=False),
              help="Benchmark database; seeded with synthetic hits up to --hits (never point it at a real store).")
@click.option("--hits", type=click.IntRange(min=100), default=1_000_000, show_default=True,
              help="Hits the database must hold before timing.")
@click.option("--samples", type=click.IntRange(min=5), default=100, show_default=True, help="Requests timed per page.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def review_bench(db: str, hits: int, samples: int, as_json: bool) -> None:
    """Time the queue and detail pages (p50/p95 server round trip on 127.0.0.1) on a database of N hits.

    \b
    The baseline, in the same run, is the queue computed as one GROUP BY over
    every open hit as bare SQL, without any HTML. Goal: p95 under 300 ms.
    """
    from fangxin.paths import ensure_parent
    from review_ui.bench import run

    ensure_parent(db)
    click.echo(f"seeding and timing on {db} ({hits:,} hits) …", err=True)
    report = run(db, hits=hits, samples=samples)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    base = report["baseline_group_by_sql"]
    click.echo(f"hits in database: {report['hits']:,}")
    click.echo(f"{'page':<16}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'p95 / baseline p95':>22}")
    for name, figures in report["pages"].items():
        ratio = figures["p95_ms"] / base["p95_ms"] if base["p95_ms"] else float("nan")
        click.echo(f"{name:<16}{figures['p50_ms']:>10}{figures['p95_ms']:>10}{figures['max_ms']:>10}{ratio:>22.3f}")
    click.echo(f"{'baseline (SQL)':<16}{base['p50_ms']:>10}{base['p95_ms']:>10}{base['max_ms']:>10}")
    click.echo("p95 under 300 ms: " + ("yes" if report["p95_under_300ms"] else "NO"))
