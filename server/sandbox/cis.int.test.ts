// The container settings CIS Docker Benchmark (v1.6) §5 "Container Runtime"
// checks, and 4.1 (a non-root user), asserted on a live sandbox under the
// runtime under test (runc or gVisor: see test/helpers/sandbox-runtime.ts),
// twice each where possible: as the engine reports the container (what a
// benchmark tool reads) and as a command inside it sees things. Not covered:
// 5.1/5.2 (AppArmor, SELinux: this kernel has neither), 5.26 (a HEALTHCHECK:
// the sentinel's own exit is the sandbox's health), 5.27 (image updates).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { sandboxRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";
import { docker } from "./docker";
import { AGENT_UID, WORKSPACE_PATH } from "./layout";
import { DEFAULT_LIMITS, dockerRuntime } from "./runtime";
import { prepareWorkspace } from "./workspace";

const image = await requireDocker();
const runtimeName = await sandboxRuntimeUnderTest();
const runtime = dockerRuntime();
const limits = { ...DEFAULT_LIMITS, memoryMb: 256, cpus: 0.5, pids: 96 };

let dataDir: string;
let workspaceDir: string;
let id: string;
let info: Docker.ContainerInspectInfo;
type HostConfig = Docker.HostConfig & { CgroupnsMode?: string; UsernsMode?: string; Runtime?: string };
let host: HostConfig;

/** A namespace link as a command inside sees it; gVisor has none to show
 * (its sandbox is a kernel of its own, so every namespace is apart from the host's). */
async function namespaceInside(kind: string): Promise<string> {
  return (await inside(`readlink /proc/self/ns/${kind} 2>/dev/null || echo 'no link (gVisor)'`)).trim();
}

