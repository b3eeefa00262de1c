// Remote engines (issue 17): a sandbox on an engine that is not local keeps
// its /workspace in a Docker volume there, and the host keeps a mirror of it
// (<data>/workspaces/<runId>) for the shadow repository. This module packs the
// mirror into the tar the engine's archive API takes, and extracts the
// engine's tar of /workspace into a fresh mirror, treating it as what it is:
// data the agent controls, landing on the Airlock host.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import * as tar from "tar-stream";
import { AGENT_GID, AGENT_UID } from "./layout";
import { WORKSPACE_MODE } from "./workspace";

/** An entry of the engine's archive that the extraction refused, and why. */
export interface RefusedEntry {
  name: string;
  why: string;
}

export interface ExtractReport {
  entries: number;
  refused: RefusedEntry[];
}

/** Regular files are opened this way: never through a symlink, never over an existing name. */
const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Pipes and waits for the sink's "finish". Not stream.pipeline: tar-stream's
 * streams are readable-stream v3's, whose end-of-stream Node's pipeline can
 * miss (it waited forever for a "close" they never emit).
 */
function drainInto(source: NodeJS.ReadableStream, sink: Writable | NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    source.once("error", reject);
    sink.once("error", reject);
    sink.once("finish", () => resolve());
    source.pipe(sink);
  });
}

/** Mode bits kept from the archive: permissions (and the sticky bit on directories); setuid and setgid never. */
function safeMode(mode: number | undefined, dir: boolean): number {
  return (mode ?? (dir ? 0o755 : 0o644)) & (dir ? 0o1777 : 0o777);
}

/**
 * The mirror as a tar for `PUT /containers/{id}/archive?path=/workspace`
 * (the engine leaves the root's owner and mode alone: pushWorkspace's helper
 * sets them): every directory,
 * regular file and symlink under it (lstat: links are stored, never followed;
 * anything else is left out), all owned by the agent, setuid/setgid removed.
 */
