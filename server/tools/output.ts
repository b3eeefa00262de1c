// Command output on its way to the run page: coalesced into events of a
// reasonable size and rate, so a flood of output cannot flood the database.
export const MODEL_OUTPUT_CAP = 16 * 1024;
const FLUSH_BYTES = 16 * 1024;
const FLUSH_MS = 150;
/** Output beyond this per command is not streamed (it is still counted). */
export const MAX_STREAMED_BYTES = 2 * 1024 * 1024;

export class OutputBuffer {
  private parts: { stream: "stdout" | "stderr"; text: string }[] = [];
  private size = 0;
  private streamed = 0;
  private timer: NodeJS.Timeout | null = null;
  private announcedCut = false;

  constructor(private readonly sink: (text: string, stream: "stdout" | "stderr") => void) {}

  push(chunk: string, stream: "stdout" | "stderr") {
    if (this.streamed >= MAX_STREAMED_BYTES) {
      if (!this.announcedCut) {
        this.announcedCut = true;
        this.flush();
        this.sink(`\n[airlock: live output stopped after ${MAX_STREAMED_BYTES} bytes; the command keeps running]\n`, "stderr");
      }
      return;
    }
    this.parts.push({ stream, text: chunk });
    this.size += chunk.length;
    this.streamed += chunk.length;
    if (this.size >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let current: { stream: "stdout" | "stderr"; text: string } | null = null;
    for (const p of this.parts) {
      if (current && current.stream === p.stream) current.text += p.text;
      else {
        if (current) this.sink(current.text, current.stream);
        current = { ...p };
      }
    }
    if (current) this.sink(current.text, current.stream);
    this.parts = [];
    this.size = 0;
  }
}
