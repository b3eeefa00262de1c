// The slice of tar-stream 2.x (installed with dockerode's docker-modem) that
// server/sandbox/workspace-archive.ts uses: it packs the host mirror of a
// remote engine's workspace and reads the engine's archive of /workspace.
declare module "tar-stream" {
  import type { Readable, Writable } from "node:stream";

  export interface Headers {
    name: string;
    size?: number;
    mode?: number;
    mtime?: Date;
    type?:
      "file" | "link" | "symlink" | "directory" | "character-device" | "block-device" | "fifo" | "contiguous-file" | "pax-header" | "pax-global-header" | null;
    linkname?: string | null;
    uid?: number;
    gid?: number;
    uname?: string;
    gname?: string;
    /** PAX records written before the entry (tar-stream 2.x: any key, e.g. uid and gid past the ustar field's range). */
    pax?: Record<string, string>;
  }

  export interface Pack extends Readable {
    entry(header: Headers, buffer?: Buffer | string, callback?: (err?: Error | null) => void): Writable;
    entry(header: Headers, callback?: (err?: Error | null) => void): Writable;
    finalize(): void;
  }

  export interface Extract extends Writable {
    on(event: "entry", listener: (header: Headers, stream: Readable, next: (err?: Error) => void) => void): this;
    on(event: string | symbol, listener: (...args: unknown[]) => void): this;
  }

  export function pack(): Pack;
  export function extract(): Extract;
}
