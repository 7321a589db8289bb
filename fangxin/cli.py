"""`fangxin`: the single entry point of Fangxin Watch.

Each command group lives in its own module under `fangxin.commands`; this file
only assembles them, so `fangxin --help` lists every command of DESIGN.md.
"""

from __future__ import annotations

import click

from fangxin import __version__
from fangxin.commands import audit, bench, crawl, demo, evidence, hits, live, review, rules, sandbox, user


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fangxin")
def main() -> None:
    """Fangxin Watch (放心消费监测): crawl, check and review online advertising.

    \b
    Crawl sampled pages, flag illegal claims with cited rules, store evidence,
    and triage the hits in a review web UI.
    """


for command in (
    demo.demo,
    sandbox.sandbox,
    crawl.crawl,
    crawl.schedule,
    live.live,
    crawl.ingest,
    hits.hits,
    rules.rules,
    review.review,
    user.user,
    evidence.evidence,
    audit.audit,
    bench.bench,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
