// Host firewall for the egress network. An --internal Docker network has no
// route out, but its containers can still reach every host service listening
// on the bridge's address or on 0.0.0.0 / :: (the dashboard, dockerd,
// databases). One chain per bridge, jumped to from INPUT for packets arriving
// on that bridge, accepts only TCP to the proxy's address and port and drops
// everything else (IPv4 and IPv6: the bridge has a link-local v6 address).
// Applying again is idempotent and, after a restart, swaps in the new proxy
// port without a gap; the rules are removed with the network.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface FirewallTools {
  iptables: string;
  ip6tables: string;
}

const DEFAULT_TOOLS: FirewallTools = { iptables: "iptables", ip6tables: "ip6tables" };

export class FirewallError extends Error {}

/** The chain's name for a bridge (iptables allows 28 characters). */
export function chainFor(bridge: string): string {
  return `AIRLOCK-${bridge}`.slice(0, 28);
}

async function ipt(bin: string, args: string[]): Promise<{ ok: boolean; stderr: string }> {
  try {
    await run(bin, ["-w", "5", ...args], { timeout: 15_000 });
    return { ok: true, stderr: "" };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    return { ok: false, stderr: (e.stderr || e.message || String(err)).trim() };
  }
}

async function must(bin: string, args: string[]): Promise<void> {
  const r = await ipt(bin, args);
  if (!r.ok) throw new FirewallError(`${bin} ${args.join(" ")} failed: ${r.stderr}`);
}

/** null when both iptables and ip6tables can read and change the filter table here; otherwise why not. */
export async function firewallUnavailable(tools: FirewallTools = DEFAULT_TOOLS): Promise<string | null> {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "Airlock is not running as root, so it cannot install host firewall rules (iptables).";
  for (const bin of [tools.iptables, tools.ip6tables]) {
    try {
      await run(bin, ["--version"], { timeout: 10_000 });
    } catch (err) {
      return `${bin} is not available (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); install the iptables package.`;
    }
    const r = await ipt(bin, ["-t", "filter", "-S", "INPUT"]);
    if (!r.ok) return `${bin} cannot read the INPUT chain: ${r.stderr}`;
  }
  return null;
}

/**
 * Installs the rules for one bridge, or brings existing ones up to date (a
 * new proxy port after a restart) without a moment where the DROP is
 * missing: the chain gets its rules before INPUT jumps to it, a new ACCEPT
 * goes in before stale ones are deleted, and the final DROP is never removed.
 */
export async function applyFirewall(bridge: string, gateway: string, proxyPort: number, tools: FirewallTools = DEFAULT_TOOLS): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new FirewallError(`unexpected bridge name ${bridge}`);
  const chain = chainFor(bridge);
  for (const bin of [tools.iptables, tools.ip6tables]) {
    const v6 = bin === tools.ip6tables;
    await ipt(bin, ["-N", chain]); // exists already: fine
    if (!(await ipt(bin, ["-C", chain, "-j", "DROP"])).ok) await must(bin, ["-A", chain, "-j", "DROP"]);
    // The sandbox's connections to the proxy; their replies leave through OUTPUT, untouched.
    const accept = ["-p", "tcp", "-m", "tcp", "-d", `${gateway}/32`, "--dport", String(proxyPort), "-j", "ACCEPT"];
    if (!v6 && !(await ipt(bin, ["-C", chain, ...accept])).ok) await must(bin, ["-I", chain, "1", ...accept]);
    const listed = await listChain(bin, chain);
    const current = (rule: string) => rule.includes(` -d ${gateway}/32 `) && rule.includes(` --dport ${proxyPort} `);
    for (const rule of listed) {
      if (rule.startsWith(`-A ${chain} `) && rule.endsWith("-j ACCEPT") && (v6 || !current(rule))) {
        await must(bin, ["-D", ...splitRule(rule).slice(1)]);
      }
    }
    const jump = ["INPUT", "-i", bridge, "-j", chain];
    if (!(await ipt(bin, ["-C", ...jump])).ok) await must(bin, ["-I", "INPUT", "1", "-i", bridge, "-j", chain]);
  }
}

async function listChain(bin: string, chain: string): Promise<string[]> {
  try {
    const { stdout } = await run(bin, ["-w", "5", "-S", chain], { timeout: 15_000 });
    return stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  } catch (err) {
    throw new FirewallError(`${bin} -S ${chain} failed: ${(err as Error).message}`);
  }
}

/** iptables -S prints rules without quoting; ours never contain spaces inside an argument. */
function splitRule(rule: string): string[] {
  return rule.split(/\s+/);
}

/** Whether the rules for a bridge are in place (jump and chain) in both families. */
export async function firewallInstalled(bridge: string, tools: FirewallTools = DEFAULT_TOOLS): Promise<boolean> {
  const chain = chainFor(bridge);
  for (const bin of [tools.iptables, tools.ip6tables]) {
    if (!(await ipt(bin, ["-C", "INPUT", "-i", bridge, "-j", chain])).ok) return false;
    if (!(await ipt(bin, ["-C", chain, "-j", "DROP"])).ok) return false;
  }
  return true;
}

/** Idempotent: removes the jump(s) and the chain of a bridge. */
export async function removeFirewall(bridge: string, tools: FirewallTools = DEFAULT_TOOLS): Promise<void> {
  const chain = chainFor(bridge);
  for (const bin of [tools.iptables, tools.ip6tables]) {
    for (let i = 0; i < 10 && (await ipt(bin, ["-C", "INPUT", "-i", bridge, "-j", chain])).ok; i++) {
      await ipt(bin, ["-D", "INPUT", "-i", bridge, "-j", chain]);
    }
    await ipt(bin, ["-F", chain]);
    await ipt(bin, ["-X", chain]);
  }
}
