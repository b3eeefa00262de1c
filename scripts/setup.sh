#!/usr/bin/env bash
# Everything Airlock needs before it can serve or be tested: npm packages,
# a Docker engine, the sandbox image, the database and the first admin.
# Each step is idempotent and quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

export AIRLOCK_DATA_DIR="$(airlock_data_dir)"

free="$(airlock_free_mb "$AIRLOCK_DATA_DIR")"
if [ "$free" -lt 1024 ]; then
  airlock_die "only ${free} MB free on the disk of $AIRLOCK_DATA_DIR; Airlock needs at least 1 GB (2 GB to build the sandbox image). Free space or set AIRLOCK_DATA_DIR to a larger disk."
fi

bash scripts/install-deps.sh
bash scripts/ensure-docker.sh
bash scripts/ensure-gvisor.sh
bash scripts/sandbox-image.sh
if [ "${1:-}" != "--no-db" ]; then
  ./bin/airlock setup
fi
