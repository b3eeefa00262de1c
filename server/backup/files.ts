// Copying trees into and out of a backup: never following a symlink, hashing
// the bytes as they are written, and recording each entry for the manifest.
import crypto from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface ManifestEntry {
  /** Relative to the backup directory, "/"-separated (data/workspaces/<run>/a.txt). */
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  /** A symlink's target, as written (never followed). */
  target?: string;
}

/** Names never copied wherever they appear: lock files (a stale copy would block git or Airlock after a restore), sockets by name. */
export const EXCLUDED_NAME = /\.(lock|sock|pid)$/;

export interface CopyOptions {
  /** Relative to the tree's root, "/"-separated: true leaves the entry (and a directory's contents) out. */
  skip?: (rel: string) => boolean;
  /** Only entries for which this is true at the top of the tree (run twice to copy some entries first). */
  only?: (rel: string) => boolean;
}

/** sha256 of a byte stream as it passes through. */
export function hashingPassThrough(): { stream: Transform; digest: () => { sha256: string; size: number } } {
  const hash = crypto.createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  return { stream, digest: () => ({ sha256: hash.digest("hex"), size }) };
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const h = hashingPassThrough();
  await pipeline(createReadStream(file), h.stream, async function* (source) {
    for await (const _ of source) void _;
  });
  return h.digest();
}

/** Copies one regular file, hashing what was written; null when the source vanished meanwhile. */
export async function copyFileHashed(src: string, dst: string, mode: number): Promise<{ sha256: string; size: number } | null> {
  const h = hashingPassThrough();
  try {
    await pipeline(createReadStream(src), h.stream, createWriteStream(dst, { mode: 0o600, flags: "wx" }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      await fs.rm(dst, { force: true });
      return null;
    }
    throw err;
  }
  await fs.chmod(dst, mode & 0o777);
  return h.digest();
}

/**
 * Copies the tree `src` to `dst` (which the caller created) and returns its
 * entries, named `prefix/<rel>`. Symlinks are copied as links; sockets,
 * fifos and devices are left out (listed in `skipped`); entries that vanish
 * while the copy runs are left out too (a run's finished workspace being
 * cleaned up, a git object repacked).
 */
export async function copyTree(src: string, dst: string, prefix: string, opts: CopyOptions = {}): Promise<{ entries: ManifestEntry[]; skipped: string[] }> {
  const entries: ManifestEntry[] = [];
  const skipped: string[] = [];
  async function visit(rel: string): Promise<void> {
    let names: string[];
    try {
      names = (await fs.readdir(path.join(src, rel))).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (!rel && opts.only && !opts.only(childRel)) continue;
      if (EXCLUDED_NAME.test(name) || opts.skip?.(childRel)) continue;
      const from = path.join(src, childRel);
      const to = path.join(dst, childRel);
      let st;
      try {
        st = await fs.lstat(from);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const base = { path: `${prefix}/${childRel}`, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        await fs.mkdir(to, { mode: 0o700 });
        entries.push({ ...base, type: "dir" });
        await visit(childRel);
      } else if (st.isSymbolicLink()) {
        const target = await fs.readlink(from).catch(() => null);
        if (target === null) continue;
        await fs.symlink(target, to);
        entries.push({ ...base, type: "symlink", target });
      } else if (st.isFile()) {
        const copied = await copyFileHashed(from, to, st.mode);
        if (copied) entries.push({ ...base, type: "file", ...copied });
      } else {
        skipped.push(`${prefix}/${childRel}`);
      }
    }
  }
  await visit("");
  return { entries, skipped };
}

/** Every entry under `root` (lstat, never following links), "/"-separated relative paths, parents before children. */
export async function listTree(root: string): Promise<{ rel: string; type: ManifestEntry["type"] | "other"; size: number }[]> {
  const out: { rel: string; type: ManifestEntry["type"] | "other"; size: number }[] = [];
  async function visit(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(path.join(root, childRel));
      const type = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other";
      out.push({ rel: childRel, type, size: st.size });
      if (type === "dir") await visit(childRel);
    }
  }
  await visit("");
  return out;
}

/** true when `dir` does not exist or is an empty directory; throws when it is something else. */
export async function isEmptyOrMissing(dir: string): Promise<boolean> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
  if (!st.isDirectory()) return false;
  return (await fs.readdir(dir)).length === 0;
}
