"""Fangxin Watch (放心消费监测): the `fangxin` command line and shared paths.

The package wires the layers of DESIGN.md together (crawlers, rules, pipelines,
review_ui); it holds no domain logic of its own.
"""

__version__ = "0.1.0"
