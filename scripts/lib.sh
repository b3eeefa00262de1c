# shellcheck shell=bash
# Shared helpers for Airlock's shell scripts. Source it; do not run it.
# All scripts/*.sh use these names: extend, do not rename.
#
# Kept deliberately tiny: sandbox-image.sh hashes itself (not this file) to
# name the image, so anything that changes what ends up in the image belongs
# in sandbox-image.sh or sandbox/, not here.

# Log lines go to stderr so that stdout stays machine-readable
# (`sandbox-image.sh --print-name` is parsed by the app).
airlock_log() { printf '[airlock] %s\n' "$*" >&2; }
airlock_die() { printf '[airlock] ERROR: %s\n' "$*" >&2; exit 1; }

# Resolve the data dir the same way the Node app does
# (path.resolve(process.env.AIRLOCK_DATA_DIR ?? "./data")): relative to the
# current directory, absolute afterwards, so that logs/caches land in one place
# whichever script or process asks.
airlock_data_dir() {
  local d="${AIRLOCK_DATA_DIR:-./data}"
  mkdir -p -- "$d" || airlock_die "cannot create data dir $d"
  (cd -- "$d" && pwd -P)
}

# Serialise concurrent callers (npm start and npm test may both run the setup
# scripts at once). The lock is released when the calling shell exits.
# $1 = lock file, $2 = fd number to hold it on.
airlock_lock() {
  local file="$1" fd="$2"
  eval "exec ${fd}>\"\$file\""
  if ! flock -w 900 "$fd"; then
    airlock_die "timed out waiting for lock $file (another setup still running?)"
  fi
}

# Free space in MB on the filesystem holding $1.
airlock_free_mb() { df -Pk -- "$1" | awk 'NR==2 { print int($4 / 1024) }'; }

# Images and the sandbox rootfs need room; failing early is clearer than a
# half-written layer or a dpkg error later. $1 = dir, $2 = what it is for.
AIRLOCK_MIN_FREE_MB=2048
airlock_check_space() {
  local dir="$1" what="$2" free
  free="$(airlock_free_mb "$dir")"
  if [ "$free" -lt "$AIRLOCK_MIN_FREE_MB" ]; then
    airlock_die "only ${free} MB free on the filesystem of $dir ($what); Airlock needs at least ${AIRLOCK_MIN_FREE_MB} MB. Free some space or point AIRLOCK_DATA_DIR elsewhere."
  fi
}

# `docker info` with a timeout: a DOCKER_HOST pointing at a dead TCP host
# would otherwise hang for a long time.
airlock_docker_ok() { timeout 15 docker info >/dev/null 2>&1; }

# Install Debian packages unattended. Only runs `apt-get update` when the
# first attempt fails, because the lists are usually present and an update
# costs time (and network) on every clean CI run.
airlock_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  if ! apt-get install "${opts[@]}" "$@" >&2; then
    airlock_log "apt-get install failed; refreshing package lists and retrying"
    apt-get update -q >&2 || airlock_die "apt-get update failed (is http://deb.debian.org reachable?)"
    apt-get install "${opts[@]}" "$@" >&2 || airlock_die "apt-get install $* failed"
  fi
}