export function packMirror(hostDir: string): Readable {
  const pack = tar.pack();
  // The agent's uid is past what a ustar header holds (7 octal digits): PAX records carry it.
  const owner = { uid: AGENT_UID, gid: AGENT_GID, uname: "", gname: "", pax: { uid: String(AGENT_UID), gid: String(AGENT_GID) } };
  const add = (header: tar.Headers, body?: Buffer | string) =>
    new Promise<void>((resolve, reject) => pack.entry(header, body ?? "", (err) => (err ? reject(err) : resolve())));
  const addFile = async (header: tar.Headers, abs: string) => {
    const fd = await fsp.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        fd.createReadStream({ autoClose: false }).on("error", reject).pipe(sink);
      });
    } finally {
      await fd.close();
    }
  };
  const walk = async (rel: string): Promise<void> => {
    const names = (await fsp.readdir(path.join(hostDir, rel))).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(hostDir, r);
      const st = await fsp.lstat(abs);
      const base = { name: r, mtime: st.mtime, ...owner };
      if (st.isDirectory()) {
        await add({ ...base, type: "directory", mode: safeMode(st.mode, true) });
        await walk(r);
      } else if (st.isFile()) {
        await addFile({ ...base, type: "file", mode: safeMode(st.mode, false), size: st.size }, abs);
      } else if (st.isSymbolicLink()) {
        await add({ ...base, type: "symlink", mode: 0o777, linkname: await fsp.readlink(abs) });
      }
    }
  };
  void (async () => {
    const root = await fsp.lstat(hostDir);
    if (!root.isDirectory()) throw new Error(`${hostDir} is not a directory`);
    await walk("");
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return pack;
}

/**
 * Extracts the engine's archive of a directory (entries named `prefix` and
 * `prefix/...`, as `GET /containers/{id}/archive` names them) into `destDir`,
 * an empty directory this call's caller just made. What the agent may have
 * planted cannot reach outside it:
 * - only directories, regular files and symlinks; a hardlink becomes a copy
 *   of a file extracted before it; devices, fifos and the rest are refused;
 * - no absolute names, no "." or ".." component, no empty component;
 * - every parent must be a directory this extraction created, so a symlink
 *   `a -> /etc` followed by `a/x` is refused (and links are never followed:
 *   files are created with O_EXCL|O_NOFOLLOW);
 * - setuid/setgid removed; everything owned by the agent's uid.
 */
export async function extractWorkspaceArchive(archive: NodeJS.ReadableStream, destDir: string, prefix: string): Promise<ExtractReport> {
  const report: ExtractReport = { entries: 0, refused: [] };
  const dirs = new Map<string, { abs: string; mode: number; mtime: Date | undefined }>([["", { abs: destDir, mode: WORKSPACE_MODE, mtime: undefined }]]);
  const files = new Map<string, string>();
  const taken = new Set<string>([""]);
  const extract = tar.extract();

  const relativeName = (raw: string): string | null => {
    const name = raw.replace(/\/+$/, "");
    if (name === prefix) return "";
    if (!name.startsWith(`${prefix}/`)) return null;
    const rel = name.slice(prefix.length + 1);
    return rel.split("/").some((part) => part === "" || part === "." || part === "..") ? null : rel;
  };

  const place = async (header: tar.Headers, body: Readable): Promise<string | null> => {
    const rel = relativeName(header.name);
    if (rel === null) return "a name outside the workspace or with '.', '..' or an empty component";
    if (rel === "") {
      dirs.get("")!.mtime = header.mtime;
      return null;
    }
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (!dirs.has(parent)) return "its parent is not a directory of this archive (a symlink, a file, or missing)";
    if (taken.has(rel)) return "a second entry of the same name";
    const abs = path.join(destDir, rel);
    const mtime = header.mtime ?? new Date();
    switch (header.type) {
      case "directory":
        await fsp.mkdir(abs, { mode: 0o700 });
        await fsp.chown(abs, AGENT_UID, AGENT_GID);
        dirs.set(rel, { abs, mode: safeMode(header.mode, true), mtime });
        break;
      case "file":
      case "contiguous-file": {
        const fd = await fsp.open(abs, CREATE_NEW, 0o600);
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) await fd.write(chunk);
          await fd.chown(AGENT_UID, AGENT_GID);
          await fd.chmod(safeMode(header.mode, false));
          await fd.utimes(mtime, mtime);
        } finally {
          await fd.close();
        }
        files.set(rel, abs);
        break;
      }
      case "symlink":
        await fsp.symlink(header.linkname ?? "", abs);
        await fsp.lchown(abs, AGENT_UID, AGENT_GID);
        await fsp.lutimes(abs, mtime, mtime);
        break;
      case "link": {
        // Named like an entry (prefix/...): only a file this extraction wrote can be its source.
        const source = header.linkname ? relativeName(header.linkname) : null;
        const from = source ? files.get(source) : undefined;
        if (!from) return "a hardlink to something that is not a file of this archive";
        await fsp.copyFile(from, abs, fs.constants.COPYFILE_EXCL);
        await fsp.chown(abs, AGENT_UID, AGENT_GID);
        await fsp.chmod(abs, safeMode(header.mode, false));
        await fsp.utimes(abs, mtime, mtime);
        files.set(rel, abs);
        break;
      }
      default:
        return `a ${header.type ?? "special"} entry (only files, directories and symlinks are copied)`;
    }
    taken.add(rel);
    report.entries += 1;
    return null;
  };

  extract.on("entry", (header, body, next) => {
    // (tar-stream's entry streams are readable-stream v3's: no readableEnded.)
    let ended = false;
    body.once("end", () => (ended = true));
    place(header, body)
      .then((refusal) => {
        if (refusal) report.refused.push({ name: header.name, why: refusal });
        // A file's body was read to its end by place(); anything else is drained here.
        if (ended) return next();
        body.once("end", () => next());
        body.resume();
      })
      .catch((err: Error) => {
        body.resume();
        next(err);
      });
  });
  await drainInto(archive, extract);
  // Directories last, deepest first: their modes may not let even their owner in, and writing children moved their mtimes.
  for (const [rel, d] of [...dirs].sort((a, b) => b[0].length - a[0].length)) {
    await fsp.chmod(d.abs, rel === "" ? WORKSPACE_MODE : d.mode);
    if (rel === "") await fsp.chown(d.abs, AGENT_UID, AGENT_GID);
    if (d.mtime) await fsp.utimes(d.abs, d.mtime, d.mtime);
  }
  return report;
}

/**
 * Replaces the mirror `hostDir` with the content of the engine's archive:
 * extracted into a fresh directory beside it, then swapped in, so what git
 * reads afterwards is exactly the sandbox's /workspace (nothing left over
 * from before) and a failed copy leaves the previous mirror in place.
 */
export async function replaceMirror(hostDir: string, archive: NodeJS.ReadableStream, prefix: string): Promise<ExtractReport> {
  const parent = path.dirname(hostDir);
  const tag = randomBytes(6).toString("hex");
  const fresh = path.join(parent, `.${path.basename(hostDir)}.pull-${tag}`);
  const old = path.join(parent, `.${path.basename(hostDir)}.old-${tag}`);
  await fsp.mkdir(fresh, { mode: WORKSPACE_MODE });
  let report: ExtractReport;
  try {
    report = await extractWorkspaceArchive(archive, fresh, prefix);
  } catch (err) {
    await fsp.rm(fresh, { recursive: true, force: true });
    throw err;
  }
  let moved = false;
  try {
    await fsp.rename(hostDir, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      await fsp.rm(fresh, { recursive: true, force: true });
      throw err;
    }
  }
  await fsp.rename(fresh, hostDir);
  if (moved) await fsp.rm(old, { recursive: true, force: true });
  return report;
}
