#!/usr/bin/env bash
# `npm start`: install what is missing, build the dashboard when its sources
# changed, and serve it on $PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

PORT="${PORT:-3000}"
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
  airlock_die "PORT must be a number from 1 to 65535, got \"$PORT\""
fi
export PORT
export NEXT_TELEMETRY_DISABLED=1
# next-auth builds its own links from this; behind a proxy set it to the public URL.
export NEXTAUTH_URL="${NEXTAUTH_URL:-http://localhost:$PORT}"
export AIRLOCK_DATA_DIR="$(airlock_data_dir)"

bash scripts/setup.sh

# Refuse early, with the fix, rather than after a long build.
if ! node -e '
  const s = require("net").createServer();
  s.once("error", (e) => { process.exit(e.code === "EADDRINUSE" ? 3 : 4); });
  s.listen(Number(process.env.PORT), () => s.close(() => process.exit(0)));
'; then
  airlock_die "port $PORT is already in use. Stop the program using it (see: ss -ltnp 'sport = :$PORT') or start Airlock on another port: PORT=3001 npm start"
fi

bash scripts/build.sh

airlock_log "serving the dashboard on http://localhost:$PORT (data: $AIRLOCK_DATA_DIR)"
export NEXT_MANUAL_SIG_HANDLE=true
exec node_modules/.bin/next start -p "$PORT"
