#!/bin/sh
# Runs INSIDE the freshly debootstrapped rootfs (via chroot, as root) before
# it is packed into the image. Plain sh: it must not depend on anything the
# package list might drop. Nothing here may need the network or /proc.
set -eu

# uid/gid 1000 is a contract: the host chowns each run's workspace to 1000
# so the agent (which runs as --user 1000:1000) can write its bind mount.
if ! getent group agent >/dev/null; then
  groupadd --gid 1000 agent
fi
if ! getent passwd agent >/dev/null; then
  useradd --uid 1000 --gid 1000 --home-dir /home/agent --create-home \
    --shell /bin/bash --comment "Airlock agent" agent
fi
# No password login, no sudo: the account exists only to own files.
passwd -l agent >/dev/null

mkdir -p /workspace
chown 1000:1000 /workspace
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
