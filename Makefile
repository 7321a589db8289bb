# Fangxin Watch — the two commands: `make demo` and `make test`.
# Both create .venv when missing or stale, install the project (editable) and
# Debian's Chromium, CJK fonts and Redis when missing, then run.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fangxin-installed
SYSTEM_STAMP := $(VENV)/.fangxin-system

.PHONY: demo test lint venv system clean bench

demo: venv system
	$(BIN)/fangxin demo

test: venv system
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check .

bench: venv system
	$(BIN)/fangxin bench rules

venv: $(STAMP)

# Recreate the venv when its interpreter is gone or broken (stale), reinstall
# when pyproject.toml changed.
$(STAMP): pyproject.toml
	@if ! $(BIN)/python -c "import sys; assert sys.version_info >= (3, 11)" 2>/dev/null; then \
		echo "Creating $(VENV)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

system:
	@bash scripts/setup-system.sh

clean:
	rm -rf $(VENV) data/demo build *.egg-info
