"""`fangxin bench`: benchmarks, each figure beside its baseline measured in the same run."""

from __future__ import annotations

import click

from fangxin.commands import bench_crawl, bench_live, bench_review, bench_rules


@click.group()
def bench() -> None:
    """Benchmarks: rules | crawl | review, each with its baseline in the same run."""


bench.add_command(bench_rules.rules_bench)
bench.add_command(bench_crawl.crawl_bench)
bench.add_command(bench_review.review_bench)
bench.add_command(bench_live.live_bench)
