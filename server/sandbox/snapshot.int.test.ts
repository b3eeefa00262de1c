// Container snapshots at the runtime level, against a real engine and the
// real sandbox image: what the home directory keeps (contents, modes,
// symlinks, empty directories), that a snapshot of a restarted sandbox builds
// on the original image (deleted files stay deleted), that nothing of the
// sandbox's own settings is baked in, listing and removal, refusals, and the
// pruning of snapshots whose run has ended.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { createTestDb } from "@/test/helpers/db";
import { runs } from "@/db/schema";
import { addUser } from "@/test/helpers/users";
import { pruneSnapshots } from "@/server/workspace/snapshots";
import { AGENT_UID, AGENT_USER } from "./layout";
import { docker } from "./docker";
import { agentEnvironment, DEFAULT_LIMITS, dockerRuntime, instanceIdForDataDir, SandboxError } from "./runtime";
import { prepareWorkspace } from "./workspace";
import { withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";

const image = await requireDocker();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-snapshot-int-"));
// Its own instance: listing and pruning only ever see this suite's snapshots.
const runtime = withRuntimeUnderTest(dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }));
const containers: string[] = [];
const images: string[] = [];
const prefix = `s${randomBytes(4).toString("hex")}`;

async function start(name: string, img = image) {
  const runId = `${prefix}-${name}`;
  const workspaceDir = await prepareWorkspace(dataDir, `${runId}-${randomBytes(2).toString("hex")}`);
  const { containerId } = await runtime.createSandbox({ runId, image: img, workspaceDir, limits: DEFAULT_LIMITS });
  containers.push(containerId);
  return { containerId, runId };
}

const sh = async (containerId: string, script: string) => {
  const r = await runtime.exec(containerId, { cmd: ["bash", "-c", script], timeoutS: 30 });
  return { code: r.exitCode, out: r.stdout + r.stderr };
};

