#!/usr/bin/env bash
# `npm test`: every suite — type check, lint, unit, integration (real Docker,
# real SQLite), end-to-end (Debian's Chromium). Independent suites run in
# parallel; each one's output goes to test-results/logs/<suite>.log and the
# failing ones are printed at the end.
#
# --overlap-e2e starts the end-to-end suite together with integration instead
# of after it (it pays if both mostly wait on Docker). Not the default until a CI run on
# the 2-core machine shows it is faster and green: compare the "machine CPU
# busy" figures each suite's line prints (a suite that keeps the CPU busy
# gains nothing from company, and its timeouts lose their meaning).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export NEXT_TELEMETRY_DISABLED=1

overlap_e2e=0
for arg in "$@"; do
  case "$arg" in
    --overlap-e2e) overlap_e2e=1 ;;
    *) airlock_die "unknown option $arg (the only option is --overlap-e2e)" ;;
  esac
done

t0=$(date +%s)
bash scripts/setup.sh --no-db || airlock_die "setup failed (see above); under CI a missing Docker engine is a failure, not a skip"
bash scripts/ensure-chromium.sh || airlock_die "Chromium is required for the end-to-end suite"
airlock_log "setup done in $(( $(date +%s) - t0 ))s"

# Not under test-results/: Playwright empties that folder when it starts.
logs=test-logs
rm -rf "$logs"; mkdir -p "$logs"
declare -A pids

# "busy total" jiffies of every core since boot (/proc/stat): how busy the
# machine was while a suite ran tells whether another suite could overlap it.
cpu_sample() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

run_bg() { # name command...
  local name="$1"; shift
  (
    start=$(date +%s)
    read -r busy0 total0 < <(cpu_sample)
    "$@"
    rc=$?
    read -r busy1 total1 < <(cpu_sample)
    echo "$(( $(date +%s) - start ))s, machine CPU $(( 100 * (busy1 - busy0) / (total1 - total0 + 1) ))% busy" >"$logs/$name.seconds"
    exit $rc
  ) >"$logs/$name.log" 2>&1 &
  pids[$name]=$!
  airlock_log "started $name"
}

wait_for() { # names... ; records failures
  local name
  for name in "$@"; do
    if wait "${pids[$name]}"; then
      airlock_log "PASS $name ($(cat "$logs/$name.seconds" 2>/dev/null || echo ?))"
    else
      airlock_log "FAIL $name ($(cat "$logs/$name.seconds" 2>/dev/null || echo ?))"
      failed+=("$name")
    fi
  done
}

failed=()
# Phase 1: CPU-bound work with no timing-sensitive tests, in parallel.
run_bg static bash -c 'node_modules/.bin/tsc --noEmit && echo "types ok" && node_modules/.bin/eslint --max-warnings=0 . && echo "lint ok" && node_modules/.bin/prettier --check "**/*.{ts,tsx,js,mjs,cjs,css}" >/dev/null && echo "format ok"'
run_bg unit node_modules/.bin/vitest run --project unit
run_bg build bash scripts/build.sh
wait_for static build
# Phase 2: the suites that drive real containers and a real browser, never
# together with the build or each other: on a 2-core machine that starves the
# containers and makes timeouts meaningless. Integration starts once the type
# check and the build are done: the unit suite's tail then uses one core
# (vitest gives it one worker on 2 cores). Integration gets two workers: its
# files mostly wait on Docker, and each has its own data directory and
# Airlock instance (measured: 7 of the heaviest files, 487 s with one worker,
# 294 s with two, every test green, on a loaded machine). One vitest process
# for both projects (they share its worker pool): the sandbox-level suites run
# a second time under the other runtime (vitest.config.ts).
run_bg integration node_modules/.bin/vitest run --project integration --project integration-runsc --project faults --maxWorkers=2
start_e2e() {
  if [[ " ${failed[*]} " == *" build "* ]]; then
    airlock_log "skipping e2e: the build failed"
    failed+=(e2e)
  else
    run_bg e2e bash scripts/e2e.sh
  fi
}
if [ "$overlap_e2e" = 1 ]; then
  start_e2e
  wait_for unit integration
else
  wait_for unit integration
  start_e2e
fi
[ -n "${pids[e2e]:-}" ] && wait_for e2e

for name in "${failed[@]}"; do
  printf '\n===== %s (last 150 lines of %s) =====\n' "$name" "$logs/$name.log"
  tail -n 150 "$logs/$name.log"
done
for name in static unit build integration e2e; do
  [ -f "$logs/$name.log" ] || continue
  # Short summaries so a green run still shows what ran.
  grep -hE "Tests +[0-9]|Test Files|passed|failed|flaky|skipped" "$logs/$name.log" | tail -n 4 | sed "s/^/[$name] /"
done
airlock_log "total $(( $(date +%s) - t0 ))s"
if [ ${#failed[@]} -gt 0 ]; then
  airlock_log "failed suites: ${failed[*]}"
  exit 1
fi
airlock_log "all suites passed"
