// Remote engines (issue 17): run start, exec, checkpoint and rollback on a
// remote engine (a second dockerd on this machine, reached over loopback TCP
// with TLS client certificates: test/faults/second-engine.ts) against the
// same operations on the local engine, and Airlock's run start and exec
// against raw engine-API calls (dockerode create+start, exec create+start+
// inspect) on each engine. On the remote engine a run start includes pushing
// the workspace into the sandbox's volume, a checkpoint pulls /workspace
// back (a digest of the sandbox's tree by a helper, then a full copy through
// the archive API with the safe extraction when it changed, as here), and a
// rollback pulls, restores the mirror and pushes it back; on the local
// engine the workspace is the bind-mounted host directory. Checkpoints and
// rollbacks are timed at the workspace level (freeze, copy, shadow-repository
// snapshot and commit / restore), without the database rows. Asserts nothing.
//
//   npx tsx bench/engines.bench.ts [iterations]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { DEFAULT_IGNORED_DIRS } from "@/server/config/env";
import { dockerClientFor } from "@/server/engines/registry";
import { PooledRuntime } from "@/server/engines/pooled-runtime";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { DEFAULT_LIMITS, dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { commitTree, headCommit, initShadowRepo, openShadowRepo, restoreWorkTree, snapshotWorkTree, treeOf } from "@/server/workspace/shadow-repo";
import { pullRunWorkspace, pushRunWorkspace, sandboxListing } from "@/server/workspace/remote";
import { startSecondEngine } from "@/test/faults/second-engine";
import { compare, engineExec, median, note, numericArgs, params, record, sideBySide, time } from "./support";

const [iterations] = numericArgs(5);
const WARMUP = 1;
const REMOTE = "rb2";
const limits = { maxFileBytes: 10 * 1024 * 1024, ignoredDirs: DEFAULT_IGNORED_DIRS };

/** A small project: 50 files in 5 directories (the seed pushed at start and pulled at every checkpoint). */
function populate(dir: string): void {
  for (let i = 0; i < 50; i++) {
    const d = path.join(dir, `src${i % 5}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `m${i}.ts`), `export const v${i} = ${i};\n`.repeat(40));
  }
  // The agent's, as a seeded workspace is (the local engine bind-mounts it).
  execFileSync("chown", ["-R", `${AGENT_UID}:${AGENT_GID}`, dir]);
}

/** The raw baseline of a start: the same image, created and started through the engine API, hardened alike, nothing mounted. */
function rawConfig(image: string): Docker.ContainerCreateOptions {
  return {
    Image: image,
    Entrypoint: ["/bin/sleep", "600"],
    User: AGENT_USER,
    WorkingDir: "/",
    Labels: { "airlock.bench": "engines" },
    HostConfig: {
      Init: true,
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      Memory: DEFAULT_LIMITS.memoryMb * 1024 * 1024,
      PidsLimit: DEFAULT_LIMITS.pids,
    },
  };
}

async function main() {
  const image = sandboxImageName();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-enginesbench-"));
  fs.chmodSync(root, 0o755);
  console.log(`engines benchmark: ${iterations} iterations, local engine vs ${REMOTE} (tcp + TLS), ${os.cpus().length} CPUs`);
  params({ iterations, files: 50 });
  const second = await startSecondEngine({ name: REMOTE, images: [image], tls: true });
  try {
    const tcp = second.tcp!;
    const remoteClient = dockerClientFor({ endpoint: tcp.endpoint, local: false, credentials: { ca: tcp.ca, cert: tcp.cert, key: tcp.key } });
    const instance = instanceIdForDataDir(root);
    const pool = new PooledRuntime({ local: dockerRuntime(undefined, { instance }), instance, remoteClient: () => remoteClient });
    const engines = [
      { name: "local", client: docker(), ref: (id: string) => id },
      { name: REMOTE, client: remoteClient, ref: (id: string) => `@${REMOTE}:${id}` },
    ];
    let seq = 0;
    const figures: Record<string, number> = {};
    for (const e of engines) {
      const remote = e.name !== "local";
      // Run start: create + start (+ the workspace pushed into the volume on the remote engine) vs raw create + start.
      const starts = await sideBySide(
        iterations,
        WARMUP,
        async () => {
          const runId = `bench${process.pid}x${seq++}`;
          const ws = await prepareWorkspace(root, runId);
          populate(ws);
          let containerId = "";
          const ms = await time(async () => {
            ({ containerId } = await pool.createSandbox({ runId, image, workspaceDir: ws, limits: DEFAULT_LIMITS, engine: e.name }));
            await pool.pushWorkspace(containerId, ws);
          });
          await pool.removeSandbox(containerId);
          fs.rmSync(ws, { recursive: true, force: true });
          return ms;
        },
        async () => {
          let container: Docker.Container | null = null;
          const ms = await time(async () => {
            container = await e.client.createContainer(rawConfig(image));
            await container.start();
          });
          await (container as Docker.Container | null)?.remove({ force: true });
          return ms;
        },
      );
      record({
        id: `start-${remote ? "remote" : "local"}`,
        label: `run start on ${e.name} (create, start${remote ? ", push 50 files" : ""})`,
        runtime: "runc",
        samples: starts.airlock,
        baseline: { label: "engine API create + start", samples: starts.raw, paired: true },
      });
      figures[`start-${e.name}`] = median(starts.airlock);

      // One sandbox for exec, checkpoint and rollback.
      const runId = `bench${process.pid}x${seq++}`;
      const ws = await prepareWorkspace(root, runId);
      populate(ws);
      const { containerId } = await pool.createSandbox({ runId, image, workspaceDir: ws, limits: DEFAULT_LIMITS, engine: e.name });
      const raw = await e.client.createContainer(rawConfig(image));
      await raw.start();
      try {
        await pool.pushWorkspace(containerId, ws);
        const execs = await sideBySide(
          iterations * 4,
          WARMUP,
          () => time(() => pool.exec(containerId, { cmd: ["true"], timeoutS: 10 })),
          () => time(() => engineExec(raw, ["true"], { user: AGENT_USER, workingDir: "/" })),
        );
        record({
          id: `exec-${remote ? "remote" : "local"}`,
          label: `exec true on ${e.name}`,
          runtime: "runc",
          samples: execs.airlock,
          baseline: { label: "engine API exec create + start + inspect", samples: execs.raw, paired: true },
        });
        figures[`exec-${e.name}`] = median(execs.airlock);

        // Checkpoint after one small file changed in the sandbox, and rollback to the first checkpoint.
        const repo = openShadowRepo(ws, runId);
        await initShadowRepo(repo);
        const first = await commitTree(repo, (await snapshotWorkTree(repo, limits)).tree, null, "start");
        const checkpoints: number[] = [];
        const rollbacks: number[] = [];
        for (let i = -WARMUP; i < iterations; i++) {
          const wrote = await pool.exec(containerId, { cmd: ["bash", "-c", `echo ${i} > /workspace/src0/changed.txt`], timeoutS: 10 });
          if (wrote.exitCode !== 0) throw new Error(`writing in the sandbox failed: ${wrote.stderr}`);
          const place = { id: runId, engine: e.name, containerId };
          const cp = await time(async () => {
            const listing = await sandboxListing(pool, place);
            await pool.pauseSandbox(containerId);
            try {
              await pullRunWorkspace(pool, place, ws, listing);
              const snap = await snapshotWorkTree(repo, limits);
              await commitTree(repo, snap.tree, await headCommit(repo), `change ${i}`);
            } finally {
              await pool.unpauseSandbox(containerId);
            }
          });
          const rb = await time(async () => {
            const listing = await sandboxListing(pool, place);
            await pool.pauseSandbox(containerId);
            try {
              await pullRunWorkspace(pool, place, ws, listing);
              await restoreWorkTree(repo, limits, await treeOf(repo, first));
            } finally {
              await pool.unpauseSandbox(containerId);
            }
            await pushRunWorkspace(pool, place, ws);
          });
          if (i >= 0) {
            checkpoints.push(cp);
            rollbacks.push(rb);
          }
        }
        const gone = await pool.exec(containerId, { cmd: ["test", "!", "-e", "/workspace/src0/changed.txt"], timeoutS: 10 });
        if (gone.exitCode !== 0) throw new Error("the rollback did not reach the sandbox");
        record({ id: `checkpoint-${remote ? "remote" : "local"}`, label: `checkpoint, 1 file changed, on ${e.name}`, runtime: "runc", samples: checkpoints });
        record({ id: `rollback-${remote ? "remote" : "local"}`, label: `rollback to the start, on ${e.name}`, runtime: "runc", samples: rollbacks });
        figures[`checkpoint-${e.name}`] = median(checkpoints);
        figures[`rollback-${e.name}`] = median(rollbacks);
      } finally {
        await raw.remove({ force: true }).catch(() => undefined);
        await pool.removeSandbox(containerId).catch(() => undefined);
      }
    }
    for (const op of ["start", "exec", "checkpoint", "rollback"])
      compare(`${op}-remote-vs-local`, `${op}: remote (tcp + TLS) / local`, figures[`${op}-${REMOTE}`]!, figures[`${op}-local`]!);
    note(
      "the remote engine is a second dockerd on the same machine over loopback TCP + TLS: the figures show the protocol and the archive copies, not a network; " +
        "a checkpoint there copies the whole workspace when the sandbox's digest changed (here, one file every round), nothing when it did not; " +
        "a rollback copies nothing in (the digest is the checkpoint's) and pushes the whole workspace back",
    );
  } finally {
    await second.destroy();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
