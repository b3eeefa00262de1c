// What an approval shows: a unified diff for file changes (new files,
// deletions, binary and huge files handled), the parsed command for commands.
import { createTwoFilesPatch } from "diff";

export const MAX_DIFF_INPUT_BYTES = 512 * 1024;

export interface FileDiffPreview {
  type: "file_diff";
  path: string;
  status: "created" | "modified" | "unchanged";
  binary: boolean;
  tooLarge: boolean;
  oldBytes: number;
  newBytes: number;
  diff: string;
  additions: number;
  deletions: number;
}

export function looksBinary(text: string): boolean {
  return text.includes("\u0000");
}

export function fileDiffPreview(path: string, before: string | null, after: string): FileDiffPreview {
  const oldBytes = before === null ? 0 : Buffer.byteLength(before);
  const newBytes = Buffer.byteLength(after);
  const status = before === null ? "created" : before === after ? "unchanged" : "modified";
  const binary = looksBinary(after) || (before !== null && looksBinary(before));
  const tooLarge = oldBytes > MAX_DIFF_INPUT_BYTES || newBytes > MAX_DIFF_INPUT_BYTES;
  if (binary || tooLarge) {
    return { type: "file_diff", path, status, binary, tooLarge, oldBytes, newBytes, diff: "", additions: 0, deletions: 0 };
  }
  const rel = path.replace(/^\/workspace\//, "");
  const diff = createTwoFilesPatch(before === null ? "/dev/null" : `a/${rel}`, `b/${rel}`, before ?? "", after, undefined, undefined, { context: 3 });
  let additions = 0;
  let deletions = 0;
  for (const line of diff.split("\n")) {
    if (line.startsWith("+") && !line.startsWith("+++")) additions++;
    else if (line.startsWith("-") && !line.startsWith("---")) deletions++;
  }
  return { type: "file_diff", path, status, binary, tooLarge, oldBytes, newBytes, diff, additions, deletions };
}
