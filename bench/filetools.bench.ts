// File tools through Airlock's whole gateway (handleToolCall: validate,
// resolve the path in the container, judge, record, execute, audit, and for
// write_file the checkpoint) against the raw engine exec doing the same work
// (dockerode, as the agent), in turns on the same container. The file tools
// are answered by the sandbox's long-lived file server (server/sandbox/
// file-server.ts), so no call starts an exec. write_file's checkpoint is
// reported apart: the call's own part ends when the gateway records it as
// finished (tool_calls.finished_at), the checkpoint runs after that. Held
// against issue 14's target (under 10 ms median); asserts nothing.
//
//   npx tsx bench/filetools.bench.ts [iterations]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { desc, eq } from "drizzle-orm";
import { toolCalls } from "@/db/schema";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { handleToolCall } from "@/server/tools/gateway";
import { docker } from "@/server/sandbox/docker";
import { readFile } from "@/server/sandbox/files";
import { updatePolicy } from "@/server/projects/policy-store";
import { engineExec, numericArgs, params, record, sideBySide, time } from "./support";
import { gatewayWorld } from "./gateway-world";

const [iterations] = numericArgs(30);
const TARGET = { metric: "median", max: 10, source: "issue 14" } as const;

async function main() {
  const world = await gatewayWorld({
    prefix: "airlock-ftbench-",
    // A small project: 20 files in 4 directories, one README of 1.6 KB.
    seed: (workspaceDir) => {
      fs.writeFileSync(path.join(workspaceDir, "README.md"), "# bench\n".repeat(200));
      for (let d = 0; d < 4; d++) {
        fs.mkdirSync(path.join(workspaceDir, `src${d}`));
        for (let f = 0; f < 5; f++)
          fs.writeFileSync(path.join(workspaceDir, `src${d}`, `m${f}.ts`), `export const v${f} = ${d};\n// TODO ${d}.${f}\n`.repeat(20));
      }
      for (const p of fs.readdirSync(workspaceDir, { recursive: true }) as string[]) fs.chownSync(path.join(workspaceDir, p), AGENT_UID, AGENT_GID);
    },
    // write_file asks a reviewer under the default policy; the figure is the allowed call.
    setUp: (db) =>
      updatePolicy(
        db,
        { userId: "u", label: "bench@x" },
        {
          yaml: "id: bench\nname: Allow everything\ndescription: bench\ndefault: { verdict: allow, reason: Everything is allowed. }\nrules: []\n",
        },
      ).then(() => undefined),
  });
  const { db, runtime, runId, containerId, session } = world;
  try {
    const container = docker().getContainer(containerId);
    const asAgent = { user: AGENT_USER, workingDir: "/workspace" };
    const call = (tool: string, args: Record<string, unknown>) => async () => {
      const r = await handleToolCall(session, { tool, args });
      if (!r.ok) throw new Error(`${tool} was refused: ${JSON.stringify(r)}`);
    };
    params({ iterations, warmup: 3 });
    console.log(`file tools benchmark: ${iterations} iterations, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);

    const cases: { id: string; label: string; gateway: () => Promise<void>; raw: () => Promise<void>; rawLabel: string; target?: typeof TARGET }[] = [
      {
        // What the channel itself costs: the gateway's own steps (judging, recording, auditing) excluded.
        id: "read_file.server",
        label: "files.ts readFile README.md (file server only)",
        gateway: async () => {
          await readFile(runtime, containerId, "README.md");
        },
        raw: () => engineExec(container, ["cat", "/workspace/README.md"], asAgent),
        rawLabel: "engine API exec `cat`",
      },
      {
        id: "read_file",
        label: "read_file README.md (1.6 KB)",
        gateway: call("read_file", { path: "README.md" }),
        raw: () => engineExec(container, ["cat", "/workspace/README.md"], asAgent),
        rawLabel: "engine API exec `cat`",
        target: TARGET,
      },
      {
        id: "list_files",
        label: "list_files /workspace, depth 2 (25 entries)",
        gateway: call("list_files", { path: ".", depth: 2 }),
        raw: () => engineExec(container, ["find", "/workspace", "-maxdepth", "2", "-not", "-path", "*/.git*"], asAgent),
        rawLabel: "engine API exec `find -maxdepth 2`",
        target: TARGET,
      },
      {
        id: "search_files",
        label: "search_files TODO in 21 files",
        gateway: call("search_files", { pattern: "TODO 3\\.4", path: "." }),
        raw: () => engineExec(container, ["grep", "-rn", "--exclude-dir=.git", "TODO 3\\.4", "/workspace"], asAgent),
        rawLabel: "engine API exec `grep -rn`",
        target: TARGET,
      },
    ];
    for (const c of cases) {
      const s = await sideBySide(
        iterations,
        3,
        () => time(c.gateway),
        () => time(c.raw),
      );
      record({
        id: c.id,
        label: c.label,
        runtime: "runc",
        samples: s.airlock,
        baseline: { label: c.rawLabel, samples: s.raw, paired: true },
        target: c.target,
      });
    }

    // write_file: the call up to the gateway's record of it (finished_at),
    // then its checkpoint; each write changes the file, so every checkpoint commits.
    const totals: number[] = [];
    const checkpoints: number[] = [];
    const s = await sideBySide(
      iterations,
      3,
      async (i) => {
        const started = Date.now();
        await call("write_file", { path: "notes/out.txt", content: `round ${i}\n`.repeat(20) })();
        const ended = Date.now();
        const row = db
          .select({ finishedAt: toolCalls.finishedAt })
          .from(toolCalls)
          .where(eq(toolCalls.runId, runId))
          .orderBy(desc(toolCalls.createdAt))
          .limit(1)
          .get();
        const finished = row?.finishedAt?.getTime() ?? ended;
        if (i >= 0) {
          totals.push(ended - started);
          checkpoints.push(ended - finished);
        }
        return finished - started;
      },
      (i) => time(() => engineExec(container, ["sh", "-c", `mkdir -p /workspace/raw && printf 'raw ${i}\\n%.0s' $(seq 20) > /workspace/raw/out.txt`], asAgent)),
    );
    const rawLabel = "engine API exec `sh -c 'printf … > file'`";
    record({
      id: "write_file",
      label: "write_file 160 B (without its checkpoint)",
      runtime: "runc",
      samples: s.airlock,
      baseline: { label: rawLabel, samples: s.raw, paired: true },
      target: TARGET,
    });
    record({ id: "write_file.checkpoint", label: "write_file's checkpoint (after the call)", runtime: "runc", samples: checkpoints });
    record({
      id: "write_file.total",
      label: "write_file 160 B (+checkpoint)",
      runtime: "runc",
      samples: totals,
      baseline: { label: rawLabel, samples: s.raw, paired: true },
    });
  } finally {
    await world.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
