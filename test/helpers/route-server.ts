// Serves Next.js route handlers (Web Request → Response) over real loopback
// HTTP, streaming response bodies, so real HTTP clients can talk to them.
// A client that disconnects aborts the Request's signal, as in Next.js.
import http from "node:http";
import type { AddressInfo } from "node:net";

type RouteHandler = (req: Request) => Promise<Response>;

export interface RouteServer {
  url: string;
  close(): Promise<void>;
}

/** `path` ending in "/*" serves every path under it (e.g. "/api/trpc/*" for all procedures, as a browser's client calls them). */
export async function serveRoute(path: string, handlers: Partial<Record<"GET" | "POST" | "DELETE", RouteHandler>>): Promise<RouteServer> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const handler = handlers[req.method as "GET" | "POST" | "DELETE"];
      const matches = path.endsWith("/*") ? url.pathname.startsWith(path.slice(0, -1)) : url.pathname === path;
      if (!matches || !handler) {
        res.writeHead(!matches ? 404 : 405).end();
        return;
      }
      const aborted = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) aborted.abort();
      });
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const request = new Request(url, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks),
        signal: aborted.signal,
      });
      const response = await handler(request);
      res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
      if (!response.body) {
        res.end();
        return;
      }
      const reader = response.body.getReader();
      res.on("close", () => void reader.cancel().catch(() => undefined));
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) break;
        res.write(value);
      }
      res.end();
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path.endsWith("/*") ? path.slice(0, -2) : path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
