// A multi-file git diff (runs.diff) split into one entry per file, with its
// status and +/− counts, for the per-file diff view.
export type FileStatus = "added" | "deleted" | "modified" | "mode";

export interface FileDiff {
  path: string;
  status: FileStatus;
  binary: boolean;
  /** "100644 → 100755" when the executable bit changed. */
  modeChange: string | null;
  additions: number;
  deletions: number;
  /** This file's part of the diff (headers and hunks). */
  diff: string;
}

/** Nested `.git` entries are stored escaped in the shadow repository; show them as the agent wrote them. */
export function displayPath(p: string): string {
  return p
    .split("/")
    .map((part) => (/^\.git(~airlock)+$/i.test(part) ? part.slice(0, -"~airlock".length) : part))
    .join("/");
}

export function splitGitDiff(text: string): FileDiff[] {
  const files: FileDiff[] = [];
  const chunks = text.split(/^(?=diff --git )/m).filter((c) => c.startsWith("diff --git "));
  for (const chunk of chunks) {
    const lines = chunk.split("\n");
    const header = /^diff --git a\/(.*) b\/(.*)$/.exec(lines[0]!);
    let path = header?.[2] ?? lines[0]!.slice("diff --git ".length);
    let status: FileStatus = "modified";
    let binary = false;
    let oldMode: string | null = null;
    let newMode: string | null = null;
    let additions = 0;
    let deletions = 0;
    let inHunk = false;
    for (const line of lines.slice(1)) {
      if (!inHunk) {
        if (line.startsWith("new file mode")) status = "added";
        else if (line.startsWith("deleted file mode")) status = "deleted";
        else if (line.startsWith("old mode ")) oldMode = line.slice(9);
        else if (line.startsWith("new mode ")) newMode = line.slice(9);
        else if (line.startsWith("Binary files") || line.startsWith("GIT binary patch")) binary = true;
        else if (line.startsWith("+++ ") && !line.startsWith("+++ /dev/null")) path = line.slice(4).replace(/^b\//, "");
        else if (line.startsWith("@@")) inHunk = true;
        continue;
      }
      if (line.startsWith("+")) additions++;
      else if (line.startsWith("-")) deletions++;
    }
    if (status === "modified" && oldMode && newMode && additions + deletions === 0 && !binary) status = "mode";
    files.push({ path, status, binary, modeChange: oldMode && newMode ? `${oldMode} → ${newMode}` : null, additions, deletions, diff: chunk });
  }
  return files;
}
