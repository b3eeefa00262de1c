#!/usr/bin/env bash
# Debian's Chromium for the end-to-end tests (browser downloads do not work here).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  airlock_die "Chromium is missing ($CHROMIUM) and you are not root: apt-get install chromium, or set CHROMIUM_PATH"
fi
airlock_lock "$(airlock_data_dir)/.ensure-chromium.lock" 8
[ -x "$CHROMIUM" ] && exit 0
airlock_log "installing Debian's chromium for end-to-end tests (one-time)"
airlock_apt_install chromium fonts-liberation
"$CHROMIUM" --version >&2 || airlock_die "chromium installed but does not run"
