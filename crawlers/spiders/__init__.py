"""Spiders: `pages` for ad-hoc URL lists; plan-driven spiders build on the same capture path."""
