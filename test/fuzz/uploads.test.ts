// POST /api/uploads over real loopback HTTP through the real route handler,
// with hostile bodies (random bytes, multipart forms, archives whose entries
// climb out with "..", carry NUL, RTL or lone surrogates, truncated or lying
// archives, oversized ones) and hostile names. Properties: never a 500 or a
// crash; a refusal says what was wrong, leaves no row and no file behind; an
// accepted upload is stored under a safe name.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-fuzz-uploads-"));
  return { dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { db as processDb } from "@/db/client";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { buildTar, buildTarGz, buildZip } from "@/test/helpers/archives";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { addUser, issueToken } from "@/test/helpers/users";
import { CaseTally, CrashWatch, expectClearMessage, fuzzRuns, hostileString, preview, rowCounts } from "@/test/helpers/hostile";

/** Small caps so oversized archives cost kilobytes, not the default 100 MB. */
const MAX_BYTES = 64 * 1024;
const MAX_FILES = 20;
const MAX_EXPANDED = 256 * 1024;
const RUNS = fuzzRuns(60);

const tally = new CaseTally("upload route");
const crashes = new CrashWatch();
let server: RouteServer;
const tokens: Record<"operator" | "viewer", string> = { operator: "", viewer: "" };

beforeAll(async () => {
  overrideWorkspaceSettings({ archiveMaxBytes: MAX_BYTES, archiveMaxFiles: MAX_FILES, archiveMaxExpandedBytes: MAX_EXPANDED });
  const { POST } = await import("@/app/api/uploads/route");
  server = await serveRoute("/api/uploads", { POST });
  for (const role of ["operator", "viewer"] as const) tokens[role] = issueToken(processDb(), (await addUser(processDb(), role)).id).token;
  crashes.start();
}, 120_000);

afterAll(async () => {
  crashes.stop();
  tally.print();
  overrideWorkspaceSettings(null);
  await server?.close();
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

const uploadsDir = () => path.join(env.dataDir, "uploads");
const storedFiles = () => (fs.existsSync(uploadsDir()) ? fs.readdirSync(uploadsDir()).length : 0);

/** A name as raw percent-encoded UTF-8 (encodeURIComponent refuses lone surrogates; a client can send any bytes). */
function percentEncode(name: string): string {
  return [...Buffer.from(name, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
}

/** Entry names an attacker puts in an archive. */
const entryName = fc.oneof(
  hostileString({ maxBig: 2_000 }),
  fc.constantFrom("../escape.txt", "a/../../b", "/etc/passwd", "C:\\win.ini", "./ok.txt", "dir/", "a//b", "nul\u0000byte", "\u202Etxt.exe", "ok.txt"),
  fc.array(fc.constantFrom("a", "..", ".", "", "b"), { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")),
);

const entries = fc.array(
  fc.record({
    name: entryName,
    content: fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.integer({ min: 0, max: 100_000 }).map((n) => "z".repeat(n)),
    ),
    type: fc.constantFrom("file", "file", "file", "dir", "symlink", "hardlink", "fifo") as fc.Arbitrary<"file" | "dir" | "symlink" | "hardlink" | "fifo">,
  }),
  { minLength: 0, maxLength: MAX_FILES + 3 },
);

function multipart(inner: Buffer, filename: string): Buffer {
  const b = "----fuzzboundary";
  return Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    inner,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
}

/** Bodies: archives built from hostile entries, cut or corrupted, wrapped in a form, or plain noise. */
const body: fc.Arbitrary<{ label: string; bytes: Buffer }> = fc.oneof(
  entries.map((e) => ({ label: `tar ${preview(e.map((x) => x.name))}`, bytes: buildTar(e) })),
  entries.map((e) => ({ label: `tar.gz ${preview(e.map((x) => x.name))}`, bytes: buildTarGz(e) })),
  entries.map((e) => ({
    label: `zip ${preview(e.map((x) => x.name))}`,
    bytes: buildZip(e.map((x) => ({ name: x.name, content: x.content, unixMode: x.type === "symlink" ? 0o120777 : undefined }))),
  })),
  fc.tuple(entries, fc.nat()).map(([e, cut]) => {
    const full = buildTar(e);
    return { label: "truncated tar", bytes: full.subarray(0, cut % (full.length + 1)) };
  }),
  fc.tuple(entries, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([e, at, byte]) => {
    const full = Buffer.from(buildZip(e.map((x) => ({ name: x.name, content: x.content }))));
    full[at % full.length] = byte;
    return { label: "corrupted zip", bytes: full };
  }),
  entries.map((e) => ({ label: "multipart form around a tar", bytes: multipart(buildTar(e), "a.tar") })),
  fc.uint8Array({ maxLength: 4096 }).map((a) => ({ label: "random bytes", bytes: Buffer.from(a) })),
  fc.integer({ min: MAX_BYTES + 1, max: MAX_BYTES * 3 }).map((n) => ({ label: `${n} bytes of zeros`, bytes: Buffer.alloc(n) })),
  fc.constant({ label: "empty", bytes: Buffer.alloc(0) }),
);

async function upload(bytes: Buffer, name: string | null, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = name === null ? server.url : `${server.url}?name=${percentEncode(name)}`;
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream", ...headers }, body: new Uint8Array(bytes) });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { unparsed: text };
  }
  return { status: res.status, json };
}

describe("the upload route with hostile bodies and names", () => {
  it("never answers 500; a refusal says why and leaves no row or file; a stored upload has a safe name", async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.option(hostileString({ maxBig: 5_000 }), { freq: 4 }), async ({ label, bytes }, name) => {
        tally.add("operator uploads");
        const beforeRows = rowCounts(processDb().$client);
        const beforeFiles = storedFiles();
        const { status, json } = await upload(bytes, name, { authorization: `Bearer ${tokens.operator}` });
        const context = () => `${label} named ${preview(name)} → ${status} ${preview(json, 600)}`;
        expect([201, 400], context()).toContain(status);
        if (status === 201) {
          const filename = json.filename as string;
          expect(filename, context()).toMatch(/^[A-Za-z0-9._ -]{1,200}$/);
          expect(filename, context()).not.toMatch(/^\.\.?$/);
          expect(storedFiles(), context()).toBe(beforeFiles + 1);
        } else {
          expectClearMessage((json.error as { message?: unknown } | undefined)?.message, context);
          expect(rowCounts(processDb().$client), context()).toEqual(beforeRows);
          expect(storedFiles(), `${context()}: a refused upload left its file`).toBe(beforeFiles);
        }
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it("callers below operator, or unknown, are refused before the body is stored", async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom("viewer", "none", "garbage"), async ({ bytes }, who) => {
        tally.add("refused callers");
        const headers = who === "viewer" ? { authorization: `Bearer ${tokens.viewer}` } : who === "garbage" ? { authorization: "Bearer \u0000" } : {};
        const beforeFiles = storedFiles();
        const { status, json } = await upload(bytes, "a.tar", Object.fromEntries(Object.entries(headers).filter(([, v]) => !v.includes("\u0000"))));
        expect([401, 403]).toContain(status);
        expectClearMessage((json.error as { message?: unknown }).message, "refused caller");
        expect(storedFiles()).toBe(beforeFiles);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it("U1: an archive over the size limit is refused naming the limit and its setting", async () => {
    tally.add("limits");
    const { status, json } = await upload(Buffer.alloc(MAX_BYTES + 1), "big.tar", { authorization: `Bearer ${tokens.operator}` });
    expect(status).toBe(400);
    expect((json.error as { message: string }).message).toContain(`larger than ${MAX_BYTES} bytes (the limit, AIRLOCK_ARCHIVE_MAX_MB)`);
  });

  it("U1: an archive with too many files, or expanding past the limit, is refused naming the limit", async () => {
    tally.add("limits", 2);
    const many = await upload(buildTar(Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ name: `f${i}`, content: "x" }))), "many.tar", {
      authorization: `Bearer ${tokens.operator}`,
    });
    expect((many.json.error as { message: string }).message).toContain(`more than ${MAX_FILES} files (the limit, AIRLOCK_ARCHIVE_MAX_FILES)`);
    const bomb = await upload(buildTarGz([{ name: "bomb", content: "0".repeat(MAX_EXPANDED + 1) }]), "bomb.tar.gz", {
      authorization: `Bearer ${tokens.operator}`,
    });
    expect((bomb.json.error as { message: string }).message).toContain(
      `expands to more than ${MAX_EXPANDED} bytes (the limit, AIRLOCK_ARCHIVE_MAX_EXPANDED_MB)`,
    );
  });
});
