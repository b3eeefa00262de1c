// Unified diff text (as produced by jsdiff's createTwoFilesPatch or git) into
// hunks of numbered lines, and the same hunks paired up for a side-by-side view.
export type DiffLineType = "add" | "del" | "context" | "note";

export interface DiffLine {
  type: DiffLineType;
  text: string;
  oldNo: number | null;
  newNo: number | null;
}

export interface DiffHunk {
  header: string;
  /** The text after the second @@ (often the enclosing function). */
  section: string;
  oldStart: number;
  newStart: number;
  lines: DiffLine[];
}

export interface ParsedDiff {
  oldPath: string | null;
  newPath: string | null;
  hunks: DiffHunk[];
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/;

function stripPathPrefix(raw: string): string | null {
  const path = raw.split("\t")[0]!.trim();
  if (path === "/dev/null") return null;
  return path.replace(/^[ab]\//, "");
}

export function parseUnifiedDiff(text: string): ParsedDiff {
  const out: ParsedDiff = { oldPath: null, newPath: null, hunks: [] };
  let hunk: DiffHunk | null = null;
  let oldNo = 0;
  let newNo = 0;
  const lines = text.split("\n");
  // A trailing newline leaves one empty string at the end that is not a diff line.
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    if (!hunk || line.startsWith("@@")) {
      if (line.startsWith("--- ")) out.oldPath = stripPathPrefix(line.slice(4));
      else if (line.startsWith("+++ ")) out.newPath = stripPathPrefix(line.slice(4));
      const m = HUNK.exec(line);
      if (m) {
        oldNo = Number(m[1]);
        newNo = Number(m[3]);
        hunk = { header: line, section: m[5] ?? "", oldStart: oldNo, newStart: newNo, lines: [] };
        out.hunks.push(hunk);
      }
      continue;
    }
    const mark = line[0];
    const body = line.slice(1);
    if (mark === "+") hunk.lines.push({ type: "add", text: body, oldNo: null, newNo: newNo++ });
    else if (mark === "-") hunk.lines.push({ type: "del", text: body, oldNo: oldNo++, newNo: null });
    else if (mark === "\\") hunk.lines.push({ type: "note", text: line.slice(2), oldNo: null, newNo: null });
    else if (mark === " " || line === "") hunk.lines.push({ type: "context", text: body, oldNo: oldNo++, newNo: newNo++ });
    else if (line.startsWith("diff ") || line.startsWith("Index: ") || line.startsWith("===")) hunk = null; // next file
  }
  return out;
}

export interface SplitRow {
  left: DiffLine | null;
  right: DiffLine | null;
}

/** Pairs each run of deletions with the additions that follow it, so changed lines sit side by side. */
export function toSplitRows(lines: DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.type === "context") {
      rows.push({ left: line, right: line });
      i++;
    } else if (line.type === "note") {
      rows.push({ left: line, right: null });
      i++;
    } else {
      const dels: DiffLine[] = [];
      const adds: DiffLine[] = [];
      while (i < lines.length && lines[i]!.type === "del") dels.push(lines[i++]!);
      while (i < lines.length && lines[i]!.type === "add") adds.push(lines[i++]!);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) rows.push({ left: dels[k] ?? null, right: adds[k] ?? null });
    }
  }
  return rows;
}
