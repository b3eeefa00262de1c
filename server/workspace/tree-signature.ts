// A cheap, honest answer to "did anything in this workspace change since the
// last look?": one lstat of every entry (no file is read but tiny `.git`
// files, nothing is followed), folded into a digest. After a command that
// changed nothing, the checkpoint and the quota measurement reuse what they
// computed last time instead of freezing the sandbox and running git and du.
//
// What it relies on: every change to a file's content, mode, owner, size or
// links sets its ctime to the kernel's clock, and nothing in a container
// (no CAP_SYS_TIME) can set a ctime or the clock back; the mtime an agent may
// set (touch -d, utimes) updates ctime too. A change lands in the same clock
// tick as the ctime already recorded only when that ctime is not older than
// the look itself ("racy", as git calls it): such a signature is marked
// untrusted and never vouches for "unchanged". Directories are compared by
// their entries (every path is in the digest), mode and inode, not by their
// times (renames of nested `.git` entries by the checkpoint itself touch
// those); symlinks by their target (a link cannot be rewritten in place);
// regular files named like `.git` by their content (the checkpoint renames
// them, which moves their ctime). Directories checkpoints leave out
// (node_modules…) are looked at too: a setuid bit set in there must still
// reach the checkpoint's permission reset.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface TreeSignature {
  digest: string;
  entries: number;
  /** false when some entry changed so recently that a change in the same clock tick would not show (see above). */
  trusted: boolean;
}

export interface SignOptions {
  /** A file Airlock may write, on the same filesystem as the tree, whose ctime tells the filesystem's clock now. */
  stampFile?: string;
  /** Beyond this many entries the look gives up (null): a full measurement is then cheaper than holding a huge listing. */
  maxEntries?: number;
}

const DOTGIT = /^\.git(~airlock)*$/i;
/** When the stamp cannot tell the filesystem's clock: anything changed within this much of the look counts as racy. */
const CLOCK_MARGIN_NS = 2_000_000_000n;
const MAX_DOTGIT_BYTES = 64 * 1024;
/** Entries per slice of synchronous work before the event loop gets a turn. */
const SLICE = 256;
export const DEFAULT_MAX_ENTRIES = 50_000;

function typeOf(st: fs.BigIntStats): string {
  if (st.isFile()) return "f";
  if (st.isDirectory()) return "d";
  if (st.isSymbolicLink()) return "l";
  if (st.isFIFO()) return "p";
  if (st.isSocket()) return "s";
  return "o";
}

/** The filesystem's clock now (ns), as close below as can be known: the ctime of a file written just now. */
function fsClockNs(rootDev: bigint, stampFile: string | undefined): bigint {
  if (stampFile) {
    try {
      fs.writeFileSync(stampFile, "");
      const st = fs.lstatSync(stampFile, { bigint: true });
      if (st.dev === rootDev) return st.ctimeNs;
    } catch {
      // the margin below then
    }
  }
  return BigInt(Date.now()) * 1_000_000n - CLOCK_MARGIN_NS;
}

/** A `.git` file's content (read without following links or blocking); null when it cannot be read safely. */
function dotGitContent(file: string, st: fs.BigIntStats): Buffer | null {
  if (st.size > MAX_DOTGIT_BYTES) return null;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const again = fs.fstatSync(fd, { bigint: true });
    if (again.ino !== st.ino || !again.isFile()) return null;
    const buf = Buffer.alloc(MAX_DOTGIT_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return n > MAX_DOTGIT_BYTES ? null : buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The signature of the tree under `root` (root included). null when the
 * tree cannot be looked at (gone, unreadable) or has more than maxEntries
 * entries: callers then measure in full.
 */
export async function signWorkTree(root: string, opts: SignOptions = {}): Promise<TreeSignature | null> {
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  let rootSt: fs.BigIntStats;
  try {
    rootSt = fs.lstatSync(root, { bigint: true });
  } catch {
    return null;
  }
  if (!rootSt.isDirectory()) return null;
  const startedNs = fsClockNs(rootSt.dev, opts.stampFile);
  const hash = crypto.createHash("sha256");
  let trusted = true;
  let entries = 0;
  let sinceYield = 0;
  const add = (rel: string, st: fs.BigIntStats, abs: string): boolean => {
    const type = typeOf(st);
    let record = `${rel}\0${type}\0${st.mode}\0${st.dev}:${st.ino}\0${st.uid}:${st.gid}`;
    if (type === "d") {
      // Its entries (each in the digest), mode, inode and size; not its times (see the module head).
      record += `\0${st.size}\0${st.blocks}`;
    } else if (type === "l") {
      let target: string;
      try {
        target = fs.readlinkSync(abs);
      } catch {
        return false;
      }
      record += `\0${target}`;
    } else if (type === "f" && DOTGIT.test(path.basename(rel))) {
      const content = dotGitContent(abs, st);
      if (!content) return false;
      record += `\0${st.size}\0${st.mtimeNs}\0${crypto.createHash("sha256").update(content).digest("hex")}`;
    } else {
      record += `\0${st.size}\0${st.blocks}\0${st.nlink}\0${st.mtimeNs}\0${st.ctimeNs}`;
      if (st.ctimeNs >= startedNs) trusted = false;
    }
    hash.update(record);
    hash.update("\n");
    return true;
  };
  if (!add(".", rootSt, root)) return null;
  const queue: string[] = [""];
  while (queue.length > 0) {
    const rel = queue.shift()!;
    const abs = rel ? path.join(root, rel) : root;
    let names: string[];
    try {
      names = fs.readdirSync(abs).sort();
    } catch {
      return null;
    }
    for (const name of names) {
      if (++entries > maxEntries) return null;
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = path.join(abs, name);
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(childAbs, { bigint: true });
      } catch {
        return null; // vanished while looked at: something is changing it
      }
      if (!add(childRel, st, childAbs)) return null;
      if (st.isDirectory()) queue.push(childRel);
      if (++sinceYield >= SLICE) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  return { digest: hash.digest("hex"), entries, trusted };
}

/** True when `now` vouches that nothing changed since `before` was taken. */
export function unchangedSince(before: TreeSignature | null | undefined, now: TreeSignature | null): boolean {
  return Boolean(before && now && before.trusted && before.digest === now.digest);
}
