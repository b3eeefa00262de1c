// Node 20's TextEncoderStream walks each chunk one UTF-16 unit at a time in
// JavaScript, building a new string as it goes: 2-10x the CPU of TextEncoder
// and a lot of garbage. tRPC pipes every SSE response through it (the run
// page's live output, once per viewer): with 20 viewers of a command printing
// 1.3 MB (26 MB of SSE), it and the garbage collection it caused took about
// 5 s of the server's CPU, against about 0.3 s with this stream (issue 14, log
// streaming). This one encodes whole chunks with TextEncoder, holding a high
// surrogate that ends a chunk for the next one, as the standard says.
const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);

export class ChunkTextEncoderStream extends TransformStream<string, Uint8Array> {
  readonly encoding = "utf-8";

  constructor() {
    const encoder = new TextEncoder();
    let pendingHigh = "";
    super({
      transform(chunk, controller) {
        let text = pendingHigh + String(chunk);
        pendingHigh = "";
        const last = text.charCodeAt(text.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pendingHigh = text.slice(-1);
          text = text.slice(0, -1);
        }
        // A lone surrogate inside the text becomes U+FFFD, as TextEncoderStream does.
        if (text) controller.enqueue(encoder.encode(text));
      },
      flush(controller) {
        if (pendingHigh) controller.enqueue(REPLACEMENT.slice());
      },
    });
  }
}

const g = globalThis as unknown as { TextEncoderStream: typeof TextEncoderStream };

/** Makes the process's TextEncoderStream (the one tRPC's SSE responses use) the chunked one. Idempotent. */
export function installChunkTextEncoderStream(): void {
  if (g.TextEncoderStream !== ChunkTextEncoderStream) g.TextEncoderStream = ChunkTextEncoderStream as unknown as typeof TextEncoderStream;
}
