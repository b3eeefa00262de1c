// Command output as lines, built incrementally from streamed chunks. Colours
// (ANSI SGR codes) that stay on across a newline are carried to the next line,
// so each line can be rendered on its own (the view only renders what is visible).
export type LogStream = "stdout" | "stderr";

export interface LogLine {
  /** The raw text, ANSI codes included, without the newline. */
  text: string;
  stream: LogStream;
  /** SGR codes active when the line starts (prefix them when rendering). */
  sgr: string;
}

const SGR = /\x1b\[([0-9;]*)m/g;

/** The SGR codes still in effect after `text`, given those in effect before it. */
export function carrySgr(before: string, text: string): string {
  if (!text.includes("\x1b[")) return before;
  let active = before;
  for (const m of text.matchAll(SGR)) {
    const params = m[1] ?? "";
    const codes = params === "" ? ["0"] : params.split(";");
    const lastReset = codes.lastIndexOf("0");
    if (lastReset === -1) {
      active += m[0];
    } else {
      const rest = codes.slice(lastReset + 1).filter((c) => c !== "");
      active = rest.length ? `\x1b[${rest.join(";")}m` : "";
    }
  }
  return active;
}

/** Keep the newest lines when a command prints more than this (the server caps live output too). */
export const MAX_LOG_LINES = 250_000;

export class LogBuffer {
  readonly lines: LogLine[] = [];
  /** Lines dropped from the start to stay under MAX_LOG_LINES. */
  dropped = 0;
  /** Total characters received. */
  chars = 0;
  /** Whether the last line is still open (no newline seen yet). */
  private open = false;

  constructor(private readonly maxLines = MAX_LOG_LINES) {}

  append(text: string, stream: LogStream = "stdout"): void {
    if (!text) return;
    this.chars += text.length;
    const pieces = text.split("\n");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const last = this.lines.at(-1);
      if (i === 0 && this.open && last) {
        // A line opened by the previous chunk's trailing newline belongs to the stream that fills it.
        if (last.text === "") last.stream = stream;
        last.text += piece;
      } else {
        const sgr = last ? carrySgr(last.sgr, last.text) : "";
        this.lines.push({ text: piece, stream, sgr });
      }
      this.open = true;
      if (i < pieces.length - 1) {
        this.closeLine();
      }
    }
    if (this.lines.length > this.maxLines * 1.1) {
      const drop = this.lines.length - this.maxLines;
      this.lines.splice(0, drop);
      this.dropped += drop;
    }
  }

  private closeLine() {
    const last = this.lines.at(-1);
    if (last && last.text.endsWith("\r")) last.text = last.text.slice(0, -1);
    this.open = false;
  }

  /** Lines worth showing: an empty, still-open last line (after a trailing newline) is not. */
  get visibleCount(): number {
    const n = this.lines.length;
    if (n === 0) return 0;
    const last = this.lines[n - 1]!;
    return !this.open && last.text === "" ? n : this.open && last.text === "" ? n - 1 : n;
  }

  /** The whole text (for copying). */
  toText(): string {
    return this.lines
      .slice(0, this.visibleCount)
      .map((l) => l.text)
      .join("\n")
      .replace(SGR, "");
  }
}

/** What a terminal would show for a line with carriage returns (progress bars): the text after the last \r. */
export function displayText(line: LogLine): string {
  const i = line.text.lastIndexOf("\r");
  return line.sgr + (i === -1 ? line.text : line.text.slice(i + 1));
}
