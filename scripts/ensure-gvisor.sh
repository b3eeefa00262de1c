#!/usr/bin/env bash
# gVisor as an isolation tier (issue 13): installs Debian's runsc and
# registers it with the local Docker engine as the runtime "runsc".
# Idempotent: does nothing when runsc is installed and registered. The engine
# picks up a new daemon.json with SIGHUP (running containers untouched), never
# a restart.
#
# Not fatal unless AIRLOCK_RUNTIME=runsc: with AIRLOCK_RUNTIME=auto (the
# default) Airlock uses runc where gVisor does not work; AIRLOCK_RUNTIME=runc
# skips gVisor altogether.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

setting="$(printf '%s' "${AIRLOCK_RUNTIME:-auto}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')"
[ -n "$setting" ] || setting=auto
case "$setting" in
  runc)
    airlock_log "AIRLOCK_RUNTIME=runc: not installing gVisor"
    exit 0
    ;;
  auto | runsc) ;;
  *) airlock_die "AIRLOCK_RUNTIME must be auto, runc or runsc, got \"${AIRLOCK_RUNTIME:-}\"" ;;
esac

# Missing gVisor is fatal only when it is required.
give_up() {
  if [ "$setting" = runsc ]; then airlock_die "$1 (AIRLOCK_RUNTIME=runsc requires gVisor)"; fi
  airlock_log "WARNING: $1; sandboxes will run under runc (set AIRLOCK_RUNTIME=runc to silence this)"
  exit 0
}

RUNSC=/usr/bin/runsc
if [ ! -x "$RUNSC" ]; then
  [ "$(id -u)" = 0 ] || give_up "gVisor (runsc) is not installed and installing it needs root: apt-get install runsc"
  airlock_log "installing gVisor (Debian package runsc) with apt-get (one-time)"
  airlock_apt_install runsc || give_up "apt-get install runsc failed"
fi

# Only a local engine reads this machine's daemon.json.
case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
  unix://*) ;;
  *)
    airlock_log "DOCKER_HOST=$DOCKER_HOST is not a local engine: register runsc in that engine's daemon.json yourself"
    exit 0
    ;;
esac

daemon_json=/etc/docker/daemon.json
# The runtime as Airlock registers it (see scripts/gvisor-daemon-json.mjs for
# why its network mode is "host": the container's own namespace, not the host's).
if ! out="$(node scripts/gvisor-daemon-json.mjs "$daemon_json" "$RUNSC" 2>&1)"; then
  give_up "could not register runsc in $daemon_json: $out"
fi
if [ "$out" = unchanged ]; then
  if timeout 15 docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
    airlock_log "gVisor (runsc) is installed and registered with the Docker engine"
    exit 0
  fi
fi
pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  give_up "wrote $daemon_json but found no running dockerd to reload (pid file /var/run/docker.pid)"
fi
kill -HUP "$pid"
for _ in $(seq 1 30); do
  if timeout 15 docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
    airlock_log "registered gVisor (runsc) with the Docker engine (reloaded with SIGHUP; running containers untouched)"
    exit 0
  fi
  sleep 1
done
give_up "the Docker engine did not list runsc after reloading $daemon_json"
