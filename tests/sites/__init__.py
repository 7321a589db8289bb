"""The sandbox web: local stand-in sites for tests, benchmarks and the demo."""
