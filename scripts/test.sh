#!/usr/bin/env bash
# `npm test`: every suite — type check, lint, unit, integration (real Docker,
# real SQLite), end-to-end (Debian's Chromium). Independent suites run in
# parallel; each one's output goes to test-results/logs/<suite>.log and the
# failing ones are printed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export NEXT_TELEMETRY_DISABLED=1

t0=$(date +%s)
bash scripts/setup.sh --no-db || airlock_die "setup failed (see above); under CI a missing Docker engine is a failure, not a skip"
bash scripts/ensure-chromium.sh || airlock_die "Chromium is required for the end-to-end suite"
airlock_log "setup done in $(( $(date +%s) - t0 ))s"

# Not under test-results/: Playwright empties that folder when it starts.
logs=test-logs
rm -rf "$logs"; mkdir -p "$logs"
declare -A pids

run_bg() { # name command...
  local name="$1"; shift
  (
    start=$(date +%s)
    "$@"
    rc=$?
    echo $(( $(date +%s) - start )) >"$logs/$name.seconds"
    exit $rc
  ) >"$logs/$name.log" 2>&1 &
  pids[$name]=$!
  airlock_log "started $name"
}

e2e() {
  bash scripts/build.sh || return 1
  bash scripts/e2e.sh
}

run_bg static bash -c 'node_modules/.bin/tsc --noEmit && echo "types ok" && node_modules/.bin/eslint --max-warnings=0 . && echo "lint ok"'
run_bg unit node_modules/.bin/vitest run --project unit
run_bg integration node_modules/.bin/vitest run --project integration
run_bg e2e e2e

failed=()
for name in static unit integration e2e; do
  if wait "${pids[$name]}"; then
    airlock_log "PASS $name ($(cat "$logs/$name.seconds" 2>/dev/null || echo ?)s)"
  else
    airlock_log "FAIL $name ($(cat "$logs/$name.seconds" 2>/dev/null || echo ?)s)"
    failed+=("$name")
  fi
done

for name in "${failed[@]}"; do
  printf '\n===== %s (last 150 lines of %s) =====\n' "$name" "$logs/$name.log"
  tail -n 150 "$logs/$name.log"
done
for name in static unit integration e2e; do
  # Short summaries so a green run still shows what ran.
  grep -hE "Tests +[0-9]|Test Files|passed|failed|flaky|skipped" "$logs/$name.log" | tail -n 4 | sed "s/^/[$name] /"
done
airlock_log "total $(( $(date +%s) - t0 ))s"
if [ ${#failed[@]} -gt 0 ]; then
  airlock_log "failed suites: ${failed[*]}"
  exit 1
fi
airlock_log "all suites passed"
