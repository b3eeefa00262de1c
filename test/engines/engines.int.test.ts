// Issue 17, Settings → Engines against a real second Docker engine ("ea1": its
// own dockerd on loopback TCP with TLS client certificates the test made). An
// admin registers it through the router; the check reports its health, API
// version and runtimes; the sandbox image it lacks is loaded from the local
// engine and verified by digest; wrong TLS material and a stopped engine are
// reported plainly; credentials never leave the server; non-admins are refused.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditEvents, engines, runs } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { checkEngineNow, imageLoadInProgress } from "@/server/engines/health";
import { syncEnginesFile } from "@/server/engines/file";
import { config } from "@/server/config/env";
import { checkEngines } from "@/server/doctor/engines";
import { checkHealth } from "@/server/health/health";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { docker } from "@/server/sandbox/docker";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { requireDocker } from "@/test/helpers/docker";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { engineTlsMaterial, startSecondEngine, type SecondEngine } from "@/test/faults/second-engine";

let engine: SecondEngine;
let t: TestDb;
let image: string;
let admin: PublicUser;
let tls: { ca: string; cert: string; key: string };
let otherTls: { ca: string; cert: string; key: string };

const callerFor = async (user: PublicUser) =>
  createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: "192.0.2.7" });

beforeAll(async () => {
  image = await requireDocker();
  engine = await startSecondEngine({ name: "ea1", images: [], tls: true });
  // The data root is kept between test runs: start without the sandbox image, as a new engine would be.
  await engine.docker
    .getImage(image)
    .remove({ force: true })
    .catch(() => undefined);
  tls = { ca: engine.tcp!.ca, cert: engine.tcp!.cert, key: engine.tcp!.key };
  // Material from another CA (made once, kept like the engine's own).
  const other = await engineTlsMaterial(path.join(os.tmpdir(), "airlock-ea1-other-ca"));
  otherTls = { ca: other.ca, cert: other.cert, key: other.key };
  t = createTestDb();
  admin = await addUser(t.db, "admin");
}, 300_000);

afterAll(async () => {
  await engine?.destroy();
  t?.close();
});

