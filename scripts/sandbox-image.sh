#!/usr/bin/env bash
# Build (or find) the Docker image agents run in.
#
#   scripts/sandbox-image.sh --print-name   print the image reference to use
#   scripts/sandbox-image.sh                make sure that image exists
#
# Environment:
#   AIRLOCK_SANDBOX_IMAGE   use this image instead of building one (it must
#                           exist locally or be pullable)
#   AIRLOCK_DATA_DIR        default ./data; holds the .deb cache and scratch
#   AIRLOCK_DEBIAN_MIRROR   default http://deb.debian.org/debian
#
# Why debootstrap + `docker import` and no Dockerfile: no registry is
# reachable, so there is no base image to start FROM. Debian's mirror is
# reachable, and a debootstrapped rootfs packed with tar is a complete image.
#
# The tag is a hash of the recipe (sandbox/* and this script), so editing the
# package list or the setup script yields a new tag that the app picks up via
# --print-name, and an unchanged recipe costs one `docker image inspect`.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd -- "$here/.." && pwd -P)"
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

REPO_NAME=airlock-sandbox
SUITE=bookworm
MIRROR="${AIRLOCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="http://deb.debian.org/debian-security"
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Hash over repo-relative paths + contents, so the tag does not depend on
# where the repository is checked out. NUL separators keep "a"+"bc" and
# "ab"+"c" apart.
recipe_hash() {
  (
    cd -- "$repo"
    { find sandbox -type f ! -name '*~' ! -name '.*.swp' -print; echo scripts/sandbox-image.sh; } \
      | LC_ALL=C sort \
      | while IFS= read -r f; do printf '%s\0' "$f"; cat -- "$f"; printf '\0'; done \
      | sha256sum | cut -c1-12
  )
}

image_name() {
  if [ -n "${AIRLOCK_SANDBOX_IMAGE:-}" ]; then
    printf '%s\n' "$AIRLOCK_SANDBOX_IMAGE"
  else
    printf '%s:%s\n' "$REPO_NAME" "$(recipe_hash)"
  fi
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

case "${1:-}" in
  --print-name) image_name; exit 0 ;;
  "") ;;
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) airlock_die "unknown argument: $1 (use --print-name or no argument)" ;;
esac

name="$(image_name)"
"$here/ensure-docker.sh"

# A user-supplied image is never built here: we do not know its recipe.
if [ -n "${AIRLOCK_SANDBOX_IMAGE:-}" ]; then
  if image_exists "$name"; then
    airlock_log "sandbox image $name present"
    exit 0
  fi
  airlock_log "sandbox image $name not found locally; trying docker pull"
  if timeout 600 docker pull "$name" >&2; then
    exit 0
  fi
  airlock_die "AIRLOCK_SANDBOX_IMAGE=$name is neither present locally nor pullable. Load it (docker load / docker pull) or unset AIRLOCK_SANDBOX_IMAGE to build the default image."
fi

# Point :latest at the current build too, for humans running `docker run
# airlock-sandbox`; the app must use the hashed name.
if image_exists "$name"; then
  docker tag "$name" "$REPO_NAME:latest" >/dev/null 2>&1 || true
  airlock_log "sandbox image up to date ($name)"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  airlock_die "sandbox image $name is missing and building it needs root (debootstrap, chroot). Run this script as root once, or set AIRLOCK_SANDBOX_IMAGE to an existing image."
fi

data_dir="$(airlock_data_dir)"
airlock_lock "$data_dir/.sandbox-image.lock" 8
# Someone else may have built it while we waited for the lock.
if image_exists "$name"; then
  airlock_log "sandbox image up to date ($name)"
  exit 0
fi

t_start=$SECONDS
airlock_log "building sandbox image $name (one-time, ~1 minute)"

if ! command -v debootstrap >/dev/null 2>&1; then
  airlock_apt_install debootstrap
fi

# Package list: strip comments/blank lines, join with commas.
packages="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$repo/sandbox/packages.txt" | grep -v '^$' | paste -sd, -)"
[ -n "$packages" ] || airlock_die "sandbox/packages.txt lists no packages"

# Scratch space lives in the data dir, not /tmp: the rootfs is ~300 MB and
# /tmp may be a small tmpfs. The .deb cache survives for faster rebuilds.
cache_dir="$data_dir/cache/debootstrap"
mkdir -p "$cache_dir" "$data_dir/tmp"
airlock_check_space "$data_dir" "AIRLOCK_DATA_DIR, for the sandbox rootfs"

# debootstrap mounts /proc and /sys inside the target and can leave them
# behind when it fails; never let rm walk into a host filesystem.
remove_tree() {
  local m
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system -- "$1"
}
# A build killed with SIGKILL leaves its scratch tree behind; we hold the
# lock, so no other build owns one.
for stale in "$data_dir"/tmp/sandbox-rootfs.*; do
  [ -d "$stale" ] && remove_tree "$stale"
