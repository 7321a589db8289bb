"""Fangxin Watch rule engine: YAML rule packs compiled into one matcher.

    import rules
    engine = rules.load_engine()                    # every pack under rules/packs/
    hits = engine.check({"title": "...", "body": "..."})
    hits[0].to_dict()

No I/O beyond reading packs; imports nothing else of the project.
"""

from rules.engine import Engine, EngineHolder, load_engine, reload
from rules.errors import PackError
from rules.model import CATEGORIES, FIELDS, Hit, Hits, Pack, Rule
from rules.normalize import normalize

__all__ = [
    "CATEGORIES",
    "FIELDS",
    "Engine",
    "EngineHolder",
    "Hit",
    "Hits",
    "Pack",
    "PackError",
    "Rule",
    "load_engine",
    "normalize",
    "reload",
]
