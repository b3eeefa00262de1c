// The Docker side of egress: one --internal bridge network per Airlock
// instance (labelled like its containers), with inter-container traffic off
// (two runs on it cannot reach each other). A sandbox starts with
// NetworkMode "none"; granting egress moves it from "none" to this network,
// revoking moves it back.
import type Docker from "dockerode";
import { INSTANCE_LABEL, RUN_LABEL, SANDBOX_DNS } from "@/server/sandbox/runtime";

export const EGRESS_NETWORK_LABEL = "airlock.egress";

export interface EgressNetwork {
  id: string;
  name: string;
  /** The host-side bridge interface (named by Airlock, so firewall rules can name it). */
  bridge: string;
  /** The host's address on the bridge: where the proxy listens. */
  gateway: string;
  subnet: string;
}

export function egressNetworkName(instance: string): string {
  return `airlock-egress-${instance}`;
}

/** Linux interface names have at most 15 characters. */
export function egressBridgeName(instance: string): string {
  return `alk${instance.replace(/[^a-z0-9]/gi, "").slice(0, 12)}`;
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

function describe(info: Docker.NetworkInspectInfo): EgressNetwork | null {
  const ipam = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(":"));
  const bridge = info.Options?.["com.docker.network.bridge.name"];
  if (!ipam?.Gateway || !ipam.Subnet || !bridge) return null;
  return { id: info.Id, name: info.Name, bridge, gateway: ipam.Gateway.split("/")[0]!, subnet: ipam.Subnet };
}

export async function findEgressNetwork(docker: Docker, instance: string): Promise<EgressNetwork | null> {
  try {
    const info = (await docker.getNetwork(egressNetworkName(instance)).inspect()) as Docker.NetworkInspectInfo;
    if (info.Labels?.[EGRESS_NETWORK_LABEL] !== "true" || info.Labels?.[INSTANCE_LABEL] !== instance || !info.Internal) {
      throw new Error(
        `a Docker network named ${info.Name} exists but was not made by this Airlock as an internal egress network; remove it (docker network rm ${info.Name})`,
      );
    }
    const described = describe(info);
    if (!described) throw new Error(`the egress network ${info.Name} has no IPv4 gateway or bridge name; remove it (docker network rm ${info.Name})`);
    return described;
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

export async function ensureEgressNetwork(docker: Docker, instance: string): Promise<EgressNetwork> {
  const existing = await findEgressNetwork(docker, instance);
  if (existing) return existing;
  try {
    await docker.createNetwork({
      Name: egressNetworkName(instance),
      Driver: "bridge",
      Internal: true,
      CheckDuplicate: true,
      EnableIPv6: false,
      Labels: { [EGRESS_NETWORK_LABEL]: "true", [INSTANCE_LABEL]: instance },
      Options: {
        "com.docker.network.bridge.name": egressBridgeName(instance),
        "com.docker.network.bridge.enable_icc": "false",
        "com.docker.network.bridge.enable_ip_masquerade": "false",
      },
    });
  } catch (err) {
    if (statusCode(err) !== 409) throw err; // created concurrently: fine
  }
  const made = await findEgressNetwork(docker, instance);
  if (!made) throw new Error("the egress network vanished right after it was created");
  return made;
}

/** Containers on the network now, with their addresses and run labels. */
export async function attachedContainers(docker: Docker, network: EgressNetwork): Promise<{ containerId: string; address: string }[]> {
  let info: Docker.NetworkInspectInfo;
  try {
    info = (await docker.getNetwork(network.id).inspect()) as Docker.NetworkInspectInfo;
  } catch (err) {
    if (statusCode(err) === 404) return [];
    throw err;
  }
  return Object.entries(info.Containers ?? {}).map(([containerId, c]) => ({ containerId, address: (c.IPv4Address ?? "").split("/")[0]! }));
}

/** The run a container belongs to (its airlock.run label) and whether it runs; null when gone. */
export async function containerRun(
  docker: Docker,
  containerId: string,
): Promise<{ runId: string | null; running: boolean; networks: Record<string, { IPAddress?: string }>; dns: string[] } | null> {
  try {
    const info = await docker.getContainer(containerId).inspect();
    return {
      runId: info.Config.Labels?.[RUN_LABEL] ?? null,
      running: info.State.Running,
      networks: (info.NetworkSettings?.Networks ?? {}) as Record<string, { IPAddress?: string }>,
      dns: info.HostConfig?.Dns ?? [],
    };
  } catch (err) {
    if (statusCode(err) === 404) return null;
    throw err;
  }
}

/** Moves a sandbox from "none" onto the egress network; returns its address there. Idempotent. */
export async function attachContainer(docker: Docker, network: EgressNetwork, containerId: string): Promise<string> {
  const current = await containerRun(docker, containerId);
  if (!current) throw new Error(`the sandbox ${containerId.slice(0, 12)} is gone`);
  // A sandbox with a real upstream resolver would let Docker's embedded DNS forward its queries out (DNS exfiltration):
  // one created before Airlock set SANDBOX_DNS never joins the network.
  if (current.dns.length !== 1 || current.dns[0] !== SANDBOX_DNS) {
    throw new Error(
      `the sandbox ${containerId.slice(0, 12)} was created with DNS servers ${JSON.stringify(current.dns)} instead of only ${SANDBOX_DNS}, so its DNS queries could leave around the proxy; stop the run and start a new one`,
    );
  }
  const onIt = current.networks[network.name]?.IPAddress;
  if (onIt) return onIt;
  if (current.networks.none) {
    // Docker refuses a second network while the container is in "none" mode.
    await docker.getNetwork("none").disconnect({ Container: containerId, Force: true });
  }
  try {
    await docker.getNetwork(network.id).connect({ Container: containerId });
  } catch (err) {
    await docker
      .getNetwork("none")
      .connect({ Container: containerId })
      .catch(() => undefined);
    throw err;
  }
  const after = await containerRun(docker, containerId);
  const address = after?.networks[network.name]?.IPAddress;
  if (!address) throw new Error(`the sandbox ${containerId.slice(0, 12)} has no address on ${network.name}`);
  return address;
}

/** Back to "none": the sandbox has no interface but loopback again. Idempotent; a gone container is fine. */
export async function detachContainer(docker: Docker, network: EgressNetwork, containerId: string): Promise<void> {
  try {
    await docker.getNetwork(network.id).disconnect({ Container: containerId, Force: true });
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return; // container (or network) gone
    if (code !== 403 && code !== 409 && !/is not connected/i.test((err as Error).message)) throw err;
  }
  const current = await containerRun(docker, containerId);
  if (current && Object.keys(current.networks).length === 0) {
    await docker
      .getNetwork("none")
      .connect({ Container: containerId })
      .catch(() => undefined);
  }
}

export async function removeEgressNetwork(docker: Docker, network: EgressNetwork): Promise<void> {
  try {
    await docker.getNetwork(network.id).remove();
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}
