// Archive uploads: streamed to <dataDir>/uploads/<id> with a size cap,
// checked entry by entry, and kept for one run to start from.
import crypto from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Db } from "@/db/client";
import { uploads, type Upload } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { ArchiveError, archiveTooLarge, inspectArchive } from "./archive";
import { workspaceSettings } from "./settings";

export function uploadPath(dataDir: string, id: string): string {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new DomainError("INVALID_INPUT", "That is not an upload id.");
  return path.join(path.resolve(dataDir), "uploads", id);
}

function safeFilename(name: string | null | undefined): string {
  const base = path.posix
    .basename(String(name ?? "").replace(/\\/g, "/"))
    .replace(/[^A-Za-z0-9._ -]/g, "_")
    .slice(0, 200);
  return base || "archive";
}

/**
 * Stores an uploaded archive and checks it; a refused archive is deleted and
 * the reason given (INVALID_INPUT).
 */
export async function storeUpload(
  db: Db,
  actor: Actor & { userId: string },
  dataDir: string,
  body: ReadableStream<Uint8Array> | NodeJS.ReadableStream,
  filename: string | null,
): Promise<Upload> {
  const settings = workspaceSettings();
  const id = crypto.randomUUID();
  const file = uploadPath(dataDir, id);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const hash = crypto.createHash("sha256");
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > settings.archiveMaxBytes) {
        cb(new ArchiveError(archiveTooLarge(settings.archiveMaxBytes)));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    const source = "getReader" in body ? (await import("node:stream")).Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>) : body;
    await pipeline(source, counter, createWriteStream(file, { mode: 0o600 }));
    if (size === 0) throw new ArchiveError("The upload is empty.");
    const summary = await inspectArchive(file, settings);
    return db.transaction(
      (tx) => {
        const row = tx
          .insert(uploads)
          .values({
            id,
            userId: actor.userId,
            filename: safeFilename(filename),
            format: summary.format,
            sizeBytes: size,
            fileCount: summary.fileCount,
            expandedBytes: summary.expandedBytes,
            sha256: hash.digest("hex"),
          })
          .returning()
          .get();
        appendAudit(tx, actor, {
          action: "upload.create",
          targetType: "upload",
          targetId: id,
          details: {
            filename: row.filename,
            format: row.format,
            sizeBytes: size,
            fileCount: row.fileCount,
            expandedBytes: row.expandedBytes,
            sha256: row.sha256,
          },
        });
        return row;
      },
      { behavior: "immediate" },
    );
  } catch (err) {
    await fs.rm(file, { force: true });
    if (err instanceof ArchiveError) throw new DomainError("INVALID_INPUT", `The archive was refused: ${err.message}`);
    throw err;
  }
}
