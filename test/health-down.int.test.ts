// GET /api/health answers 503 with what is wrong when Docker does not answer.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-health-down-"));
process.env.AIRLOCK_DATA_DIR = dataDir;
process.env.DOCKER_HOST = "tcp://127.0.0.1:9"; // nothing listens on the discard port
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe("health without Docker", () => {
  it("answers 503 and names the Docker problem and its fix", async () => {
    const { GET } = await import("@/app/api/health/route");
    const res = await GET();
    const body = (await res.json()) as { ok: boolean; database: { ok: boolean }; docker: { ok: boolean; error?: string } };
    expect(res.status).toBe(503);
    expect(body.ok).toBe(false);
    expect(body.database.ok).toBe(true);
    expect(body.docker.ok).toBe(false);
    expect(body.docker.error).toMatch(/Start the Docker engine/);
  });
});
