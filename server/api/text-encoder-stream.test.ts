// The SSE encoder the tRPC route uses instead of Node 20's TextEncoderStream
// (Node 20's own walks each chunk character by character: several times the CPU).
import { describe, expect, it } from "vitest";
import { ChunkTextEncoderStream, installChunkTextEncoderStream } from "@/server/api/text-encoder-stream";

async function encodeAll(Stream: new () => TransformStream<string, Uint8Array>, chunks: string[]): Promise<Buffer> {
  const stream = new Stream();
  const writer = stream.writable.getWriter();
  const reading = (async () => {
    const out: Uint8Array[] = [];
    const reader = stream.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(out);
      out.push(value);
    }
  })();
  for (const c of chunks) await writer.write(c);
  await writer.close();
  return reading;
}

const NativeTextEncoderStream = globalThis.TextEncoderStream;
const smile = "\u{1F600}"; // a surrogate pair
const cases: [string, string[]][] = [
  ["plain ASCII", ["hello ", "world\n"]],
  ["multi-byte characters", ["grüße ", "日本語\n"]],
  ["a surrogate pair split across two chunks", [`a${smile[0]}`, `${smile[1]}b`]],
  ["a high surrogate followed by no low one", [`a${smile[0]}`, "b"]],
  ["a high surrogate at the very end", [`end${smile[0]}`]],
  ["a lone low surrogate", [`${smile[1]}x`]],
  ["empty chunks", ["", "x", ""]],
];

describe("ChunkTextEncoderStream", () => {
  for (const [what, chunks] of cases) {
    it(`L2: encodes ${what} to the same bytes as the standard TextEncoderStream`, async () => {
      expect(await encodeAll(ChunkTextEncoderStream, chunks)).toEqual(await encodeAll(NativeTextEncoderStream, chunks));
    });
  }

  it("L2: a 1 MB chunk of live output comes out whole, as one TextEncoder call would encode it", async () => {
    const text = "0123456789abcdef\n".repeat(64 * 1024);
    const bytes = await encodeAll(ChunkTextEncoderStream, [text]);
    expect(bytes.equals(Buffer.from(text, "utf8"))).toBe(true);
  });

  it("L2: once installed, it is the process's TextEncoderStream (the one tRPC's SSE responses are piped through)", () => {
    installChunkTextEncoderStream();
    try {
      expect(new TextEncoderStream()).toBeInstanceOf(ChunkTextEncoderStream);
    } finally {
      globalThis.TextEncoderStream = NativeTextEncoderStream;
    }
  });
});
