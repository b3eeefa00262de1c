// Hand-built tar and zip archives for tests, including the malformed and
// malicious ones real tools refuse to produce (zip-slip, links, lying sizes).
import zlib from "node:zlib";

export interface TarEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "fifo";
  content?: Buffer | string;
  mode?: number;
  linkname?: string;
}

function field(buf: Buffer, offset: number, length: number, value: string) {
  buf.write(value.slice(0, length), offset, length, "utf8");
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, "0") + "\0";
}

export function tarHeader(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, e.name);
  field(h, 100, 8, octal(e.mode ?? (e.type === "dir" ? 0o755 : 0o644), 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(1_700_000_000, 12));
  const flag = { file: "0", dir: "5", symlink: "2", hardlink: "1", fifo: "6" }[e.type ?? "file"];
  field(h, 156, 1, flag);
  field(h, 157, 100, e.linkname ?? "");
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

export function buildTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.type === "file" || !e.type ? Buffer.from(e.content ?? "") : Buffer.alloc(0);
    parts.push(tarHeader(e, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function buildTarGz(entries: TarEntry[]): Buffer {
  return zlib.gzipSync(buildTar(entries));
}

export interface ZipEntry {
  name: string;
  content?: Buffer | string;
  /** Unix mode with file type bits (0o100644, 0o120777 for a symlink…). */
  unixMode?: number;
  /** Declare this uncompressed size instead of the real one (a lying entry). */
  declaredSize?: number;
  store?: boolean;
}

export function buildZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.from(e.content ?? "");
    const compressed = e.store ? data : zlib.deflateRawSync(data);
    const crc = zlib.crc32(data);
    const name = Buffer.from(e.name, "utf8");
    const size = e.declaredSize ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(e.store ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, compressed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.store ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.unixMode ?? (e.name.endsWith("/") ? 0o040755 : 0o100644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + compressed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
