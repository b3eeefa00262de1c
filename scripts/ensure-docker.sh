#!/usr/bin/env bash
# Make sure a Docker engine answers, installing and starting one if we can.
#
#   scripts/ensure-docker.sh        exit 0 once `docker info` answers
#
# Environment: DOCKER_HOST (honoured), AIRLOCK_DATA_DIR (default ./data,
# resolved against the current directory; dockerd.log goes there).
#
# What dockerd needs on the reference machine (Debian 12 VM, kernel 6.x,
# found by experiment, 2025):
#   - Nothing is installed but the docker CLI (28.x in /usr/local/bin). Debian's
#     docker.io (20.10, API 1.41) installs in ~10 s; the newer CLI negotiates
#     down to API 1.41 by itself, so do not pin a newer API version in clients.
#   - There is no systemd and a policy-rc.d forbids starting services, so the
#     package never starts the daemon: we run `dockerd` ourselves, detached.
#   - Storage: /var/lib/docker is on ext4 and the kernel has overlayfs built in
#     (no /lib/modules, nothing to modprobe), so overlay2 works. If overlay2
#     ever fails (e.g. /var/lib/docker on overlayfs itself) we retry with vfs:
#     slow and disk-hungry, but it runs.
#   - Cgroups: hybrid v1 (+ an empty v2 at /sys/fs/cgroup/unified), already
#     mounted; dockerd picks the cgroupfs driver, memory/pids/cpu limits work.
#     The kernel has no blkio weight (harmless warnings in the log).
#   - iptables: Debian's default iptables-nft works with this kernel (the
#     legacy x_tables work too). Docker needs one of them for NAT and for the
#     isolation of --internal networks, so we never run with --iptables=false;
#     if the nft backend fails we switch the alternatives to iptables-legacy.
#   - The daemon is up ~2 s after launch.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

WAIT_S=60

if airlock_docker_ok; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  airlock_die "no Docker engine answers and you are not root: start Docker or run as root so Airlock can install docker.io"
fi

data_dir="$(airlock_data_dir)"
log_file="$data_dir/dockerd.log"

# Only one caller may install/start the daemon; the others wait here and then
# find it answering.
airlock_lock "$data_dir/.ensure-docker.lock" 9
if airlock_docker_ok; then
  exit 0
fi

# A DOCKER_HOST we cannot start ourselves (tcp://, ssh://) is a user choice we
# must not silently override with a local daemon.
dockerd_args=()
sock=/var/run/docker.sock
if [ -n "${DOCKER_HOST:-}" ]; then
  case "$DOCKER_HOST" in
    unix://*)
      sock="${DOCKER_HOST#unix://}"
      dockerd_args+=(-H "$DOCKER_HOST")
      ;;
    *)
      airlock_die "DOCKER_HOST=$DOCKER_HOST does not answer; it is not a local socket, so start that engine yourself (or unset DOCKER_HOST to use a local one)"
      ;;
  esac
fi

airlock_check_space "$data_dir" "AIRLOCK_DATA_DIR"
# /var/lib/docker may not exist yet; check the nearest existing parent.
docker_root=/var/lib/docker
while [ ! -d "$docker_root" ]; do docker_root="$(dirname -- "$docker_root")"; done
airlock_check_space "$docker_root" "Docker's data root /var/lib/docker"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  airlock_log "installing docker.io with apt-get (one-time)"
  # iptables is only a Recommends of docker.io, but dockerd refuses to start
  # its bridge driver without it.
  airlock_apt_install docker.io iptables
fi

# On a systemd machine the package (or the admin) manages the daemon: use it
# rather than running a second, unmanaged dockerd.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && [ -z "${DOCKER_HOST:-}" ]; then
  systemctl start docker >/dev/null 2>&1 || true
  for _ in $(seq 1 "$WAIT_S"); do
    if airlock_docker_ok; then airlock_log "Docker engine started via systemd"; exit 0; fi
    sleep 1
  done
  airlock_log "systemctl start docker did not bring up the engine; starting dockerd directly"
fi

# dockerd cannot start without cgroups. Containers without /sys/fs/cgroup
# mounted exist; mounting a v2 hierarchy there is what cgroupfs-mount would
# do for v1, and is enough for dockerd.
if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/memory ]; then
  airlock_log "no cgroup hierarchy mounted; mounting cgroup2 on /sys/fs/cgroup"
  mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null || airlock_log "WARNING: could not mount cgroups; dockerd will probably fail"
fi

# A dockerd that is already starting (or hung) holds /var/run/docker.pid; a
# second one would fail with "pid file found". Wait for the first instead.
# After a reboot or a SIGKILL the pid file is stale: it may name nothing, an
# unrelated process, or a dockerd zombie (PID 1 in some sandboxes reaps late).
is_alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo X)"
  [ "$state" != Z ] && [ "$state" != X ]
}
is_live_dockerd() {
  [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null || true)" = dockerd ] && is_alive "$1"
}
pidfile=/var/run/docker.pid
existing_pid=""
if [ -f "$pidfile" ]; then
  p="$(cat "$pidfile" 2>/dev/null || true)"
  if is_live_dockerd "$p"; then
    existing_pid="$p"
  else
    rm -f "$pidfile"
  fi
