// Egress for sandbox commands, end to end: a reviewer grants a live run some
// domains; its sandbox moves from network "none" onto Airlock's --internal
// egress network, whose only way out is the host-side proxy (server/egress/
// proxy.ts) behind host firewall rules (firewall.ts); its commands get proxy
// variables in their environment. Revoking the last domain moves the sandbox
// back to "none". No firewall, no grant: Airlock refuses rather than open a
// network it cannot fence.
import type Docker from "dockerode";
import type { Db } from "@/db/client";
import type { Role } from "@/db/schema";
import { egressGrantDenial } from "@/lib/permissions";
import type { Actor } from "@/server/audit/chain";
import { readEgressAllowance } from "@/server/config/env";
import { publishRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { docker as processDocker } from "@/server/sandbox/docker";
import { judgeEgressTarget } from "@/server/egress/domains";
import { applyFirewall, firewallUnavailable, removeFirewall, type FirewallTools } from "@/server/egress/firewall";
import {
  activeEgressGrants,
  assertRunCanHaveEgress,
  remoteEngineEgressRefusal,
  EGRESS_CONNECTION_EVENT,
  parseGrantDomains,
  recordEgressGrant,
  recordEgressRevoke,
  refusedEgressHosts,
  type GrantedDomain,
  type RefusedHost,
} from "@/server/egress/grants";
import {
  attachContainer,
  attachedContainers,
  containerRun,
  detachContainer,
  ensureEgressNetwork,
  findEgressNetwork,
  removeEgressNetwork,
  type EgressNetwork,
} from "@/server/egress/network";
import { EgressProxy, type EgressConnectionRecord, type EgressProxyOptions } from "@/server/egress/proxy";
import { findRun, requireRun } from "@/server/runs/lookup";
import {
  EgressAsks,
  egressGrantsForRun,
  egressPolicyHooks,
  judgeRunEgress,
  projectEgressGrantViews,
  runNeedsEgress,
  type ProjectEgressGrantView,
} from "@/server/egress/ask";
import { isTerminal } from "@/server/runs/state-machine";
import { countEgressDecision } from "@/server/metrics/instruments";

/** Connection events recorded per run (per process); past this, one note says they are no longer listed one by one. */
const MAX_CONNECTION_EVENTS_PER_RUN = 2000;

export interface EgressView {
  state: "none" | "granted";
  domains: { entry: string; reason: string; grantedBy: string; grantedAt: Date }[];
  /** The sandbox is on the egress network now (commands get the proxy variables). */
  connected: boolean;
  refused: RefusedHost[];
  /** Destinations a reviewer allowed for every run of the run's project (from a held connection), until they expire. */
  projectDomains: ProjectEgressGrantView[];
}

export interface EgressControllerOptions {
  db: Db;
  /** This Airlock's instance id (INSTANCE_LABEL): names and labels its egress network. */
  instance: string;
  docker?: Docker;
  /** Name resolution for the proxy (tests map made-up names to loopback). */
  resolve?: EgressProxyOptions["resolve"];
  firewallTools?: FirewallTools;
  /** How long a connection a domain rule asks about is held (default AIRLOCK_EGRESS_ASK_TIMEOUT_S). */
  askTimeoutMs?: () => number;
  /** How often an idle egress network is looked for and torn down (default 30 s). */
  sweepMs?: number;
}

interface Attached {
  runId: string;
  containerId: string;
}

export class EgressController {
  private network: EgressNetwork | null = null;
  private proxy: EgressProxy | null = null;
  private readonly byAddress = new Map<string, Attached>();
  private readonly connectionEvents = new Map<string, number>();
  private sweeper: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly asks: EgressAsks;

  constructor(private readonly opts: EgressControllerOptions) {
    this.asks = new EgressAsks({ db: opts.db, timeoutMs: opts.askTimeoutMs });
  }

  private get docker(): Docker {
    return this.opts.docker ?? processDocker();
  }

  /** One plumbing change at a time (grant, revoke, sweep, restore). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** null when egress can be granted on this machine; otherwise why not. */
  unavailableReason(): Promise<string | null> {
    return firewallUnavailable(this.opts.firewallTools);
  }

  /** The proxy URL sandboxes use, once the plumbing is up. */
  get proxyUrl(): string | null {
    const a = this.proxy?.address;
    return a ? `http://${a.address}:${a.port}` : null;
  }

  get egressNetwork(): EgressNetwork | null {
    return this.network;
  }

  /** Network, proxy, then firewall (before any sandbox joins): all or nothing. */
  private async ensureReady(): Promise<{ network: EgressNetwork; proxy: EgressProxy }> {
    if (this.network && this.proxy?.address) return { network: this.network, proxy: this.proxy };
    const why = await this.unavailableReason();
    if (why)
      throw new DomainError(
        "PRECONDITION_FAILED",
        `Network access cannot be granted: ${why} Airlock never opens a sandbox's network without its host firewall.`,
      );
    const network = await ensureEgressNetwork(this.docker, this.opts.instance);
    const proxy = new EgressProxy({
      host: network.gateway,
      identify: (address) => this.byAddress.get(address)?.runId ?? null,
      // The run's grants and its project's; project domain rules apply to commands too (ask holds the connection for a reviewer).
      ...egressPolicyHooks(this.opts.db, this.asks),
      allowance: () => readEgressAllowance(),
      resolve: this.opts.resolve,
      record: (runId, source, record) => this.recordConnection(runId, source, record),
    });
    const address = await proxy.listen();
    try {
      await applyFirewall(network.bridge, network.gateway, address.port, this.opts.firewallTools);
    } catch (err) {
      await proxy.close();
      await removeFirewall(network.bridge, this.opts.firewallTools).catch(() => undefined);
      throw new DomainError(
        "PRECONDITION_FAILED",
        `Network access cannot be granted: the host firewall rules could not be installed (${(err as Error).message}).`,
      );
    }
    this.network = network;
    this.proxy = proxy;
    if (!this.sweeper) {
      this.sweeper = setInterval(
        () => void this.sweep().catch((err: unknown) => console.error("airlock: egress sweep failed:", err)),
        this.opts.sweepMs ?? 30_000,
      );
      this.sweeper.unref();
    }
    return { network, proxy };
  }

  private recordConnection(runId: string | null, source: string, record: EgressConnectionRecord): void {
    countEgressDecision(record.verdict);
    if (!runId) {
      console.warn(`airlock: egress proxy refused ${record.method} ${record.host}:${record.port} from ${source} (no run): ${record.reason ?? ""}`);
      return;
    }
    const n = (this.connectionEvents.get(runId) ?? 0) + 1;
    this.connectionEvents.set(runId, n);
    if (n > MAX_CONNECTION_EVENTS_PER_RUN) return;
    if (n === MAX_CONNECTION_EVENTS_PER_RUN) {
      publishRunEvent(this.opts.db, runId, "note", {
        text: `The run has made ${n} connections through the egress proxy; further ones are enforced but no longer listed one by one.`,
      });
      return;
    }
    publishRunEvent(this.opts.db, runId, EGRESS_CONNECTION_EVENT, { ...record, source });
  }

  private async attach(runId: string, containerId: string): Promise<void> {
    const { network } = await this.ensureReady();
    const address = await attachContainer(this.docker, network, containerId);
    for (const [a, v] of this.byAddress) if (v.containerId === containerId || v.runId === runId) this.byAddress.delete(a);
    this.byAddress.set(address, { runId, containerId });
  }

  private async detach(containerId: string): Promise<void> {
    for (const [a, v] of this.byAddress) if (v.containerId === containerId) this.byAddress.delete(a);
    const network = this.network ?? (await findEgressNetwork(this.docker, this.opts.instance));
    if (network) await detachContainer(this.docker, network, containerId);
  }

  isAttached(containerId: string): boolean {
    for (const v of this.byAddress.values()) if (v.containerId === containerId) return true;
    return false;
  }

  /**
   * A reviewer grants a live run's commands some domains. The sandbox joins
   * the egress network first; the grant is recorded (audit + run event) once
   * the plumbing works, so a recorded grant is a working one.
   */
  async grant(actor: Actor, grantor: { userId: string; role: Role }, input: { runId: string; domains: string[]; reason: string }): Promise<EgressView> {
    const reason = input.reason.trim();
    if (!reason) throw new DomainError("INVALID_INPUT", "Say why the run needs these domains (reason).");
    const domains = parseGrantDomains(input.domains);
    return this.serial(async () => {
      const run = requireRun(this.opts.db, input.runId);
      assertRunCanHaveEgress(run);
      const denied = egressGrantDenial({ id: grantor.userId, role: grantor.role }, run);
      if (denied) throw new DomainError(denied.code, denied.message);
      await this.attach(run.id, run.containerId!);
      recordEgressGrant(this.opts.db, actor, run, domains, reason);
      return this.view(run.id);
    });
  }

  /** Revokes some (or all, when `domains` is omitted) of a run's domains; open connections to them are closed. */
  async revoke(actor: Actor, input: { runId: string; domains?: string[] | null; reason?: string | null }): Promise<EgressView> {
    return this.serial(async () => {
      const run = requireRun(this.opts.db, input.runId);
      recordEgressRevoke(this.opts.db, actor, run, input.domains?.length ? input.domains : null, input.reason?.trim() || null);
      const left = egressGrantsForRun(this.opts.db, run);
      // Connections the project's allow rules admit stay open: the revocation was about grants.
      this.proxy?.cutConnections(
        run.id,
        (host, port) => judgeEgressTarget(left, host, port).allowed || judgeRunEgress(this.opts.db, run.id, host, port, "https")?.verdict === "allow",
      );
      if (run.containerId && !runNeedsEgress(this.opts.db, run)) await this.detach(run.containerId);
      return this.view(run.id);
    });
  }

  /**
   * The proxy variables for one command of a run (empty without a grant).
   * A granted run whose sandbox is not on the network (a restart from a
   * snapshot replaced it) is attached here; if that fails the command runs
   * without network.
   */
  async execEnv(runId: string, containerId: string): Promise<Record<string, string>> {
    const run = findRun(this.opts.db, runId);
    if (!run || !runNeedsEgress(this.opts.db, run)) return {};
    if (!this.isAttached(containerId) || !this.proxyUrl) {
      try {
        await this.serial(() => this.attach(runId, containerId));
      } catch (err) {
        publishRunEvent(this.opts.db, runId, "error", {
          source: "egress",
          message: `The sandbox could not be connected to the egress proxy, so this command has no network: ${(err as Error).message}`,
        });
        return {};
      }
    }
    return proxyEnvironment(this.proxyUrl!);
  }

  view(runId: string): EgressView {
    return egressView(this.opts.db, runId, this);
  }

  /**
   * After a restart: sandboxes still on the egress network whose runs still
   * have grants keep their egress (new proxy port, firewall rewritten); every
   * other one goes back to "none"; an unused network is removed. If the
   * firewall cannot be installed, every sandbox is detached.
   */
  restore(): Promise<void> {
    return this.serial(async () => {
      const network = await findEgressNetwork(this.docker, this.opts.instance);
      if (!network) return;
      const keep: { containerId: string; runId: string }[] = [];
      for (const c of await attachedContainers(this.docker, network)) {
        const info = await containerRun(this.docker, c.containerId);
        const run = info?.runId ? findRun(this.opts.db, info.runId) : undefined;
        if (info?.running && run && run.containerId === c.containerId && runNeedsEgress(this.opts.db, run))
          keep.push({ containerId: c.containerId, runId: run.id });
        else await detachContainer(this.docker, network, c.containerId);
      }
      if (keep.length === 0) {
        await removeFirewall(network.bridge, this.opts.firewallTools);
        await removeEgressNetwork(this.docker, network);
        return;
      }
      for (const k of keep) {
        try {
          await this.attach(k.runId, k.containerId);
        } catch (err) {
          console.error(`airlock: could not restore egress for run ${k.runId}; its sandbox is back on network none:`, err);
          await detachContainer(this.docker, network, k.containerId).catch(() => undefined);
        }
      }
    });
  }

  /** Forgets ended sandboxes, detaches ones without grants, and tears the plumbing down when nobody uses it. */
  sweep(): Promise<void> {
    return this.serial(async () => {
      const network = this.network;
      if (!network) return;
      const attached = await attachedContainers(this.docker, network);
      const present = new Set(attached.map((c) => c.containerId));
      for (const [a, v] of this.byAddress) if (!present.has(v.containerId)) this.byAddress.delete(a);
      let remaining = 0;
      for (const c of attached) {
        const mine = [...this.byAddress.values()].find((v) => v.containerId === c.containerId);
        const run = mine ? findRun(this.opts.db, mine.runId) : undefined;
        if (!mine || !run || !runNeedsEgress(this.opts.db, run)) await this.detach(c.containerId);
        else remaining++;
      }
      if (remaining === 0) await this.teardown();
    });
  }

  private async teardown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.proxy?.close();
    this.proxy = null;
    const network = this.network ?? (await findEgressNetwork(this.docker, this.opts.instance));
    this.network = null;
    this.byAddress.clear();
    if (!network) return;
    for (const c of await attachedContainers(this.docker, network)) await detachContainer(this.docker, network, c.containerId);
    await removeFirewall(network.bridge, this.opts.firewallTools);
    await removeEgressNetwork(this.docker, network);
  }

  /**
   * Stops the proxy. With `teardown`, also moves every sandbox back to
   * "none" and removes the network and firewall rules; without it (process
   * shutdown while runs live on), the rules and the network stay, so the
   * sandboxes stay fenced until a restart restores their egress.
   */
  close(opts: { teardown?: boolean } = {}): Promise<void> {
    return this.serial(async () => {
      if (opts.teardown) return this.teardown();
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = null;
      await this.proxy?.close();
      this.proxy = null;
      this.network = null;
      this.byAddress.clear();
    });
  }
}

