#!/usr/bin/env bash
# Builds the Next.js app only when its inputs changed since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

inputs_hash() {
  local inputs=() p
  # sandbox/agent-user.json: the agent uid is compiled into the app (and read by the image recipe).
  for p in app components lib server db public sandbox/agent-user.json next.config.js postcss.config.mjs tsconfig.json package-lock.json instrumentation.ts proxy.ts; do
    [ -e "$p" ] && inputs+=("$p")
  done
  find "${inputs[@]}" -type f ! -name '*.test.ts' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}
want="$(inputs_hash)"
stamp=.next/.airlock-build-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f .next/BUILD_ID ]; then
  airlock_log "dashboard build is up to date"
  exit 0
fi
airlock_log "building the dashboard (next build)"
start=$(date +%s)
NEXT_TELEMETRY_DISABLED=1 node_modules/.bin/next build >&2 || airlock_die "next build failed; see the errors above"
echo "$want" >"$stamp"
airlock_log "built in $(( $(date +%s) - start ))s"
