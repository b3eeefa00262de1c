#!/bin/sh
# Runs INSIDE the freshly debootstrapped rootfs (via chroot, as root) before
# it is packed into the image. Plain sh: it must not depend on anything the
# package list might drop. Nothing here may need the network or /proc.
set -eu

# The agent's uid/gid come from sandbox/agent-user.json (passed in by
# scripts/sandbox-image.sh as AIRLOCK_AGENT_UID/GID): the host chowns each
# run's workspace to them so the agent (--user UID:GID) can write its bind
# mount. A dedicated high uid that no host account uses (see README).
: "${AIRLOCK_AGENT_UID:?AIRLOCK_AGENT_UID is not set}" "${AIRLOCK_AGENT_GID:?AIRLOCK_AGENT_GID is not set}"
if ! getent group agent >/dev/null; then
  groupadd --gid "$AIRLOCK_AGENT_GID" agent
fi
if ! getent passwd agent >/dev/null; then
  # --no-log-init: lastlog/faillog are indexed by uid; a high uid would make
  # them huge (sparse) files that tar packs as gigabytes of zeros.
  useradd --uid "$AIRLOCK_AGENT_UID" --gid "$AIRLOCK_AGENT_GID" --no-log-init \
    --home-dir /home/agent --create-home \
    --shell /bin/bash --comment "Airlock agent" agent
fi
# No password login, no sudo: the account exists only to own files.
passwd -l agent >/dev/null

mkdir -p /workspace
chown "$AIRLOCK_AGENT_UID:$AIRLOCK_AGENT_GID" /workspace
chmod 0755 /workspace

# System-wide git settings, because $HOME is read-only in a hardened run
# (--read-only) and ~/.gitconfig cannot be written there.
#  - safe.directory: the bind-mounted workspace may be owned by another uid
#    when the host could not chown it; git would otherwise refuse to work.
#  - identity: checkpoints commit inside the container.
cat >/etc/gitconfig <<'GIT'
[safe]
	directory = *
[init]
	defaultBranch = main
[user]
	name = Airlock Agent
	email = agent@airlock.invalid
[advice]
	detachedHead = false
GIT

# Login shells (bash -l) reset PATH from /etc/profile; keep it identical to
# the image's ENV so `bash -lc` and `docker exec` see the same tools.
cat >/etc/profile.d/airlock.sh <<'PROFILE'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
export PYTHONDONTWRITEBYTECODE=1
PROFILE

# Docker supplies these at run time; stale host copies would only mislead.
rm -f /etc/hostname /etc/resolv.conf
: >/etc/machine-id
