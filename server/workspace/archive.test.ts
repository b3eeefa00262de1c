// Uploaded archives: good ones extract byte for byte with their executable
// bits; malicious ones are refused whole, before anything is written.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { buildTar, buildTarGz, buildZip } from "@/test/helpers/archives";
import { ArchiveError, checkEntryPath, extractArchive, inspectArchive, type ArchiveLimits } from "./archive";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-archive-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const limits: ArchiveLimits = { archiveMaxBytes: 10 * 1024 * 1024, archiveMaxExpandedBytes: 1024 * 1024, archiveMaxFiles: 100 };
let counter = 0;

function file(name: string, bytes: Buffer): string {
  const p = path.join(root, `${++counter}-${name}`);
  fs.writeFileSync(p, bytes);
  return p;
}

function emptyDir(): string {
  const d = path.join(root, `dest-${++counter}`);
  fs.mkdirSync(d);
  return d;
}

async function refused(archive: string, pattern: RegExp) {
  const dest = emptyDir();
  const err = await extractArchive(archive, dest, limits).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArchiveError);
  expect((err as Error).message).toMatch(pattern);
  expect(fs.readdirSync(dest)).toEqual([]);
  expect(fs.existsSync(path.join(root, "evil"))).toBe(false);
}

describe("archive entry paths", () => {
  it("accepts plain relative paths and normalises ./ prefixes", () => {
    expect(checkEntryPath("./src/a.ts")).toBe("src/a.ts");
    expect(checkEntryPath("dir/")).toBe("dir");
  });
  it.each(["../evil", "a/../../evil", "/etc/passwd", "C:/windows", "a\\..\\evil", "a//b", "a/./b", "bad\nname"])("refuses %j", (p) => {
    expect(() => checkEntryPath(p)).toThrow(ArchiveError);
  });
});

describe("extracting archives", () => {
  it("extracts a tar.gz with contents, directories and executable bits", async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const archive = file(
      "ok.tar.gz",
      buildTarGz([
        { name: "src/", type: "dir" },
        { name: "src/main.py", content: "print('hi')\n" },
        { name: "run.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        { name: "data.bin", content: binary },
        { name: ".git/config", content: "[core]\n" },
      ]),
    );
    const dest = emptyDir();
    const summary = await extractArchive(archive, dest, limits);
    expect(summary).toMatchObject({ format: "tar.gz", fileCount: 4 });
    expect(fs.readFileSync(path.join(dest, "src/main.py"), "utf8")).toBe("print('hi')\n");
    expect(fs.statSync(path.join(dest, "run.sh")).mode & 0o111).not.toBe(0);
    expect(fs.statSync(path.join(dest, "src/main.py")).mode & 0o111).toBe(0);
    expect(fs.readFileSync(path.join(dest, "data.bin")).equals(binary)).toBe(true);
  });

  it("extracts a zip with an executable file", async () => {
    const archive = file(
      "ok.zip",
      buildZip([{ name: "dir/" }, { name: "dir/a.txt", content: "a".repeat(1000) }, { name: "tool", content: "#!/bin/sh\n", unixMode: 0o100755 }]),
    );
    const dest = emptyDir();
    expect(await extractArchive(archive, dest, limits)).toMatchObject({ format: "zip", fileCount: 2 });
    expect(fs.readFileSync(path.join(dest, "dir/a.txt"), "utf8")).toBe("a".repeat(1000));
    expect(fs.statSync(path.join(dest, "tool")).mode & 0o111).not.toBe(0);
  });

  it("refuses a zip-slip entry in a zip", async () => {
    await refused(
      file(
        "slip.zip",
        buildZip([
          { name: "ok.txt", content: "fine" },
          { name: "../evil", content: "pwned" },
        ]),
      ),
      /climbs out/,
    );
  });

  it("refuses a zip-slip entry in a tar", async () => {
    await refused(
      file(
        "slip.tar",
        buildTar([
          { name: "ok.txt", content: "fine" },
          { name: "a/../../evil", content: "pwned" },
        ]),
      ),
      /climbs out/,
    );
  });

  it("refuses absolute paths", async () => {
    await refused(file("abs.tar", buildTar([{ name: "/tmp/evil", content: "pwned" }])), /absolute/);
    await refused(file("abs.zip", buildZip([{ name: "/tmp/evil", content: "pwned" }])), /absolute/);
  });

  it("refuses symbolic links, hard links and special files", async () => {
    await refused(
      file(
        "link.tar",
        buildTar([
          { name: "escape", type: "symlink", linkname: "/etc" },
          { name: "escape/passwd", content: "x" },
        ]),
      ),
      /link/,
    );
    await refused(file("hard.tar", buildTar([{ name: "h", type: "hardlink", linkname: "/etc/shadow" }])), /link/);
    await refused(file("fifo.tar", buildTar([{ name: "f", type: "fifo" }])), /special file/);
    await refused(file("link.zip", buildZip([{ name: "escape", content: "/etc", unixMode: 0o120777 }])), /symbolic link/);
  });

  it("refuses a gzip bomb by what it produces", async () => {
    const bomb = buildTarGz([{ name: "zeros", content: Buffer.alloc(50 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(200 * 1024);
    await refused(file("bomb.tar.gz", bomb), /expands to more than/);
  });

  it("refuses a zip entry that expands beyond its declared size", async () => {
    await refused(file("liar.zip", buildZip([{ name: "small.txt", content: Buffer.alloc(5 * 1024 * 1024), declaredSize: 10 }])), /beyond its declared size/);
  });

  it("refuses too many files, duplicates and file/directory clashes", async () => {
    await refused(file("many.tar", buildTar(Array.from({ length: 101 }, (_, i) => ({ name: `f${i}`, content: "x" })))), /more than 100 files/);
    await refused(
      file(
        "dup.zip",
        buildZip([
          { name: "a", content: "1" },
          { name: "a", content: "2" },
        ]),
      ),
      /twice/,
    );
    await refused(
      file(
        "clash.tar",
        buildTar([
          { name: "a", content: "1" },
          { name: "a/b", content: "2" },
        ]),
      ),
      /which is a file/,
    );
  });

  it("refuses files that are not archives and corrupt tar headers", async () => {
    await refused(file("text.txt", Buffer.from("just text")), /not a tar/);
    const tar = buildTar([{ name: "a", content: "1" }]);
    tar[10] = 0x41; // breaks the checksum
    await refused(file("corrupt.tar", tar), /checksum/);
  });

  it("inspects without writing and reports sizes", async () => {
    const archive = file(
      "sizes.tar.gz",
      buildTarGz([
        { name: "a", content: "12345" },
        { name: "b/c", content: "678" },
      ]),
    );
    expect(await inspectArchive(archive, limits)).toMatchObject({ fileCount: 2, expandedBytes: 8 });
    expect(zlib.gunzipSync(fs.readFileSync(archive)).length).toBeGreaterThan(0);
  });
});
