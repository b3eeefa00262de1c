// A small filesystem of the test's own (tmpfs, root only) for the data
// directory, and a filler file that takes all of its free space and gives it
// back: the full-disk fault without touching the machine's disks.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface SmallFilesystem {
  dir: string;
  /** Writes a filler file until the filesystem refuses (ENOSPC), then gives back `leaveBytes`; returns its size. */
  fill(leaveBytes?: number): number;
  /** Deletes the filler: the space is back. */
  free(): void;
  freeBytes(): number;
  unmount(): void;
}

export function mountSmallFilesystem(sizeMb: number): SmallFilesystem {
  if (process.getuid?.() !== 0) throw new Error("The full-disk fault mounts a tmpfs: run the fault suite as root.");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-fault-disk-"));
  // mode 755: the sandbox's agent (uid 1000) reaches its workspace below it.
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=755`, "tmpfs", dir]);
  const filler = path.join(dir, "filler.bin");
  return {
    dir,
    fill(leaveBytes = 0) {
      const fd = fs.openSync(filler, "a");
      const chunk = Buffer.alloc(1024 * 1024, 7);
      let written = fs.fstatSync(fd).size;
      try {
        for (let size = chunk.length; size >= 512;) {
          try {
            written += fs.writeSync(fd, chunk, 0, size);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
            size = Math.floor(size / 2); // the last few blocks
          }
        }
        if (leaveBytes > 0) fs.ftruncateSync(fd, (written = Math.max(0, written - leaveBytes)));
      } finally {
        fs.closeSync(fd);
      }
      return written;
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    freeBytes() {
      const s = fs.statfsSync(dir);
      return s.bavail * s.bsize;
    },
    unmount() {
      try {
        execFileSync("umount", ["-l", dir]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
