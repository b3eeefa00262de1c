// An edited manifest cannot make a restore write outside the data directory:
// it is refused before anything is copied (real files in a temp directory).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, MANIFEST_FILE, verifyBackup, type BackupManifest } from "./manifest";
import { restoreBackup } from "./restore";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function backupWith(files: BackupManifest["files"], setUp: (root: string) => void): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-manifest-test-"));
  dirs.push(root);
  fs.mkdirSync(path.join(root, "data"));
  setUp(root);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    airlockVersion: "0.1.0",
    schemaMigration: null,
    createdAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: 1,
    sourceDataDir: "/nowhere",
    audit: { count: 0, lastSeq: 0, lastHash: "", sealed: false },
    keys: [],
    uploads: [],
    runs: { active: [], workspaces: [], shadowRepos: [] },
    other: [],
    excluded: [],
    totalBytes: 0,
    files,
  };
  fs.writeFileSync(path.join(root, MANIFEST_FILE), JSON.stringify(manifest));
  return root;
}

const file = (p: string) => ({ path: p, type: "file" as const, mode: 0o600, uid: 0, gid: 0, size: 3, sha256: "a".repeat(64) });

describe("backup manifest", () => {
  it("B7: a manifest naming a path that climbs out of data/ is refused, and a restore of it writes nothing", async () => {
    const backup = backupWith([file("data/../../escaped.txt")], () => undefined);
    const check = await verifyBackup(backup);
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(/outside the backup's data\/ directory/);
    const target = path.join(os.tmpdir(), `airlock-manifest-target-${process.pid}`);
    dirs.push(target);
    await expect(restoreBackup({ dir: backup, dataDir: target })).rejects.toThrow(/does not verify; nothing was restored/);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(path.join(path.dirname(backup), "escaped.txt"))).toBe(false);
  });

  it("B7: a manifest listing a file inside a symlink (which a restore would create first) is refused", async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-manifest-outside-"));
    dirs.push(outside);
    const backup = backupWith([{ path: "data/keys", type: "symlink", mode: 0o777, uid: 0, gid: 0, target: outside }, file("data/keys/planted")], (root) =>
      fs.symlinkSync(outside, path.join(root, "data", "keys")),
    );
    const check = await verifyBackup(backup);
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(/data\/keys\/planted .*inside something that is not a directory/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("B7: a backup without its manifest is called unfinished", async () => {
    const backup = backupWith([], () => undefined);
    fs.rmSync(path.join(backup, MANIFEST_FILE));
    const check = await verifyBackup(backup);
    expect(check.problems).toEqual([expect.stringMatching(/manifest.json is missing .*interrupted/)]);
  });
});