done

work="$(mktemp -d "$data_dir/tmp/sandbox-rootfs.XXXXXX")"
rootfs="$work/rootfs"
trap 'remove_tree "$work"' EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
airlock_log "debootstrap $SUITE ($packages) from $MIRROR"
if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir" \
      "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  airlock_die "debootstrap failed (is $MIRROR reachable? is there free space in $data_dir?)"
fi
t_debootstrap=$((SECONDS - t0))

# debootstrap only knows the release itself; bookworm-security and
# bookworm-updates carry fixes for git, python and node. Best effort: an
# unreachable security mirror must not block starting Airlock.
t0=$SECONDS
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
if ! chroot "$rootfs" /usr/bin/env -i PATH="$IMAGE_PATH" DEBIAN_FRONTEND=noninteractive \
      sh -c 'apt-get update -q && apt-get -y -q --no-install-recommends -o Dpkg::Options::=--force-confold upgrade' \
      >"$work/upgrade.log" 2>&1; then
  tail -n 10 "$work/upgrade.log" >&2
  airlock_log "WARNING: could not apply Debian security updates to the sandbox image; continuing without them"
fi
t_upgrade=$((SECONDS - t0))

# The agent's uid/gid: one place (sandbox/agent-user.json), read by the app too.
agent_id() { sed -n "s/^ *\"$1\": *\([0-9][0-9]*\).*/\1/p" "$repo/sandbox/agent-user.json"; }
agent_uid="$(agent_id uid)"
agent_gid="$(agent_id gid)"
[ -n "$agent_uid" ] && [ -n "$agent_gid" ] || airlock_die "sandbox/agent-user.json must give a numeric uid and gid"
cp "$repo/sandbox/setup-rootfs.sh" "$rootfs/tmp/airlock-setup-rootfs.sh"
chroot "$rootfs" /usr/bin/env -i PATH="$IMAGE_PATH" AIRLOCK_AGENT_UID="$agent_uid" AIRLOCK_AGENT_GID="$agent_gid" /bin/sh /tmp/airlock-setup-rootfs.sh \
  || airlock_die "sandbox/setup-rootfs.sh failed inside the chroot"
rm -f "$rootfs/tmp/airlock-setup-rootfs.sh"

# Shrink: apt state and docs are useless in a sandbox without network or
# root (copyright files stay, for the licences). Docker supplies /dev.
(
  cd "$rootfs"
  rm -rf var/cache/apt/archives/*.deb var/cache/apt/archives/partial/* var/cache/apt/*.bin \
         var/lib/apt/lists/* var/cache/debconf/*-old var/lib/dpkg/*-old \
         usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian \
         debootstrap dev/* tmp/* var/tmp/*
  find usr/share/doc -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
  find usr/share/doc -mindepth 1 -type d -empty -delete
  find var/log -type f -delete
)
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
rootfs_mb="$(du -sm --one-file-system "$rootfs" | cut -f1)"

t0=$SECONDS
# --numeric-owner: the image's uids must be the rootfs's own, whatever
# names the build host maps them to. tini -g: signals to PID 1 go to the
# whole process group, so `docker stop` ends the run's process tree at once
# (a bare `sleep` as PID 1 would ignore SIGTERM and wait out the timeout).
tar -C "$rootfs" --numeric-owner -c . | docker import \
  -c "USER $agent_uid:$agent_gid" \
  -c 'WORKDIR /workspace' \
  -c "ENV HOME=/home/agent PATH=$IMAGE_PATH LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1" \
  -c 'ENTRYPOINT ["/usr/bin/tini", "-g", "--"]' \
  -c 'CMD ["sleep", "infinity"]' \
  -c "LABEL airlock.sandbox.recipe=${name##*:}" \
  -m "airlock sandbox: debootstrap $SUITE minbase + sandbox/packages.txt" \
  - "$name" >/dev/null || airlock_die "docker import failed"
t_import=$((SECONDS - t0))
docker tag "$name" "$REPO_NAME:latest"

# Old recipe builds are dead weight (~500 MB each). A tag still used by a
# container cannot be removed; leave those alone.
docker image ls "$REPO_NAME" --format '{{.Repository}}:{{.Tag}}' | while IFS= read -r old; do
  case "$old" in "$name"|"$REPO_NAME:latest"|*"<none>") continue ;; esac
  if docker rmi "$old" >/dev/null 2>&1; then airlock_log "removed old sandbox image $old"; fi
done

size="$(docker image inspect "$name" --format '{{.Size}}' | awk '{ printf "%d MB", $1 / 1000000 }')"
airlock_log "sandbox image $name ready: ${size} (rootfs ${rootfs_mb} MB)"
airlock_log "timings: debootstrap ${t_debootstrap}s, security updates ${t_upgrade}s, import ${t_import}s, total $((SECONDS - t_start))s"