fi

# Same for the containerd that dockerd spawns: dockerd trusts this pid file
# and, if it names a zombie, waits for that containerd until it times out
# ("timeout waiting for containerd to start"; seen here after a SIGKILL).
ctr_pidfile=/var/run/docker/containerd/containerd.pid
if [ -f "$ctr_pidfile" ] && [ -z "$existing_pid" ]; then
  p="$(cat "$ctr_pidfile" 2>/dev/null || true)"
  if [ -z "$p" ] || ! is_alive "$p"; then rm -f "$ctr_pidfile"; fi
fi

# Returns 0 once the engine answers, 1 if the process died or we gave up.
wait_for_engine() {
  local pid="$1"
  for _ in $(seq 1 "$WAIT_S"); do
    if airlock_docker_ok; then return 0; fi
    # Not a comm check: right after the fork our pid is still setsid/nohup.
    if ! is_alive "$pid"; then return 1; fi
    sleep 1
  done
  airlock_docker_ok
}

start_dockerd() {
  # setsid + nohup + all three fds redirected: the daemon gets its own session
  # and holds none of our pipes, so it survives this script, `npm start`
  # exiting, and CI steps that wait for their output pipes to close.
  # Closing fd 9 matters: an inherited copy would keep our setup lock held
  # for the daemon's whole life.
  setsid nohup dockerd ${dockerd_args[@]+"${dockerd_args[@]}"} "$@" >>"$log_file" 2>&1 </dev/null 9>&- &
  dockerd_pid=$!
  airlock_log "started dockerd (pid $dockerd_pid), waiting up to ${WAIT_S}s; log: $log_file"
}

fail_with_log() {
  airlock_log "Docker engine did not come up. Last lines of $log_file:"
  tail -n 25 "$log_file" >&2 || true
  airlock_die "$1"
}

if [ -n "$existing_pid" ]; then
  airlock_log "dockerd (pid $existing_pid) is already running but not answering yet; waiting"
  if wait_for_engine "$existing_pid"; then exit 0; fi
  if is_live_dockerd "$existing_pid"; then
    airlock_die "dockerd (pid $existing_pid) runs but does not answer on $sock after ${WAIT_S}s; stop it (kill $existing_pid) and rerun, or look at its log"
  fi
  airlock_log "that dockerd exited; starting a new one"
  rm -f "$pidfile"
fi

# Keep the previous run's log for diagnosis, start the new one fresh so that
# "last lines" are this attempt's.
[ -f "$log_file" ] && mv -f "$log_file" "$log_file.1"
: >"$log_file"

start_dockerd
if wait_for_engine "$dockerd_pid"; then
  airlock_log "Docker engine is up (log: $log_file)"
  exit 0
fi

# One retry, with the fix the log points to if it points to one; otherwise
# a plain retry, since leftovers of a killed daemon (zombies, sockets) are
# often gone a few seconds later. Only error lines count: info lines mention
# overlay2 and iptables on every healthy start too.
kill "$dockerd_pid" 2>/dev/null || true
for _ in 1 2 3 4 5 6 7 8 9 10; do is_alive "$dockerd_pid" || break; sleep 1; done
is_alive "$dockerd_pid" && kill -9 "$dockerd_pid" 2>/dev/null
sleep 1
errors="$(grep -iE 'level=(error|fatal)|failed to start daemon' "$log_file" || true)"
retry_args=()
if grep -qiE 'iptables|nf_tables|nat chain' <<<"$errors" \
   && command -v iptables-legacy >/dev/null 2>&1 \
   && ! readlink -f "$(command -v iptables)" | grep -q legacy; then
  airlock_log "dockerd failed on iptables (nft backend); switching to iptables-legacy and retrying"
  update-alternatives --set iptables /usr/sbin/iptables-legacy >&2
  update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >&2 || true
elif grep -qiE 'overlay|graphdriver|storage.driver' <<<"$errors"; then
  airlock_log "dockerd failed on the overlay2 storage driver; retrying with vfs (works everywhere, uses more disk)"
  retry_args+=(--storage-driver=vfs)
else
  airlock_log "dockerd failed to start (last error: $(tail -n 1 "$log_file")); retrying once"
fi
is_live_dockerd "$(cat "$pidfile" 2>/dev/null || true)" || rm -f "$pidfile"
if [ -f "$ctr_pidfile" ]; then
  p="$(cat "$ctr_pidfile" 2>/dev/null || true)"
  if [ -z "$p" ] || ! is_alive "$p"; then rm -f "$ctr_pidfile"; fi
fi

mv -f "$log_file" "$log_file.failed"
: >"$log_file"
start_dockerd ${retry_args[@]+"${retry_args[@]}"}
if wait_for_engine "$dockerd_pid"; then
  airlock_log "Docker engine is up after retry (log: $log_file, first attempt: $log_file.failed)"
  exit 0
fi
fail_with_log "dockerd failed twice (first attempt's log: $log_file.failed). Hints: check cgroups (/sys/fs/cgroup), 'iptables -L', free space on /var/lib/docker, and that no other dockerd/containerd is running."
