// A push service on loopback for the Web Push tests: it records each POST
// (headers and encrypted body) and answers with the status a test chose, or
// never answers. Devices are real key pairs (P-256 + 16-byte auth secret), and
// payloads are decrypted with `http_ece` exactly as a browser would.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decrypt } from "http_ece";

export interface ReceivedPush {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** When the request's body had fully arrived (ms since the epoch, sub-millisecond: timeOrigin + performance.now()). */
  at: number;
}

export interface PushService {
  /** http://127.0.0.1:PORT */
  origin: string;
  received: ReceivedPush[];
  /** The status for POSTs to `path` (default 201), or "hang" to never answer. */
  answer(path: string, status: number | "hang"): void;
  close(): Promise<void>;
}

export async function startPushService(): Promise<PushService> {
  const received: ReceivedPush[] = [];
  const answers = new Map<string, number | "hang">();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: performance.timeOrigin + performance.now() });
      const answer = answers.get(path) ?? 201;
      if (answer === "hang") return;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    answer: (path, status) => answers.set(path, status),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface PushDevice {
  endpoint: string;
  path: string;
  keys: { p256dh: string; auth: string };
  ecdh: crypto.ECDH;
  authSecret: Buffer;
}

let counter = 0;

/** A browser's subscription: its own key pair and auth secret, at a fresh path of the push service. */
export function newPushDevice(service: PushService): PushDevice {
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.generateKeys();
  const authSecret = crypto.randomBytes(16);
  counter += 1;
  const path = `/push/device-${counter}-${crypto.randomBytes(4).toString("hex")}`;
  return {
    endpoint: `${service.origin}${path}`,
    path,
    keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: authSecret.toString("base64url") },
    ecdh,
    authSecret,
  };
}

/** The JSON the device's browser would hand to the service worker. */
export function decryptPush(device: PushDevice, body: Buffer): unknown {
  const plain = decrypt(body, { version: "aes128gcm", privateKey: device.ecdh, authSecret: device.authSecret });
  return JSON.parse(plain.toString("utf8"));
}

export function pushesTo(service: PushService, device: PushDevice): ReceivedPush[] {
  return service.received.filter((r) => r.path === device.path);
}
