#!/usr/bin/env bash
# Installs npm packages from the committed lock when node_modules is missing
# or was installed from a different lock (idempotent: a stamp records the lock's hash).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 20 ]; then
  airlock_die "Airlock needs Node.js 20 or newer (found $(node -v 2>/dev/null || echo none)). Install Node 20 and rerun."
fi

stamp=node_modules/.airlock-lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/next ]; then
  exit 0
fi
airlock_log "installing npm packages from package-lock.json (npm ci)"
npm ci --no-audit --no-fund --loglevel=error >&2 || airlock_die "npm ci failed; see the messages above (is the npm registry reachable?)"
echo "$want" >"$stamp"
