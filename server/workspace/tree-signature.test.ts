// The tree signature that lets a checkpoint or a quota measurement after a
// command that changed nothing skip git and du: on a real filesystem, every
// kind of change a command can make must show, including the ones that keep
// a file's size and mtime.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signWorkTree, unchangedSince, type TreeSignature } from "./tree-signature";

let root: string;
let ws: string;
let stampFile: string;

/** Waits past the filesystem clock's tick, as the time between a command's last write and its checkpoint does. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
}

async function sign(): Promise<TreeSignature> {
  const s = await signWorkTree(ws, { stampFile });
  expect(s).not.toBeNull();
  return s!;
}

/** A signature to compare against, taken once the tree is quiet (as after a command). */
async function settledSignature(): Promise<TreeSignature> {
  await settle();
  const s = await sign();
  expect(s.trusted).toBe(true);
  return s;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-treesig-"));
  ws = path.join(root, "ws");
  fs.mkdirSync(path.join(ws, "src"), { recursive: true });
  fs.writeFileSync(path.join(ws, "src", "a.txt"), "aaaa\n");
  fs.writeFileSync(path.join(ws, "b.txt"), "bbbb\n");
  fs.symlinkSync("src/a.txt", path.join(ws, "link"));
  stampFile = path.join(root, "stamp");
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("tree signature", () => {
  it("C1: a tree nothing touched signs the same twice, and the first look vouches for the second", async () => {
    const before = await settledSignature();
    const after = await sign();
    expect(after.digest).toBe(before.digest);
    expect(unchangedSince(before, after)).toBe(true);
  });

  it("C2: a file rewritten in place with the same size and its old mtime put back is a change", async () => {
    const file = path.join(ws, "src", "a.txt");
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000); // a time utimes can put back exactly
    const old = fs.statSync(file);
    const before = await settledSignature();
    fs.writeFileSync(file, "AAAA\n"); // same inode, same size
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const now = fs.statSync(file);
    expect([now.ino, now.size, now.mtimeMs]).toEqual([old.ino, old.size, old.mtimeMs]);
    expect(unchangedSince(before, await sign())).toBe(false);
  });

  it("C2: swapping two files of the same size, a chmod, a new empty file, a deletion and a retargeted link are each a change", async () => {
    const changes: (() => void)[] = [
      () => {
        fs.renameSync(path.join(ws, "b.txt"), path.join(ws, "tmp"));
        fs.renameSync(path.join(ws, "src", "a.txt"), path.join(ws, "b.txt"));
        fs.renameSync(path.join(ws, "tmp"), path.join(ws, "src", "a.txt"));
      },
      () => fs.chmodSync(path.join(ws, "b.txt"), 0o4755),
      () => fs.chmodSync(path.join(ws, "src"), 0o2775),
      () => fs.writeFileSync(path.join(ws, "src", "new"), ""),
      () => fs.rmSync(path.join(ws, "b.txt")),
      () => {
        fs.rmSync(path.join(ws, "link"));
        fs.symlinkSync("b.txt", path.join(ws, "link"));
      },
      () => fs.chmodSync(ws, 0o777),
    ];
    for (const change of changes) {
      const before = await settledSignature();
      change();
      expect(unchangedSince(before, await sign()), change.toString()).toBe(false);
    }
  });

  it("C2: a change inside a directory checkpoints leave out (node_modules) is still a change (its setuid bits must be reset)", async () => {
    fs.mkdirSync(path.join(ws, "node_modules", "d"), { recursive: true });
    fs.writeFileSync(path.join(ws, "node_modules", "d", "y"), "#!/bin/sh\n");
    const before = await settledSignature();
    fs.chmodSync(path.join(ws, "node_modules", "d", "y"), 0o2755);
    expect(unchangedSince(before, await sign())).toBe(false);
  });

  it("C2: a .git file's content change is caught even with its size and mtime kept (its ctime is not used: checkpoints rename it)", async () => {
    const file = path.join(ws, "src", ".git");
    fs.writeFileSync(file, "gitdir: ../x\n");
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const before = await settledSignature();
    // What the checkpoint itself does to it: renamed away and back (ctime moves): not a change.
    fs.renameSync(file, `${file}~airlock`);
    fs.renameSync(`${file}~airlock`, file);
    expect(unchangedSince(before, await sign())).toBe(true);
    fs.writeFileSync(file, "gitdir: ../y\n");
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    expect(fs.statSync(file).size).toBe(13);
    expect(unchangedSince(before, await sign())).toBe(false);
  });

  it("C3: a look that cannot tell the filesystem's clock treats a file changed just now as racy and never vouches with it", async () => {
    fs.writeFileSync(path.join(ws, "b.txt"), "BBBB\n");
    // No stamp file: the clock margin applies, and b.txt changed well within it.
    const racy = await signWorkTree(ws);
    expect(racy!.trusted).toBe(false);
    expect(unchangedSince(racy, await signWorkTree(ws))).toBe(false);
  });

  it("C3: a file changed after the stamp of the look is racy; the next look, after the clock moved on, is trusted", async () => {
    // The stamp is written at the start of the look; a file whose ctime is not older than it cannot vouch.
    const s1 = await signWorkTree(ws, { stampFile });
    const stampCtime = fs.statSync(stampFile, { bigint: true }).ctimeNs;
    const newest = [path.join(ws, "b.txt"), path.join(ws, "src", "a.txt")]
      .map((f) => fs.statSync(f, { bigint: true }).ctimeNs)
      .reduce((a, b) => (a > b ? a : b));
    expect(s1!.trusted).toBe(newest < stampCtime);
    expect((await settledSignature()).trusted).toBe(true);
  });

  it("gives up (null) past maxEntries, so a huge tree is measured in full instead", async () => {
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(ws, `f${i}`), "x");
    expect(await signWorkTree(ws, { stampFile, maxEntries: 10 })).toBeNull();
    expect(await signWorkTree(path.join(ws, "missing"), { stampFile })).toBeNull();
  });
});