async function inside(script: string): Promise<string> {
  const r = await runtime.exec(id, { cmd: ["bash", "-c", script], timeoutS: 30 });
  expect(r.exitCode, `${script}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cis-"));
  workspaceDir = await prepareWorkspace(dataDir, "cis");
  ({ containerId: id } = await runtime.createSandbox({ runId: `cis-${path.basename(dataDir)}`, image, workspaceDir, limits, runtime: runtimeName }));
  info = await docker().getContainer(id).inspect();
  host = info.HostConfig as HostConfig;
});

afterAll(async () => {
  if (id) await runtime.removeSandbox(id);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe(`CIS Docker Benchmark §5 on a live sandbox (${runtimeName})`, () => {
  it("runs under the runtime under test", () => {
    expect(host.Runtime ?? "runc").toBe(runtimeName);
  });

  it("CIS 4.1: the agent's commands run as a non-root user", async () => {
    expect(await inside("id -u; id -g; grep ^Uid: /proc/self/status")).toMatch(
      new RegExp(`^${AGENT_UID}\n${AGENT_UID}\nUid:\\s+${AGENT_UID}\\s+${AGENT_UID}\\s+${AGENT_UID}\\s+${AGENT_UID}\n$`),
    );
  });

  it("CIS 5.3: capabilities are restricted: all dropped but KILL (for the sentinel), none effective in an agent process", async () => {
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.CapAdd).toEqual(["KILL"]);
    const status = Object.fromEntries(
      (await inside("grep -E '^Cap(Inh|Prm|Eff|Amb|Bnd):' /proc/self/status"))
        .trim()
        .split("\n")
        .map((l) => l.split(/:\s+/)),
    );
    expect(status.CapEff).toBe("0000000000000000");
    expect(status.CapPrm).toBe("0000000000000000");
    expect(status.CapInh).toBe("0000000000000000");
    // Bit 5, CAP_KILL: only in the bounding set, out of reach (no-new-privileges).
    expect(status.CapBnd).toBe("0000000000000020");
  });

  it("gVisor: the process docker exec starts as the agent has no effective capability either", async () => {
    // runsc leaves the container's CAP_KILL effective in the process it
    // execs as a user other than root; the runtime starts agent commands
    // through an execve, which drops it. The command itself (not a child) reads its own status.
    const r = await runtime.exec(id, { cmd: ["grep", "^CapEff:", "/proc/self/status"], timeoutS: 10 });
    expect(r.stdout).toBe("CapEff:\t0000000000000000\n");
    // And so it cannot end the sandbox by killing its init and sentinel.
    const kill = await runtime.exec(id, { cmd: ["bash", "-c", "kill -9 1 2>&1; kill -9 -1; echo caller-survives"], timeoutS: 10 });
    expect(kill.stdout).toMatch(/caller-survives/);
    expect(await runtime.inspectSandbox(id)).toMatchObject({ running: true });
  });

  it("CIS 5.4: the sandbox is not privileged", async () => {
    expect(host.Privileged).toBe(false);
    // A privileged container sees the host's devices and may mount.
    expect(await inside("mount -t tmpfs none /mnt 2>/dev/null && echo mounted || echo refused")).toBe("refused\n");
  });

  it("CIS 5.5: no sensitive host directory is mounted: the workspace is the only bind mount", async () => {
    expect(host.Binds ?? []).toEqual([]);
    expect(info.Mounts.map((m) => ({ type: m.Type, source: m.Source, destination: m.Destination, rw: m.RW }))).toEqual([
      { type: "bind", source: workspaceDir, destination: WORKSPACE_PATH, rw: true },
    ]);
    // Inside: every mount point outside /proc, /sys and /dev is one the
    // sandbox is meant to have (the engine's own per-container files included).
    const points = (await inside("cut -d' ' -f2 /proc/self/mounts")).trim().split("\n");
    const allowed = new Set([
      "/",
      "/tmp",
      "/home/agent",
      WORKSPACE_PATH,
      "/etc/hosts",
      "/etc/hostname",
      "/etc/resolv.conf",
      "/sbin/docker-init",
      "/usr/sbin/docker-init",
    ]);
    expect(points.filter((p) => !/^\/(proc|sys|dev)(\/|$)/.test(p) && !allowed.has(p))).toEqual([]);
    expect(points).toContain(WORKSPACE_PATH);
  });

  it("CIS 5.6: no sshd runs in the sandbox", async () => {
    expect(await inside("ps -eo comm= | grep -c sshd || true")).toBe("0\n");
  });

  it("CIS 5.7, 5.8, 5.13: no port is published, so none privileged and none bound to a host interface", () => {
    expect(host.PortBindings ?? {}).toEqual({});
    expect(host.PublishAllPorts).toBe(false);
    expect(info.NetworkSettings.Ports ?? {}).toEqual({});
  });

  it("CIS 5.9, 5.29: the host's network namespace is not shared and docker0 is not used: network none, loopback only", async () => {
    expect(host.NetworkMode).toBe("none");
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual(["none"]);
    expect((await inside("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).trim().split("\n")).toEqual(["lo"]);
    expect(await namespaceInside("net")).not.toBe(fs.readlinkSync("/proc/self/ns/net"));
  });

  it("CIS 5.10: memory is limited, swap included", () => {
    // What a command over the limit meets differs (runc: the kernel kills
    // that process; gVisor: the whole sandbox ends): runtime.int.test.ts.
    expect(host.Memory).toBe(limits.memoryMb * 1024 * 1024);
    expect(host.MemorySwap).toBe(limits.memoryMb * 1024 * 1024);
  });

  it("CIS 5.11: the CPU share is limited", () => {
    expect(host.NanoCpus).toBe(limits.cpus * 1e9);
  });

  it("CIS 5.12: the root filesystem is read-only: a write to / fails", async () => {
    expect(host.ReadonlyRootfs).toBe(true);
    const r = await runtime.exec(id, { cmd: ["bash", "-c", "echo x > /airlock-cis; echo x > /etc/airlock-cis"], timeoutS: 10 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system|Permission denied/);
  });

  it("CIS 5.14: the restart policy never restarts a stopped sandbox", () => {
    expect(host.RestartPolicy).toMatchObject({ Name: "no" });
  });

  it("CIS 5.15: the host's process namespace is not shared: PID 1 is the sandbox's init", async () => {
    expect(host.PidMode ?? "").toBe("");
    expect(await inside("cat /proc/1/cmdline | tr '\\0' ' ' | cut -d' ' -f1")).toMatch(/docker-init/);
    expect(await namespaceInside("pid")).not.toBe(fs.readlinkSync("/proc/self/ns/pid"));
  });

  it("CIS 5.16: the host's IPC namespace is not shared", async () => {
    expect(host.IpcMode).toBe("private");
    expect(await namespaceInside("ipc")).not.toBe(fs.readlinkSync("/proc/self/ns/ipc"));
  });

  it("CIS 5.17: no host device is exposed", async () => {
    expect(host.Devices ?? []).toEqual([]);
    expect((host as { DeviceRequests?: unknown[] }).DeviceRequests ?? []).toEqual([]);
    // Only the pseudo-devices every container gets.
    const devices = (await inside("find /dev -maxdepth 1 \\( -type c -o -type b \\) | sort")).trim().split("\n");
    // gVisor adds /dev/fuse, its own kernel's (not the host's) device; mounting it needs CAP_SYS_ADMIN.
    const expected = [
      "/dev/full",
      "/dev/null",
      "/dev/random",
      "/dev/tty",
      "/dev/urandom",
      "/dev/zero",
      "/dev/ptmx",
      ...(runtimeName === "runsc" ? ["/dev/fuse"] : []),
    ];
    for (const d of devices) expect(expected, d).toContain(d);
  });

  it("CIS 5.18: ulimits are set for the sandbox", async () => {
    expect(Object.fromEntries((host.Ulimits ?? []).map((u) => [u.Name, [u.Soft, u.Hard]]))).toMatchObject({
      nofile: [8192, 8192],
      fsize: [1024 ** 3, 1024 ** 3],
      core: [0, 0],
    });
    // getrlimit through the shell: gVisor has no /proc/self/limits.
    expect(await inside("ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc")).toBe("8192\n8192\n0\n0\n");
  });

  it("CIS 5.19: mount propagation is private", async () => {
    expect(info.Mounts[0]?.Propagation).toBe("rprivate");
    // mountinfo's optional fields name a shared or slave peer group; the workspace has none.
    const line = (await inside(`grep ' ${WORKSPACE_PATH} ' /proc/self/mountinfo`)).trim();
    expect(line).not.toMatch(/shared:|master:/);
  });

  it("CIS 5.20: the host's UTS namespace is not shared", async () => {
    expect(host.UTSMode ?? "").toBe("");
    expect(await inside("hostname")).toBe("sandbox\n");
  });

  it("CIS 5.21: the default seccomp profile is not disabled", async () => {
    const seccomp = (host.SecurityOpt ?? []).filter((o: string) => /seccomp/.test(o));
    if (runtimeName === "runc") {
      expect(seccomp).toEqual([]); // Docker's default profile
    } else {
      // Under gVisor (runsc --oci-seccomp) the sandbox's own filter, applied inside gVisor's kernel: never "unconfined".
      expect(seccomp).toHaveLength(1);
      expect(seccomp[0]).not.toMatch(/unconfined/);
      expect(JSON.parse(seccomp[0]!.slice("seccomp=".length))).toMatchObject({ defaultAction: "SCMP_ACT_ALLOW" });
    }
    // Either way a process inside runs filtered.
    expect((await inside("grep ^Seccomp: /proc/self/status || echo 'Seccomp: none'")).trim()).toBe("Seccomp:\t2");
  });

  it("CIS 5.21 under both runtimes: the agent cannot make a user or mount namespace (the filter holds inside gVisor too)", async () => {
    const r = await runtime.exec(id, { cmd: ["sh", "-c", "unshare -U true; echo user=$?; unshare -m true; echo mount=$?"], timeoutS: 20 });
    expect(r.stdout).toMatch(/user=[1-9]/);
    expect(r.stdout).toMatch(/mount=[1-9]/);
  });

  it("CIS 5.22, 5.23: commands are never exec'd privileged or as root", async () => {
    const r = await runtime.exec(id, { cmd: ["id", "-u"], timeoutS: 10 });
    expect(r.stdout).toBe(`${AGENT_UID}\n`);
  });

  it("CIS 5.24: the cgroup is the engine's default, in a private cgroup namespace", async () => {
    expect(host.CgroupParent ?? "").toBe("");
    expect(host.CgroupnsMode).toBe("private");
    expect(await namespaceInside("cgroup")).not.toBe(fs.readlinkSync("/proc/self/ns/cgroup"));
  });

  it("CIS 5.25: the sandbox cannot acquire additional privileges (no-new-privileges)", async () => {
    expect(host.SecurityOpt).toContain("no-new-privileges");
    // PR_GET_NO_NEW_PRIVS (39): gVisor's /proc/self/status has no NoNewPrivs line, the syscall answers in both.
    const r = await runtime.exec(id, { cmd: ["python3", "-c", "import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"], timeoutS: 10 });
    expect(r.stdout).toBe("1\n");
  });

  it("CIS 5.28: the number of processes is limited", async () => {
    expect(host.PidsLimit).toBeGreaterThan(0);
    if (runtimeName === "runc") {
      expect(host.PidsLimit).toBe(limits.pids);
    } else {
      // gVisor: the run's limit is RLIMIT_NPROC, enforced by its own kernel (see RUNSC_HOST_THREADS).
      expect(await inside("ulimit -u")).toBe(`${limits.pids}\n`);
    }
  });

  it("CIS 5.30: the host's user namespace is not shared", () => {
    expect(host.UsernsMode ?? "").toBe("");
  });

  it("CIS 5.31: the Docker socket is not mounted, anywhere", async () => {
    expect(info.Mounts.some((m) => /docker\.sock/.test(m.Source) || /docker\.sock/.test(m.Destination))).toBe(false);
    expect(await inside("find / -name 'docker.sock' 2>/dev/null | head -n 5; find / -xdev -type s 2>/dev/null | head -n 5")).toBe("");
  });
});
