# Fangxin Watch — the two commands: `make demo` and `make test`.
# Both create .venv when missing or stale, install the project (editable) and,
# when missing, Debian's Chromium, CJK fonts, Redis and OpenSSL; then run.

BIN := .venv/bin

.PHONY: demo test lint setup venv system bench clean

demo: setup
	$(BIN)/fangxin demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check .

bench: setup
	$(BIN)/fangxin bench rules
	$(BIN)/fangxin bench crawl

setup: venv system

venv:
	@bash scripts/setup-venv.sh

system:
	@bash scripts/setup-system.sh

clean:
	rm -rf .venv data/demo build *.egg-info
