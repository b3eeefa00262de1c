// Node 20's TextEncoderStream encodes each chunk one UTF-16 unit at a time in
// JavaScript, concatenating a string as it goes: about a second of CPU per MB
// here, against milliseconds for TextEncoder. tRPC pipes every SSE response
// (the run page's live output, to each viewer) through it, so 20 viewers of a
// command printing 1.3 MB took the server's event loop for seconds (issue 14,
// log streaming). This stream encodes whole chunks with TextEncoder, holding a
// high surrogate that ends a chunk for the next one, as the standard says.
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
export function useChunkTextEncoderStream(): void {
  if (g.TextEncoderStream !== ChunkTextEncoderStream) g.TextEncoderStream = ChunkTextEncoderStream as unknown as typeof TextEncoderStream;
}
