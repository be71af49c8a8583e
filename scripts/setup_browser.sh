#!/usr/bin/env bash
# Debian's chromium for the ui test tier (playwright drives it; no browser download).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "[setup] chromium missing and no root to install it: ui tests will be skipped" >&2
  exit 0
fi
sudo_=""; [ "$(id -u)" != 0 ] && sudo_=sudo
echo "[setup] installing Debian chromium (first run only)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo_ apt-get update -qq >/dev/null
$sudo_ apt-get install -y -qq --no-install-recommends chromium >/dev/null