afterAll(async () => {
  await Promise.all(containers.map((id) => runtime.removeSandbox(id).catch(() => undefined)));
  for (const img of images)
    await docker()
      .getImage(img)
      .remove({ force: true })
      .catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("sandbox snapshots", () => {
  it("keep the home directory byte for byte: contents, modes, symlinks (targets untouched), empty directories", async () => {
    const { containerId, runId } = await start("home");
    const setup = await sh(
      containerId,
      [
        "mkdir -p ~/.local/bin ~/empty/dir ~/data",
        "printf '#!/bin/sh\\necho tool-ran\\n' > ~/.local/bin/tool && chmod 0750 ~/.local/bin/tool",
        "head -c 300000 /dev/urandom > ~/data/blob && chmod 0600 ~/data/blob",
        "ln -s ./.local/bin/tool ~/rel-link && ln -s /etc/hostname ~/abs-link",
        "echo 'name with spaces' > ~/'a file'",
      ].join(" && "),
    );
    expect(setup.code, setup.out).toBe(0);
    const fingerprint = "cd ~ && find . -printf '%p %y %m %l\\n' | LC_ALL=C sort && sha256sum data/blob";
    const before = await sh(containerId, fingerprint);

    const snap = await runtime.snapshotSandbox(containerId, `${prefix}-home`, { checkpointId: "cp-1" });
    images.push(snap.image);
    expect(snap).toMatchObject({ image: `airlock-snapshot:${prefix}-home`, runId, checkpointId: "cp-1" });
    expect(snap.sizeBytes).toBeGreaterThan(300_000);

    // The image has the sandbox image's own config, not the sandbox's (entrypoint with its deadline, env).
    const base = await docker().getImage(image).inspect();
    const made = await docker().getImage(snap.image).inspect();
    expect(made.Config.Entrypoint).toEqual(base.Config.Entrypoint);
    expect(made.Config.User).toBe(base.Config.User || AGENT_USER);
    expect([...(made.Config.Env ?? [])].sort()).toEqual([...(base.Config.Env ?? [])].sort());
    expect(made.Config.Labels).toMatchObject({ "airlock.snapshot": "true", "airlock.run": runId, "airlock.managed": "false", "airlock.base-image": base.Id });

    const restarted = await start("home", snap.image);
    expect((await sh(restarted.containerId, fingerprint)).out).toBe(before.out);
    expect(
      (await sh(restarted.containerId, "tool && id -u && python3 -c 'import os, pwd; print(pwd.getpwuid(os.stat(os.path.expanduser(\"~\")).st_uid).pw_name)'"))
        .out,
    ).toBe(`tool-ran\n${AGENT_UID}\nagent\n`);
    // Still hardened: read-only root, so the seed itself cannot be changed by the agent.
    expect((await sh(restarted.containerId, "touch /var/lib/airlock/home/x 2>&1")).code).not.toBe(0);
  }, 120_000);

  it("builds a snapshot of a restarted sandbox on the original image, so files deleted since stay deleted", async () => {
    const first = await start("chain");
    await sh(first.containerId, "echo one > ~/one && echo two > ~/two");
    const s1 = await runtime.snapshotSandbox(first.containerId, `${prefix}-chain-1`);
    images.push(s1.image);
    const second = await start("chain", s1.image);
    await sh(second.containerId, "rm ~/one && echo three > ~/three");
    const s2 = await runtime.snapshotSandbox(second.containerId, `${prefix}-chain-2`);
    images.push(s2.image);
    const base = await docker().getImage(image).inspect();
    expect((await docker().getImage(s2.image).inspect()).Config.Labels?.["airlock.base-image"]).toBe(base.Id);
    const third = await start("chain", s2.image);
    expect(
      (await sh(third.containerId, 'python3 -c \'import os; print(*sorted(n for n in os.listdir(os.path.expanduser("~")) if n[0] != "."), sep=chr(10))\'')).out,
    ).toBe("three\ntwo\n");
  }, 120_000);

  it("lists, removes and prunes this instance's snapshots, and refuses what it cannot do", async () => {
    const { containerId, runId } = await start("list");
    const snap = await runtime.snapshotSandbox(containerId, `${prefix}-list`, { checkpointId: "cp-9" });
    images.push(snap.image);
    const listed = await runtime.listSnapshots(runId);
    expect(listed.map((s) => [s.image, s.checkpointId])).toEqual([[snap.image, "cp-9"]]);
    // Another instance (another data directory) does not see them.
    expect(await dockerRuntime(undefined, { instance: "someone-else" }).listSnapshots(runId)).toEqual([]);

    await expect(runtime.removeSnapshot("airlock-sandbox:latest")).rejects.toThrow(/not a snapshot image/);
    await expect(runtime.snapshotSandbox(containerId, "bad tag!")).rejects.toMatchObject({ code: "INVALID_SPEC" });
    await runtime.stopSandbox(containerId);
    await expect(runtime.snapshotSandbox(containerId, `${prefix}-stopped`)).rejects.toBeInstanceOf(SandboxError);

    // Pruning at start: a snapshot of a run that is unknown (or ended) goes; one of a live run stays.
    const t = createTestDb();
    try {
      const live = await start("prune-live");
      const liveSnap = await runtime.snapshotSandbox(live.containerId, `${prefix}-prune-live`);
      images.push(liveSnap.image);
      const operator = await addUser(t.db, "operator");
      t.db
        .insert(runs)
        .values({
          id: live.runId,
          title: "live",
          task: "t",
          state: "running",
          createdBy: operator.id,
          limits: { ...DEFAULT_LIMITS, maxSteps: 10, maxToolCalls: 10, tokenBudget: 1000 },
          updatedAt: new Date(),
        })
        .run();
      // A builder container left by a crash in the middle of a snapshot.
      const leftover = await docker().createContainer({
        Image: image,
        Entrypoint: ["/bin/true"],
        Labels: { "airlock.snapshot-builder": live.runId, "airlock.instance": instanceIdForDataDir(dataDir) },
      });
      const removed = await pruneSnapshots(t.db, runtime);
      await expect(leftover.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(removed).toContain(snap.image);
      expect(removed).not.toContain(liveSnap.image);
      expect((await runtime.listSnapshots()).map((s) => s.image)).toContain(liveSnap.image);
      await runtime.removeSnapshot(liveSnap.image);
      await runtime.removeSnapshot(liveSnap.image); // idempotent
      expect(await runtime.listSnapshots()).toEqual([]);
    } finally {
      t.close();
    }
  }, 120_000);
});

describe("the sandbox environment", () => {
  it("appends ~/.local/bin to the image's PATH (never before it) and points package managers at the home", () => {
    expect(agentEnvironment(["PATH=/opt/x/bin:/usr/bin"])).toEqual(
      expect.arrayContaining([
        "HOME=/home/agent",
        "PATH=/opt/x/bin:/usr/bin:/home/agent/.local/bin",
        "PIP_BREAK_SYSTEM_PACKAGES=1",
        "NPM_CONFIG_PREFIX=/home/agent/.local",
      ]),
    );
    expect(agentEnvironment([])).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/agent/.local/bin");
    expect(agentEnvironment(["PATH=/usr/bin:/home/agent/.local/bin"])).toContain("PATH=/usr/bin:/home/agent/.local/bin");
  });
});
