#!/usr/bin/env bash
# Create .venv when missing or stale, and (re)install the project into it when
# pyproject.toml changed. Fast when nothing changed.
# 创建/更新虚拟环境：缺失或失效时重建，pyproject.toml 变化时重新安装。
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.fangxin-installed

if ! "$VENV/bin/python" -c "import sys; assert sys.version_info >= (3, 11)" 2>/dev/null; then
    "$PYTHON" -c "import sys; assert sys.version_info >= (3, 11), 'Python 3.11 or newer is needed'" || {
        echo "error: $PYTHON is older than 3.11; set PYTHON=python3.11" >&2; exit 1; }
    echo "Creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    rm -f "$STAMP"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || ! "$VENV/bin/python" -c "import fangxin.cli" 2>/dev/null; then
    echo "Installing Fangxin Watch into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$STAMP"
fi