/** What a command needs to use the proxy: the usual variables, honoured by pip, git, curl, python and npm. */
export function proxyEnvironment(url: string): Record<string, string> {
  const local = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: local,
    no_proxy: local,
    npm_config_proxy: url,
    npm_config_https_proxy: url,
  };
}

/** What the run page shows: the granted domains, whether the sandbox is on the network, refused hosts. */
export function egressView(db: Db, runId: string, controller: EgressController | undefined = getEgressController()): EgressView {
  const run = requireRun(db, runId);
  const domains = activeEgressGrants(db, run).map((d: GrantedDomain) => ({ entry: d.entry, reason: d.reason, grantedBy: d.grantedBy, grantedAt: d.grantedAt }));
  return {
    state: domains.length ? "granted" : "none",
    domains,
    connected: run.containerId && controller ? controller.isAttached(run.containerId) : false,
    refused: refusedEgressHosts(db, runId),
    projectDomains: isTerminal(run.state) ? [] : projectEgressGrantViews(db, run.projectId),
  };
}

// ---------------------------------------------------------------- process-wide

const g = globalThis as unknown as { __airlockEgress?: EgressController };

export function getEgressController(): EgressController | undefined {
  return g.__airlockEgress;
}

export function setEgressController(c: EgressController | undefined): void {
  g.__airlockEgress = c;
}

/**
 * The proxy variables for a command (see EgressController.execEnv). Reads the
 * run's grants from `db` first: without a grant no controller is involved.
 */
export async function egressExecEnv(db: Db, runId: string, containerId: string): Promise<Record<string, string>> {
  const run = findRun(db, runId);
  if (!run || !runNeedsEgress(db, run)) return {};
  if (remoteEngineEgressRefusal(run)) return {}; // the proxy is not reachable from another engine (issue 17)
  const controller = getEgressController();
  return controller ? controller.execEnv(runId, containerId) : {};
}
