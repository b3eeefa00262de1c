// The safe extraction of a remote engine's /workspace archive, fed crafted
// tars (what a compromised engine or a tar bug could send): nothing lands
// outside the destination, links are never followed, no special files, no
// setuid bits, everything the agent's. Real files in a temp directory.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as tar from "tar-stream";
import { afterEach, describe, expect, it } from "vitest";
import { AGENT_UID } from "./layout";
import { extractWorkspaceArchive, packMirror, replaceMirror } from "./workspace-archive";

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-extract-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

type Entry = tar.Headers & { body?: string };
function archiveOf(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const { body, ...header } of entries) pack.entry({ mtime: new Date(0), ...header, size: body?.length ?? 0 }, body ?? "");
  pack.finalize();
  return pack;
}

describe("extractWorkspaceArchive", () => {
  it("refuses a file under a symlink to /etc, absolute and '..' names, hardlinks out and devices, and leaves the host untouched", async () => {
    const outside = tempDir();
    const dest = fs.mkdtempSync(path.join(tempDir(), "ws-"));
    const report = await extractWorkspaceArchive(
      archiveOf([
        { name: "workspace/", type: "directory", mode: 0o755 },
        { name: "workspace/x", type: "symlink", linkname: outside },
        { name: "workspace/x/pwned", type: "file", body: "pwned" },
        { name: "workspace/../escaped", type: "file", body: "escaped" },
        { name: "/abs", type: "file", body: "abs" },
        { name: "workspace/a/../../up", type: "file", body: "up" },
        { name: "workspace/hard", type: "link", linkname: "/etc/passwd" },
        { name: "workspace/dev", type: "character-device" },
        { name: "workspace/ok.txt", type: "file", mode: 0o6755, body: "fine" },
        { name: "workspace/ok.txt", type: "file", body: "second" },
        { name: "workspace/copy", type: "link", linkname: "workspace/ok.txt" },
      ]),
      dest,
      "workspace",
    );
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(dest), "escaped"))).toBe(false);
    expect(fs.readdirSync(dest).sort()).toEqual(["copy", "ok.txt", "x"]);
    expect(fs.readlinkSync(path.join(dest, "x"))).toBe(outside);
    const ok = fs.statSync(path.join(dest, "ok.txt"));
    expect(fs.readFileSync(path.join(dest, "ok.txt"), "utf8")).toBe("fine");
    expect(ok.mode & 0o7777).toBe(0o755);
    expect(ok.uid).toBe(AGENT_UID);
    expect(fs.readFileSync(path.join(dest, "copy"), "utf8")).toBe("fine");
    expect(report.refused.map((r) => r.name)).toEqual([
      "workspace/x/pwned",
      "workspace/../escaped",
      "/abs",
      "workspace/a/../../up",
      "workspace/hard",
      "workspace/dev",
      "workspace/ok.txt",
    ]);
  });

  it("round-trips a mirror: files, directories, symlinks (stored, not followed), modes without setuid", async () => {
    const src = tempDir();
    fs.mkdirSync(path.join(src, "d/e"), { recursive: true });
    fs.writeFileSync(path.join(src, "d/e/f.txt"), "deep\n");
    fs.writeFileSync(path.join(src, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    fs.chmodSync(path.join(src, "run.sh"), 0o4755);
    fs.symlinkSync("/etc/passwd", path.join(src, "pw"));
    // packMirror names entries relative to /workspace; the engine's archive prefixes "workspace/".
    const packed = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const out = tar.pack();
      const ex = tar.extract();
      ex.on("entry", (h, s, next) => {
        const body: Buffer[] = [];
        s.on("data", (c: Buffer) => body.push(c));
        s.on("end", () => {
          out.entry({ ...h, pax: { uid: String(h.uid), gid: String(h.gid) }, name: `workspace/${h.name}` }, Buffer.concat(body), () => next());
        });
      });
      ex.on("finish", () => out.finalize());
      out.on("data", (c: Buffer) => chunks.push(c));
      out.on("end", () => resolve(Buffer.concat(chunks)));
      out.on("error", reject);
      packMirror(src).pipe(ex);
    });
    const mirror = path.join(tempDir(), "mirror");
    fs.mkdirSync(mirror);
    fs.writeFileSync(path.join(mirror, "stale.txt"), "gone after the swap");
    await replaceMirror(mirror, Readable.from([packed]), "workspace");
    expect(fs.readdirSync(mirror).sort()).toEqual(["d", "pw", "run.sh"]);
    expect(fs.readFileSync(path.join(mirror, "d/e/f.txt"), "utf8")).toBe("deep\n");
    expect(fs.lstatSync(path.join(mirror, "pw")).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(mirror, "run.sh")).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(mirror).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.dirname(mirror))).toEqual(["mirror"]);
  });
});
