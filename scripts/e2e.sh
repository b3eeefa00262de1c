#!/usr/bin/env bash
# Starts the built dashboard on a free port with a fresh data directory and
# runs the Playwright suite (desktop and phone) against it in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

data="$(mktemp -d /tmp/airlock-e2e-XXXXXX)"
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export AIRLOCK_DATA_DIR="$data" PORT="$port" NEXTAUTH_URL="http://127.0.0.1:$port"
export AIRLOCK_ADMIN_EMAIL="admin@e2e.test" AIRLOCK_ADMIN_PASSWORD="e2e-admin-password"
# Parallel specs leave runs waiting on reviewers; room for them all (the queue's own spec uses a project limit).
export AIRLOCK_MAX_CONCURRENT_RUNS="${AIRLOCK_MAX_CONCURRENT_RUNS:-50}"
# The tests' webhook and push receivers listen on loopback.
export AIRLOCK_NOTIFY_ALLOW_HOSTS="${AIRLOCK_NOTIFY_ALLOW_HOSTS:-127.0.0.1}"
./bin/airlock setup >/dev/null

NEXT_MANUAL_SIG_HANDLE=true node_modules/.bin/next start -p "$port" >"$data/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }
trap cleanup EXIT

for _ in $(seq 1 60); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/api/health"; then break; fi
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; airlock_die "the dashboard exited before answering"; }
  sleep 1
done

export E2E_BASE_URL="http://127.0.0.1:$port" E2E_ADMIN_EMAIL="$AIRLOCK_ADMIN_EMAIL" E2E_ADMIN_PASSWORD="$AIRLOCK_ADMIN_PASSWORD"
status=0
node_modules/.bin/playwright test "$@" || status=$?
if [ $status -ne 0 ]; then
  echo "----- dashboard log ($data/server.log) -----"
  tail -n 80 "$data/server.log"
fi
exit $status
