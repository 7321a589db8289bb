#!/usr/bin/env bash
# Install the Debian packages Fangxin Watch needs, only when they are missing.
# 安装系统依赖（仅在缺失时）：Chromium、chromium-headless-shell、中文字体、Redis、OpenSSL、ffmpeg。
set -euo pipefail

need=()
[ -x /usr/lib/chromium/chromium ] || need+=(chromium)
[ -x /usr/lib/chromium/chromium-headless-shell ] || need+=(chromium-headless-shell)
[ -n "$(fc-list :lang=zh family 2>/dev/null)" ] || need+=(fonts-noto-cjk)  # any CJK font will do
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages: ${need[*]}. Run as root:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
fi

echo "Installing system packages: ${need[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
