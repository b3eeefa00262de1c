// Issue 17, AIRLOCK_ENGINES as an operator uses it: the built dashboard reads
// the file at start. A bad entry stops the start with the entry and field at
// fault; a good file registers its engine ("ea2", a second dockerd over TLS),
// the monitor started with the supervisor checks it, loads the sandbox image
// it lacks, and /api/health and `airlock doctor` show it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { tempDataDir } from "@/test/helpers/runs";
import { airlockCli, startDashboard, type Dashboard } from "@/test/faults/dashboard";
import { startSecondEngine, type SecondEngine } from "@/test/faults/second-engine";

let engine: SecondEngine;
let dashboard: Dashboard | undefined;
let image: string;
const dirs: string[] = [];

beforeAll(async () => {
  image = await requireDocker();
  engine = await startSecondEngine({ name: "ea2", images: [], tls: true });
  await engine.docker
    .getImage(image)
    .remove({ force: true })
    .catch(() => undefined);
}, 300_000);

afterAll(async () => {
  await dashboard?.stop();
  await engine?.destroy();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function enginesFile(yaml: string): { dataDir: string; file: string } {
  const dataDir = tempDataDir();
  dirs.push(dataDir);
  const conf = path.join(dataDir, "..", `${path.basename(dataDir)}-engines`);
  fs.mkdirSync(conf);
  dirs.push(conf);
  for (const k of ["ca", "cert", "key"] as const) fs.writeFileSync(path.join(conf, `${k}.pem`), engine.tcp![k]);
  const file = path.join(conf, "engines.yaml");
  fs.writeFileSync(file, yaml);
  return { dataDir, file };
}

describe("AIRLOCK_ENGINES at start", () => {
  it("a bad entry stops the start, naming the file, the entry and the field", async () => {
    const { dataDir, file } = enginesFile(`engines:\n  - name: ea2\n    endpoint: tcp://127.0.0.1\n`);
    const d = await startDashboard(dataDir, { AIRLOCK_ENGINES: file, AIRLOCK_RUNTIME: "runc" });
    const code = await Promise.race([d.exited, new Promise((r) => setTimeout(() => r("still running"), 90_000))]);
    if (code === "still running") await d.stop("SIGKILL");
    expect(code).toBe(1);
    expect(d.output()).toContain(`AIRLOCK_ENGINES (${file}): engines[0] ("ea2").endpoint: a tcp:// endpoint needs host:port, like tcp://127.0.0.1:2376`);
  }, 120_000);

  it("a good file registers the engine; the monitor loads and verifies its sandbox image; health and doctor show it", async () => {
    const { dataDir, file } = enginesFile(
      `engines:\n  - name: ea2\n    endpoint: ${engine.tcp!.endpoint}\n    labels: [gpu]\n    tls: { ca: ca.pem, cert: cert.pem, key: key.pem }\n`,
    );
    dashboard = await startDashboard(dataDir, { AIRLOCK_ENGINES: file, AIRLOCK_RUNTIME: "runc" });
    await dashboard.waitAnswering();
    const deadline = Date.now() + 180_000;
    let engines: unknown;
    for (;;) {
      engines = (await dashboard.health()).body.engines;
      if ((engines as { healthy?: number } | undefined)?.healthy === 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(engines).toMatchObject({ total: 2, healthy: 2, down: 0, draining: 0 });
    expect(dashboard.output()).toContain("engine ea2 has no sandbox image");
    expect((await engine.docker.getImage(image).inspect()).Id).toMatch(/^sha256:/);

    const doctor = await airlockCli(dataDir, ["doctor"], { AIRLOCK_ENGINES: file, AIRLOCK_RUNTIME: "runc" });
    expect(doctor.stdout + doctor.stderr).toMatch(/Engines file.*1 engine\(s\) \(ea2\)/);
    expect(doctor.stdout + doctor.stderr).toMatch(
      /Engine ea2.*tcp:\/\/127\.0\.0\.1:\d+ \[gpu\]: up, API 1\.\d+, runtimes .*runc.*sandbox image present, digest verified/,
    );

    await dashboard.stop();
    expect(await dashboard.exited).toBe(0);
  }, 300_000);
});
