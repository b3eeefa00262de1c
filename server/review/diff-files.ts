// A run's cumulative git diff split into one entry per file, with +/− counts
// and a hash of the file's part: the hash is what a "viewed" mark remembers,
// so a later change to the file makes the mark stale.
import crypto from "node:crypto";

export type ReviewFileStatus = "added" | "deleted" | "modified" | "mode";

export interface ReviewFileDiff {
  path: string;
  status: ReviewFileStatus;
  binary: boolean;
  additions: number;
  deletions: number;
  /** This file's part of the diff (headers and hunks). */
  diff: string;
  /** sha256 of `diff`, hex. */
  hash: string;
}

export function hashFileDiff(diff: string): string {
  return crypto.createHash("sha256").update(diff).digest("hex");
}

export function splitRunDiff(text: string): ReviewFileDiff[] {
  const files: ReviewFileDiff[] = [];
  const chunks = text.split(/^(?=diff --git )/m).filter((c) => c.startsWith("diff --git "));
  for (const chunk of chunks) {
    const lines = chunk.split("\n");
    const header = /^diff --git a\/(.*) b\/(.*)$/.exec(lines[0]!);
    let path = header?.[2] ?? lines[0]!.slice("diff --git ".length);
    let status: ReviewFileStatus = "modified";
    let binary = false;
    let modeChanged = false;
    let additions = 0;
    let deletions = 0;
    let inHunk = false;
    for (const line of lines.slice(1)) {
      if (!inHunk) {
        if (line.startsWith("new file mode")) status = "added";
        else if (line.startsWith("deleted file mode")) status = "deleted";
        else if (line.startsWith("new mode ")) modeChanged = true;
        else if (line.startsWith("Binary files") || line.startsWith("GIT binary patch")) binary = true;
        else if (line.startsWith("+++ ") && !line.startsWith("+++ /dev/null")) path = line.slice(4).replace(/^b\//, "");
        else if (line.startsWith("@@")) inHunk = true;
        continue;
      }
      if (line.startsWith("+")) additions++;
      else if (line.startsWith("-")) deletions++;
    }
    if (status === "modified" && modeChanged && additions + deletions === 0 && !binary) status = "mode";
    files.push({ path, status, binary, additions, deletions, diff: chunk, hash: hashFileDiff(chunk) });
  }
  return files;
}
