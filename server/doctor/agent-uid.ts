// `airlock doctor`'s check that the sandbox's agent uid/gid belong to nobody
// on this host: a file the agent leaves in a workspace (even a setuid one,
// before Airlock strips it) must not be some local account's file.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { AGENT_GID, AGENT_UID } from "@/server/sandbox/layout";

export interface HostIdFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

/** Who on this host uses the agent's ids: accounts and groups by number, and subordinate-id ranges (user namespaces) covering them. */
export function agentIdConflicts(files: HostIdFiles, uid = AGENT_UID, gid = AGENT_GID): string[] {
  const problems: string[] = [];
  const rows = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => l.split(":"));
  for (const [name, , id] of rows(files.passwd)) if (Number(id) === uid) problems.push(`host account "${name}" has uid ${uid}`);
  for (const [name, , id] of rows(files.group)) if (Number(id) === gid) problems.push(`host group "${name}" has gid ${gid}`);
  for (const [file, text, id] of [
    ["/etc/subuid", files.subuid, uid],
    ["/etc/subgid", files.subgid, gid],
  ] as const) {
    for (const [owner, start, count] of rows(text)) {
      const from = Number(start);
      const n = Number(count);
      if (Number.isFinite(from) && Number.isFinite(n) && id >= from && id < from + n)
        problems.push(`${file} gives ${owner} the range ${from}-${from + n - 1}, which holds ${id}`);
    }
  }
  return problems;
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Also asks NSS (LDAP, SSSD accounts are not in /etc/passwd). */
function nssName(db: "passwd" | "group", id: number): string | null {
  try {
    return execFileSync("getent", [db, String(id)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).split(":")[0] || null;
  } catch {
    return null; // exit 2: no such entry
  }
}

export function checkAgentIds(): { ok: boolean; detail: string; fix?: string } {
  const problems = agentIdConflicts({
    passwd: readOr("/etc/passwd"),
    group: readOr("/etc/group"),
    subuid: readOr("/etc/subuid"),
    subgid: readOr("/etc/subgid"),
  });
  const user = nssName("passwd", AGENT_UID);
  const group = nssName("group", AGENT_GID);
  if (user && !problems.some((p) => p.includes(`"${user}" has uid`))) problems.push(`host account "${user}" has uid ${AGENT_UID} (NSS)`);
  if (group && !problems.some((p) => p.includes(`"${group}" has gid`))) problems.push(`host group "${group}" has gid ${AGENT_GID} (NSS)`);
  if (problems.length === 0)
    return { ok: true, detail: `sandboxes run as uid/gid ${AGENT_UID}:${AGENT_GID}, which no host account, group or subordinate-id range uses` };
  return {
    ok: false,
    detail: `sandboxes run as uid/gid ${AGENT_UID}:${AGENT_GID}, but ${problems.join("; ")}`,
    fix: `Files the agent leaves in workspaces would belong to that account. Pick another uid/gid in sandbox/agent-user.json (then bash scripts/sandbox-image.sh rebuilds the image), or move the account.`,
  };
}
