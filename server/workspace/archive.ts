// Uploaded archives (tar, tar.gz, zip) as workspace sources. Every entry is
// checked before anything is written: relative, normalised paths only (no
// absolute paths, no `..`, no control characters), regular files and
// directories only (no symlinks, hard links or devices), no duplicates,
// bounded file count and expanded size — counted while decompressing, so a
// bomb is stopped by what it produces, not by what it declares.
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import { constants as fsc } from "node:fs";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";

export interface ArchiveLimits {
  archiveMaxBytes: number;
  archiveMaxExpandedBytes: number;
  archiveMaxFiles: number;
}

export type ArchiveFormat = "tar" | "tar.gz" | "zip";

export interface ArchiveSummary {
  format: ArchiveFormat;
  fileCount: number;
  dirCount: number;
  expandedBytes: number;
}

export class ArchiveError extends Error {
  readonly code = "INVALID_ARCHIVE";
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** A size limit as people read it: MB when it is whole megabytes or more, bytes below (a small test cap is not "0 MB"). */
export function sizeLimit(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB` : `${bytes} bytes`;
}

export function archiveTooLarge(maxBytes: number): string {
  return `The archive is larger than ${sizeLimit(maxBytes)} (the limit, AIRLOCK_ARCHIVE_MAX_MB).`;
}

const MAX_PATH = 1024;
const MAX_COMPONENT = 255;

/** The entry's path, normalised, or an ArchiveError saying why it is refused. */
export function checkEntryPath(raw: string): string {
  const shown = JSON.stringify(raw.slice(0, 200));
  if (raw.length === 0) throw new ArchiveError("An entry has an empty name.");
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new ArchiveError(`Entry ${shown} has control characters in its name.`);
  if (raw.includes("\\")) throw new ArchiveError(`Entry ${shown} uses backslashes; archives must use "/" between directories.`);
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) throw new ArchiveError(`Entry ${shown} has an absolute path.`);
  let p = raw;
  while (p.startsWith("./")) p = p.slice(2);
  if (p.endsWith("/")) p = p.slice(0, -1);
  if (p === "" || p === ".") return "";
  const parts = p.split("/");
  for (const part of parts) {
    if (part === "..") throw new ArchiveError(`Entry ${shown} climbs out of the workspace ("..").`);
    if (part === "" || part === ".") throw new ArchiveError(`Entry ${shown} has an empty or "." path component.`);
    if (Buffer.byteLength(part) > MAX_COMPONENT) throw new ArchiveError(`Entry ${shown} has a name longer than ${MAX_COMPONENT} bytes.`);
  }
  if (Buffer.byteLength(p) > MAX_PATH) throw new ArchiveError(`Entry ${shown} has a path longer than ${MAX_PATH} bytes.`);
  return p;
}

interface Entry {
  path: string;
  type: "file" | "dir";
  size: number;
  executable: boolean;
}

/** Tracks entries across the archive: duplicates, file/directory clashes, counts. */
class EntryBook {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();
  fileCount = 0;
  dirCount = 0;
  expanded = 0;

  constructor(private readonly limits: ArchiveLimits) {}

  add(entry: Entry): void {
    if (entry.path === "") {
      if (entry.type === "dir") return;
      throw new ArchiveError("A file entry has no name.");
    }
    if (this.files.has(entry.path) || (entry.type === "file" && this.dirs.has(entry.path))) {
      throw new ArchiveError(`Entry ${JSON.stringify(entry.path)} appears twice (or as both a file and a directory).`);
    }
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (this.files.has(parent)) throw new ArchiveError(`Entry ${JSON.stringify(entry.path)} is inside ${JSON.stringify(parent)}, which is a file.`);
      this.dirs.add(parent);
    }
    if (entry.type === "dir") {
      if (!this.dirs.has(entry.path)) this.dirCount++;
      this.dirs.add(entry.path);
      return;
    }
    this.files.add(entry.path);
    this.fileCount++;
    if (this.fileCount > this.limits.archiveMaxFiles)
      throw new ArchiveError(`The archive has more than ${this.limits.archiveMaxFiles} files (the limit, AIRLOCK_ARCHIVE_MAX_FILES).`);
  }

  count(bytes: number): void {
    this.expanded += bytes;
    if (this.expanded > this.limits.archiveMaxExpandedBytes) {
      throw new ArchiveError(
        `The archive expands to more than ${sizeLimit(this.limits.archiveMaxExpandedBytes)} (the limit, AIRLOCK_ARCHIVE_MAX_EXPANDED_MB).`,
      );
    }
  }
}

/** Where entries' bytes go: nowhere (inspection) or into the destination directory. */
interface EntrySink {
  open(entry: Entry): Promise<Writable | null>;
}

const discard: EntrySink = { open: async () => null };

function directorySink(dest: string): EntrySink {
  return {
    async open(entry) {
      const target = path.join(dest, entry.path);
      if (entry.type === "dir") {
        await fs.mkdir(target, { recursive: true, mode: 0o755 });
        return null;
      }
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      // Never through a link, never over an existing file.
      const handle = await fs.open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, entry.executable ? 0o755 : 0o644);
      return handle.createWriteStream();
    },
  };
}

export async function detectFormat(file: string): Promise<ArchiveFormat> {
  const handle = await fs.open(file, "r");
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "tar.gz";
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x04034b50) return "zip";
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x06054b50) return "zip";
    if (bytesRead >= 262 && head.subarray(257, 262).toString("latin1") === "ustar") return "tar";
  } finally {
    await handle.close();
  }
  throw new ArchiveError("This is not a tar, tar.gz or zip archive.");
}

// ---------------------------------------------------------------- tar

function octal(field: Buffer): number {
  // GNU base-256 for large sizes.
  if ((field[0]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  return text ? parseInt(text, 8) : 0;
}

function cstring(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(body.subarray(pos, space).toString("latin1"), 10);
    if (!Number.isFinite(len) || len <= 0) throw new ArchiveError("The archive has a malformed pax header.");
    const record = body.subarray(space + 1, pos + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Reads a tar stream block by block; entries' bytes go to the sink. */
async function readTar(stream: Readable, book: EntryBook, sink: EntrySink): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let ended = false;
  async function need(n: number): Promise<boolean> {
    while (buf.length < n && !ended) {
      const next = await chunks.next();
      if (next.done) ended = true;
      else buf = buf.length ? Buffer.concat([buf, next.value]) : next.value;
    }
    return buf.length >= n;
  }
  function take(n: number): Buffer {
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  }
  let longName: string | null = null;
  let pax: Record<string, string> = {};
  let global: Record<string, string> = {};
  for (;;) {
    if (!(await need(512))) throw new ArchiveError("The tar archive ends in the middle of an entry.");
    const header = take(512);
    if (header.every((b) => b === 0)) return; // end of archive
    const sum = octal(header.subarray(148, 156));
    let computed = 0;
    for (let i = 0; i < 512; i++) computed += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== computed) throw new ArchiveError("The tar archive is corrupt (bad header checksum).");
    const typeflag = String.fromCharCode(header[156]!) || "0";
    let size = octal(header.subarray(124, 136));
    const padded = Math.ceil(size / 512) * 512;
    if (typeflag === "x" || typeflag === "g" || typeflag === "L") {
      if (size > 1024 * 1024) throw new ArchiveError("The archive has an oversized metadata header.");
      if (!(await need(padded))) throw new ArchiveError("The tar archive ends in the middle of a header.");
      const body = take(padded).subarray(0, size);
      if (typeflag === "x") pax = parsePax(body);
      else if (typeflag === "g") global = { ...global, ...parsePax(body) };
      else longName = cstring(body);
      continue;
    }
    const meta = { ...global, ...pax };
    const prefix = cstring(header.subarray(345, 500));
    const rawName = meta.path ?? longName ?? (prefix ? `${prefix}/${cstring(header.subarray(0, 100))}` : cstring(header.subarray(0, 100)));
    if (meta.size !== undefined) size = Number(meta.size);
    pax = {};
    longName = null;
    const mode = octal(header.subarray(100, 108));
    let type: Entry["type"];
    if (typeflag === "0" || typeflag === "\0" || typeflag === "7") type = "file";
    else if (typeflag === "5") type = "dir";
    else if (typeflag === "1" || typeflag === "2" || typeflag === "K")
      throw new ArchiveError(`Entry ${JSON.stringify(rawName)} is a link; archives may contain only files and directories.`);
    else
      throw new ArchiveError(
        `Entry ${JSON.stringify(rawName)} is a special file (type ${JSON.stringify(typeflag)}); archives may contain only files and directories.`,
      );
    const entry: Entry = { path: checkEntryPath(rawName), type, size: type === "file" ? size : 0, executable: (mode & 0o100) !== 0 };
    book.add(entry);
    const out = await sink.open(entry);
    const dataPadded = Math.ceil(size / 512) * 512;
    let remaining = size;
    let skip = dataPadded - size;
    try {
      while (remaining > 0) {
        if (!(await need(1))) throw new ArchiveError(`The tar archive ends in the middle of ${JSON.stringify(entry.path)}.`);
        const piece = take(Math.min(remaining, buf.length));
        remaining -= piece.length;
        book.count(piece.length);
        if (out && !out.write(piece)) await new Promise<void>((r) => out.once("drain", () => r()));
      }
    } finally {
      if (out) await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    while (skip > 0) {
      if (!(await need(1))) return; // tolerate a missing final padding
      skip -= take(Math.min(skip, buf.length)).length;
    }
  }
}

// ---------------------------------------------------------------- zip

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  externalAttrs: number;
  madeBy: number;
}

function readZipDirectory(data: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--) {
    if (data.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveError("The zip archive is corrupt (no central directory).");
  const count = data.readUInt16LE(eocd + 10);
  const cdSize = data.readUInt32LE(eocd + 12);
  const cdOffset = data.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw new ArchiveError("ZIP64 archives are not supported; use tar.gz for very large archives.");
  if (cdOffset + cdSize > data.length) throw new ArchiveError("The zip archive is corrupt (central directory out of range).");
  const entries: ZipEntry[] = [];
  let pos = cdOffset;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > data.length || data.readUInt32LE(pos) !== 0x02014b50) throw new ArchiveError("The zip archive is corrupt (bad central directory entry).");
    const nameLen = data.readUInt16LE(pos + 28);
    const extraLen = data.readUInt16LE(pos + 30);
    const commentLen = data.readUInt16LE(pos + 32);
    entries.push({
      madeBy: data.readUInt16LE(pos + 4),
      flags: data.readUInt16LE(pos + 8),
      method: data.readUInt16LE(pos + 10),
      compressedSize: data.readUInt32LE(pos + 20),
      size: data.readUInt32LE(pos + 24),
      externalAttrs: data.readUInt32LE(pos + 38),
      localOffset: data.readUInt32LE(pos + 42),
      name: data.subarray(pos + 46, pos + 46 + nameLen).toString("utf8"),
    });
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

async function readZip(file: string, book: EntryBook, sink: EntrySink): Promise<void> {
  const data = await fs.readFile(file);
  for (const z of readZipDirectory(data)) {
    const unixMode = z.madeBy >> 8 === 3 ? z.externalAttrs >>> 16 : 0;
    const fileType = unixMode & 0o170000;
    if (fileType === 0o120000) throw new ArchiveError(`Entry ${JSON.stringify(z.name)} is a symbolic link; archives may contain only files and directories.`);
    if (fileType !== 0 && fileType !== 0o100000 && fileType !== 0o040000)
      throw new ArchiveError(`Entry ${JSON.stringify(z.name)} is a special file; archives may contain only files and directories.`);
    if (z.flags & 0x1) throw new ArchiveError(`Entry ${JSON.stringify(z.name)} is encrypted.`);
    const isDir = z.name.endsWith("/") || fileType === 0o040000;
    const entry: Entry = { path: checkEntryPath(z.name), type: isDir ? "dir" : "file", size: isDir ? 0 : z.size, executable: (unixMode & 0o100) !== 0 };
    book.add(entry);
    if (isDir) {
      await sink.open(entry);
      continue;
    }
    if (z.method !== 0 && z.method !== 8) throw new ArchiveError(`Entry ${JSON.stringify(z.name)} uses an unsupported compression method (${z.method}).`);
    const lh = z.localOffset;
    if (lh + 30 > data.length || data.readUInt32LE(lh) !== 0x04034b50)
      throw new ArchiveError(`The zip archive is corrupt (bad local header for ${JSON.stringify(z.name)}).`);
    const start = lh + 30 + data.readUInt16LE(lh + 26) + data.readUInt16LE(lh + 28);
    if (start + z.compressedSize > data.length) throw new ArchiveError(`The zip archive is corrupt (${JSON.stringify(z.name)} runs past its end).`);
    const raw = data.subarray(start, start + z.compressedSize);
    const out = await sink.open(entry);
    let produced = 0;
    const counter = new Writable({
      write(chunk: Buffer, _enc, cb) {
        produced += chunk.length;
        try {
          // The declared size may lie: stop at it, and at the archive's budget.
          if (produced > z.size) throw new ArchiveError(`Entry ${JSON.stringify(z.name)} expands beyond its declared size.`);
          book.count(chunk.length);
        } catch (err) {
          cb(err as Error);
          return;
        }
        if (out && !out.write(chunk)) out.once("drain", () => cb());
        else cb();
      },
    });
    try {
      const source = Readable.from([raw]);
      if (z.method === 0) await pipeline(source, counter);
      else await pipeline(source, zlib.createInflateRaw(), counter);
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      throw new ArchiveError(`Entry ${JSON.stringify(z.name)} could not be decompressed: ${(err as Error).message}`);
    } finally {
      if (out) await new Promise<void>((resolve) => out.end(() => resolve()));
    }
    if (produced !== z.size) throw new ArchiveError(`Entry ${JSON.stringify(z.name)} is shorter than its declared size.`);
  }
}

// ---------------------------------------------------------------- entry points

async function walkArchive(file: string, limits: ArchiveLimits, sink: EntrySink): Promise<ArchiveSummary> {
  const st = await fs.stat(file);
  if (st.size > limits.archiveMaxBytes) throw new ArchiveError(archiveTooLarge(limits.archiveMaxBytes));
  const format = await detectFormat(file);
  const book = new EntryBook(limits);
  if (format === "zip") await readZip(file, book, sink);
  else {
    const raw = createReadStream(file);
    const stream = format === "tar.gz" ? raw.pipe(zlib.createGunzip()) : raw;
    raw.on("error", (err) => stream.destroy(err));
    try {
      await readTar(stream, book, sink);
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      throw new ArchiveError(`The archive could not be read: ${(err as Error).message}`);
    } finally {
      stream.destroy();
      raw.destroy();
    }
  }
  return { format, fileCount: book.fileCount, dirCount: book.dirCount, expandedBytes: book.expanded };
}

/** Checks a whole archive without writing anything. */
export function inspectArchive(file: string, limits: ArchiveLimits): Promise<ArchiveSummary> {
  return walkArchive(file, limits, discard);
}

/**
 * Extracts into an empty directory, after checking the whole archive first
 * (so a refused archive leaves nothing behind).
 */
export async function extractArchive(file: string, dest: string, limits: ArchiveLimits): Promise<ArchiveSummary> {
  await inspectArchive(file, limits);
  if ((await fs.readdir(dest)).length > 0) throw new ArchiveError("The workspace is not empty; an archive is only extracted into a new workspace.");
  try {
    return await walkArchive(file, limits, directorySink(dest));
  } catch (err) {
    // Leave no half-extracted tree behind.
    for (const name of await fs.readdir(dest)) await fs.rm(path.join(dest, name), { recursive: true, force: true });
    throw err;
  }
}
