// The sandbox's layout, in one place for the runtime, the file tools, the
// policy and the gateway: the workspace mount (/workspace) and who the agent
// is inside every sandbox.
//
// The agent: one uid/gid, kept in
// sandbox/agent-user.json so the image recipe (scripts/sandbox-image.sh,
// sandbox/setup-rootfs.sh) and the app read the same numbers. A dedicated
// high uid that no host account uses (uid 1000 is a real person on many
// hosts): files the agent leaves in a workspace belong to nobody on the host.
// Outside the usual account ranges (up to 60000), the default subordinate-id
// ranges of /etc/subuid (100000 to 600100000) and systemd-nspawn's container
// ranges (524288 to 1879048191); below 2^31, which some tools treat as signed.
import agentUser from "@/sandbox/agent-user.json";

export const AGENT_UID: number = agentUser.uid;
export const AGENT_GID: number = agentUser.gid;
export const AGENT_NAME: string = agentUser.name;
export const AGENT_HOME: string = agentUser.home;
/** Docker's `User` for the container and every exec. */
export const AGENT_USER = `${AGENT_UID}:${AGENT_GID}`;

/** Where the run's workspace is mounted in every sandbox; every tool path is confined under it. */
export const WORKSPACE_PATH = "/workspace";
