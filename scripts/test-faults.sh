#!/usr/bin/env bash
# `npm run test:faults`: the whole fault suite (test/faults/): every kill
# point and every round. `npm test` runs a shortened form of the same files.
# Extra arguments go to vitest (for example a file name to run one file).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export NEXT_TELEMETRY_DISABLED=1
bash scripts/setup.sh --no-db || airlock_die "setup failed (see above)"
# The suite kills and restarts the built dashboard, so it needs a current build.
bash scripts/build.sh
AIRLOCK_FAULTS=full exec node_modules/.bin/vitest run --project faults "$@"
