// Container snapshots: Airlock's snapshot (the agent's home streamed out of
// the hardened sandbox and committed onto the sandbox image) against a raw
// `docker commit` of a plain writable container holding the same files, and
// a sandbox restarted from a snapshot (home copied into its tmpfs) against one
// from the plain sandbox image and a raw `docker run` of the committed image.
// Same engine, same run. Records figures and ratios; asserts nothing.
//
//   npx tsx bench/snapshot.bench.ts [iterations] [home MB]
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { sandboxImageName } from "@/server/sandbox/image";
import { DEFAULT_LIMITS, dockerRuntime } from "@/server/sandbox/runtime";
import { AGENT_USER } from "@/server/sandbox/layout";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { numericArgs, params, record, time } from "./support";

const run = promisify(execFile);
const [iterations, homeMb] = numericArgs(3, 20);

// Something like a pip install: many small files and a few larger ones, in ~/.local.
const FILL = (mb: number) =>
  `python3 - <<'EOF'
import os
root = os.path.expanduser("~/.local/lib/python3.11/site-packages/benchpkg")
os.makedirs(root, exist_ok=True)
budget = ${mb} * 1024 * 1024
i = 0
while budget > 0:
    size = 4096 if i % 10 else 262144
    with open(os.path.join(root, f"m{i}.py"), "wb") as f:
        f.write(os.urandom(size))
    budget -= size
    i += 1
print(i)
EOF`;

async function main(): Promise<void> {
  const image = sandboxImageName();
  const runtime = dockerRuntime();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bench-snap-"));
  const containers: string[] = [];
  const images: string[] = [];
  const limits = DEFAULT_LIMITS;
  try {
    console.log(`snapshot benchmark: ${iterations} iterations, ${homeMb} MB in the agent's home, image ${image}, ${os.cpus().length} CPUs`);
    params({ iterations, homeMb });
    const ws = await prepareWorkspace(dataDir, "snap");
    const { containerId } = await runtime.createSandbox({ runId: "bench-snapshot", image, workspaceDir: ws, limits });
    containers.push(containerId);
    const filled = await runtime.exec(containerId, { cmd: ["bash", "-c", FILL(homeMb)], timeoutS: 120 });
    if (filled.exitCode !== 0) throw new Error(`filling the home failed: ${filled.stdout}${filled.stderr}`);

    // Raw baseline: a plain (writable, unhardened) container with the same files in its own layer.
    const { stdout: rawId } = await run("docker", [
      "run",
      "-d",
      "--user",
      AGENT_USER,
      "--network",
      "none",
      "--label",
      "airlock.bench=true",
      "--entrypoint",
      "sleep",
      image,
      "infinity",
    ]);
    containers.push(rawId.trim());
    await run("docker", ["exec", rawId.trim(), "bash", "-c", FILL(homeMb)], { maxBuffer: 1 << 20 });

    const snapshotTimes: number[] = [];
    const commitTimes: number[] = [];
    const restartTimes: number[] = [];
    const freshTimes: number[] = [];
    const rawRunTimes: number[] = [];
    let sizeBytes = 0;
    for (let i = 0; i < iterations; i++) {
      let snapImage = "";
      snapshotTimes.push(
        await time(async () => {
          const s = await runtime.snapshotSandbox(containerId, `bench-${process.pid}-${i}`);
          snapImage = s.image;
          sizeBytes = s.sizeBytes;
        }),
      );
      images.push(snapImage);
      const rawImage = `airlock-bench-commit:${process.pid}-${i}`;
      commitTimes.push(await time(() => run("docker", ["commit", "--pause=false", rawId.trim(), rawImage])));
      images.push(rawImage);

      const ws2 = await prepareWorkspace(dataDir, `restart-${i}`);
      restartTimes.push(
        await time(async () => {
          const r = await runtime.createSandbox({ runId: `bench-restart-${i}`, image: snapImage, workspaceDir: ws2, limits });
          containers.push(r.containerId);
        }),
      );
      const ws3 = await prepareWorkspace(dataDir, `fresh-${i}`);
      freshTimes.push(
        await time(async () => {
          const r = await runtime.createSandbox({ runId: `bench-fresh-${i}`, image, workspaceDir: ws3, limits });
          containers.push(r.containerId);
        }),
      );
      rawRunTimes.push(
        await time(async () => {
          const { stdout } = await run("docker", [
            "run",
            "-d",
            "--user",
            AGENT_USER,
            "--network",
            "none",
            "--label",
            "airlock.bench=true",
            "--entrypoint",
            "sleep",
            rawImage,
            "infinity",
          ]);
          containers.push(stdout.trim());
        }),
      );
    }
    record({
      id: "snapshot",
      label: `snapshot: runtime.snapshotSandbox (home ${homeMb} MB → image, +${(sizeBytes / 1024 / 1024).toFixed(1)} MB)`,
      runtime: "runc",
      samples: snapshotTimes,
      baseline: { label: "docker commit of a writable container, same files (CLI)", samples: commitTimes, paired: true },
    });
    record({
      id: "restart",
      label: "restart: runtime.createSandbox from the snapshot (home copied in)",
      runtime: "runc",
      samples: restartTimes,
      baseline: { label: "docker run -d of the committed image (CLI)", samples: rawRunTimes, paired: true },
    });
    record({
      id: "fresh",
      label: "start: runtime.createSandbox from the sandbox image (no home)",
      runtime: "runc",
      samples: freshTimes,
      baseline: { label: "docker run -d of the committed image (CLI)", samples: rawRunTimes, paired: true },
    });
  } finally {
    await Promise.all(containers.map((id) => runtime.removeSandbox(id).catch(() => undefined)));
    for (const img of images) await run("docker", ["rmi", "-f", img]).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