describe("engines against a second Docker engine over TCP with TLS", () => {
  it("an admin registers the engine; it is checked at once, its missing sandbox image is loaded and verified by digest, then it is healthy", async () => {
    const api = await callerFor(admin);
    await api.engines.create({ name: "ea1", endpoint: engine.tcp!.endpoint, labels: ["gpu"], capacity: { runs: 2 }, tls });

    const first = (await api.engines.list()).items.find((e) => e.name === "ea1")!;
    expect(first.apiVersion).toMatch(/^1\.\d+$/);
    expect(first.runtimes).toContain("runc");
    expect(first.downSince).toBeNull();
    expect(first.healthy).toBe(false); // not for placement until the image is there and verified
    expect(first.image.loading).toBe(true);
    expect(first.error).toMatch(/sandbox image is being loaded onto engine ea1/);

    const started = Date.now();
    await imageLoadInProgress("ea1");
    console.log(`sandbox image loaded onto ea1 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await checkEngineNow(t.db, "ea1");

    const after = (await api.engines.list()).items.find((e) => e.name === "ea1")!;
    const localId = (await docker().getImage(image).inspect()).Id;
    const remoteId = (await engine.docker.getImage(image).inspect()).Id;
    expect(remoteId).toBe(localId);
    expect(after).toMatchObject({
      healthy: true,
      error: null,
      labels: ["gpu"],
      capacity: { runs: 2, cpus: null, memoryMb: null },
      running: 0,
      draining: false,
    });
    expect(after.image).toEqual({ present: true, id: localId, loading: false, error: null });
    expect(after.hasCredentials).toBe(true);
    expect(after.credentialsKind).toBe("tls");
  }, 600_000);

  it("airlock doctor lists the engine with its API version, runtimes and verified image; /api/health counts it without naming it", async () => {
    const checks = await checkEngines({ ...config(), enginesFile: undefined }, t.db);
    const ea1 = checks.find((c) => c.name === "Engine ea1")!;
    expect(ea1.ok).toBe(true);
    expect(ea1.detail).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+ \[gpu\]: up, API 1\.\d+, runtimes .*runc.*; sandbox image present, digest verified$/);
    const health = await checkHealth(() => t.db);
    expect(health.engines).toMatchObject({ total: 2, healthy: 2, down: 0, draining: 0 });
    expect(JSON.stringify(health)).not.toContain("ea1");
  });

  it("a CA that did not sign the engine's certificate makes it unhealthy with a plain reason", async () => {
    const api = await callerFor(admin);
    await api.engines.create({ name: "ea1-wrong-ca", endpoint: engine.tcp!.endpoint, tls: { ...tls, ca: otherTls.ca } });
    const e = (await api.engines.list()).items.find((x) => x.name === "ea1-wrong-ca")!;
    expect(e.healthy).toBe(false);
    expect(e.error).toMatch(/TLS certificate is not signed by the CA Airlock has/);
    expect(e.downSince).toBeInstanceOf(Date);
  });

  it("a client certificate the engine does not trust, or none, makes it unhealthy with a plain reason", async () => {
    const api = await callerFor(admin);
    await api.engines.create({ name: "ea1-foreign-cert", endpoint: engine.tcp!.endpoint, tls: { ca: tls.ca, cert: otherTls.cert, key: otherTls.key } });
    await api.engines.create({ name: "ea1-no-cert", endpoint: engine.tcp!.endpoint });
    const items = (await api.engines.list()).items;
    const foreign = items.find((x) => x.name === "ea1-foreign-cert")!;
    const none = items.find((x) => x.name === "ea1-no-cert")!;
    expect(foreign.healthy).toBe(false);
    expect(foreign.error).toMatch(/TLS handshake failed|client certificate/);
    expect(none.healthy).toBe(false);
    expect(none.error).toMatch(/speaks TLS only .* give the CA, the client certificate and its key/);
  });

  it("credentials never leave the server: not in engines.list, not in the audit details", async () => {
    const api = await callerFor(admin);
    await api.engines.update({ name: "ea1", labels: ["gpu", "big-memory"], tls });
    const keyBody = tls.key.split("\n")[1]!;
    const listed = JSON.stringify(await api.engines.list());
    expect(listed).not.toContain("BEGIN");
    expect(listed).not.toContain(keyBody);
    const audit = t.db.select().from(auditEvents).where(eq(auditEvents.targetType, "engine")).all();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["engine.created", "engine.updated"]));
    const details = JSON.stringify(audit.map((a) => a.details));
    expect(details).not.toContain("BEGIN");
    expect(details).not.toContain(keyBody);
    // Stored, but encrypted.
    const row = t.db.select().from(engines).where(eq(engines.name, "ea1")).get()!;
    expect(row.credentialsEnc).not.toContain("BEGIN");
  });

  it("viewers, operators and reviewers get FORBIDDEN from every engines procedure", async () => {
    const names = Object.keys(appRouter._def.procedures).filter((p) => p.startsWith("engines."));
    expect(names.sort()).toEqual(["engines.create", "engines.delete", "engines.drain", "engines.list", "engines.update"]);
    const inputs: Record<string, unknown> = {
      "engines.list": undefined,
      "engines.create": { name: "nope", endpoint: "tcp://127.0.0.1:1" },
      "engines.update": { name: "ea1", labels: [] },
      "engines.drain": { name: "ea1", draining: true },
      "engines.delete": { name: "ea1" },
    };
    for (const role of ["viewer", "operator", "reviewer"] as const) {
      const api = (await callerFor(await addUser(t.db, role))) as unknown as Record<string, Record<string, (input: unknown) => Promise<unknown>>>;
      for (const name of names) {
        const [ns, proc] = name.split(".") as [string, string];
        await expect(api[ns]![proc]!(inputs[name]), `${role} ${name}`).rejects.toMatchObject({ code: "FORBIDDEN" });
      }
    }
    const row = t.db.select().from(engines).where(eq(engines.name, "ea1")).get()!;
    expect(row.draining).toBe(false);
  });

  it("an engine with a live run cannot be deleted (the refusal says how many); drained, its run still counts, and once it ended the delete goes through", async () => {
    const api = await callerFor(admin);
    await api.engines.create({ name: "ea1-busy", endpoint: engine.tcp!.endpoint, tls });
    const runId = crypto.randomUUID();
    t.db
      .insert(runs)
      .values({
        id: runId,
        title: "busy",
        task: "t",
        state: "running",
        engine: "ea1-busy",
        createdBy: admin.id,
        limits: DEFAULT_RUN_LIMITS,
        updatedAt: new Date(),
      })
      .run();
    await expect(api.engines.delete({ name: "ea1-busy" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/has 1 live run/) });
    await api.engines.drain({ name: "ea1-busy", draining: true });
    const drained = (await api.engines.list()).items.find((x) => x.name === "ea1-busy")!;
    expect(drained).toMatchObject({ draining: true, running: 1 });
    t.db.update(runs).set({ state: "succeeded" }).where(eq(runs.id, runId)).run();
    await api.engines.delete({ name: "ea1-busy" });
    expect((await api.engines.list()).items.map((x) => x.name)).not.toContain("ea1-busy");
    await expect(api.engines.delete({ name: "local" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("an engine from AIRLOCK_ENGINES is edited in the file: the UI may only drain it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-engines-file-"));
    for (const k of ["ca", "cert", "key"] as const) fs.writeFileSync(path.join(dir, `${k}.pem`), tls[k]);
    const file = path.join(dir, "engines.yaml");
    fs.writeFileSync(
      file,
      `engines:\n  - name: ea1-file\n    endpoint: ${engine.tcp!.endpoint}\n    labels: [gvisor]\n    tls: { ca: ca.pem, cert: cert.pem, key: key.pem }\n`,
    );
    expect(syncEnginesFile(t.db, file).added).toEqual(["ea1-file"]);
    const api = await callerFor(admin);
    await expect(api.engines.update({ name: "ea1-file", labels: [] })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/defined in AIRLOCK_ENGINES .*edit the file/),
    });
    await expect(api.engines.delete({ name: "ea1-file" })).rejects.toMatchObject({ code: "CONFLICT" });
    await api.engines.drain({ name: "ea1-file", draining: true });
    const listed = (await api.engines.list()).items.find((x) => x.name === "ea1-file")!;
    expect(listed).toMatchObject({ source: "file", draining: true, labels: ["gvisor"], hasCredentials: true });
    // Gone from the file, no live runs: removed at the next start.
    fs.writeFileSync(file, "engines: []\n");
    expect(syncEnginesFile(t.db, file).removed).toEqual(["ea1-file"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("an image of the sandbox's name but other content on the engine makes it unhealthy, naming both digests", async () => {
    await engine.docker.getImage(image).remove({ force: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-impostor-"));
    fs.writeFileSync(path.join(dir, "impostor.txt"), "not the sandbox image\n");
    execFileSync("bash", ["-c", 'tar -C "$1" -c . | docker import - "$2" >/dev/null', "import", dir, image], {
      env: { ...process.env, DOCKER_HOST: engine.host },
    });
    fs.rmSync(dir, { recursive: true, force: true });
    const localId = (await docker().getImage(image).inspect()).Id;
    const impostorId = (await engine.docker.getImage(image).inspect()).Id;
    const health = await checkEngineNow(t.db, "ea1");
    expect(health).toMatchObject({ healthy: false, downSince: null });
    expect(health!.error).toBe(`sandbox image on engine ea1 has digest ${impostorId}, expected ${localId}`);
    expect(health!.image).toMatchObject({ present: true, id: impostorId, loading: false });
  });

  it("a stopped engine is unhealthy with the time it stopped answering, kept in the table", async () => {
    await engine.stop();
    const before = Date.now();
    const health = await checkEngineNow(t.db, "ea1", { timeoutMs: 3000 });
    expect(health!.healthy).toBe(false);
    // Refused, or (a kept-alive connection of the previous look) closed as dockerd went away.
    expect(health!.error).toMatch(/^engine ea1 \(tcp:\/\/127\.0\.0\.1:\d+\) (refused the connection|closed the connection)/);
    expect(health!.downSince!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const again = await checkEngineNow(t.db, "ea1", { timeoutMs: 3000 });
    expect(again!.downSince).toEqual(health!.downSince); // since the first failed look, not the latest
    const row = t.db.select().from(engines).where(eq(engines.name, "ea1")).get()!;
    expect(row.downSince).toEqual(health!.downSince);
    const api = await callerFor(admin);
    const listed = (await api.engines.list()).items.find((x) => x.name === "ea1")!;
    expect(listed).toMatchObject({ healthy: false, downSince: health!.downSince });
  });
});
