// The part of the `http_ece` package (which ships no types) the push tests use
// to decrypt what Airlock sent, as a browser would (RFC 8188 / RFC 8291).
declare module "http_ece" {
  import type { ECDH } from "node:crypto";

  export function decrypt(
    buffer: Buffer,
    params: { version: "aes128gcm" | "aesgcm"; privateKey: ECDH; authSecret: Buffer | string; dh?: Buffer | string },
  ): Buffer;
}
