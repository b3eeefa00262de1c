// The fault suite's view of a running dashboard over real HTTP: tRPC calls
// with an API token (superjson wire format) and runs.events subscribers that
// read the SSE stream the way the browser's link does, resuming with
// lastEventId after the server died.

export class TrpcError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export class AirlockApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, "content-type": "application/json" };
  }

  async mutation<T = unknown>(path: string, input: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}/api/trpc/${path}`, {
      method: "POST",
      headers: this.headers(),
      body: JSON.stringify({ json: input }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) throw new TrpcError(path, res.status, text);
    return (JSON.parse(text) as { result: { data: { json: T } } }).result.data.json;
  }

  async query<T = unknown>(path: string, input?: unknown): Promise<T> {
    const qs = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
    const res = await fetch(`${this.baseUrl}/api/trpc/${path}${qs}`, { headers: this.headers(), signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    if (!res.ok) throw new TrpcError(path, res.status, text);
    return (JSON.parse(text) as { result: { data: { json: T } } }).result.data.json;
  }

  /** Subscribes to runs.events from `lastEventId`; `onEvent` gets each tracked event; resolves when the stream ends or breaks. */
  async streamRunEvents(
    runId: string,
    lastEventId: string | null,
    onEvent: (id: string, event: { id: number; type: string; payload: Record<string, unknown>; at: unknown }) => void,
    signal: AbortSignal,
  ): Promise<"ended" | "broken" | "aborted"> {
    const qs = `?input=${encodeURIComponent(JSON.stringify({ json: { id: runId, lastEventId } }))}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/api/trpc/runs.events${qs}`, { headers: { ...this.headers(), accept: "text/event-stream" }, signal });
    } catch {
      return signal.aborted ? "aborted" : "broken";
    }
    if (!res.ok || !res.body) return "broken";
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id: string | null = null;
          let type = "message";
          const data: string[] = [];
          for (const line of message.split("\n")) {
            if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
          }
          if (type === "return") return "ended";
          if (type !== "message" || id === null || !data.length) continue;
          const parsed = JSON.parse(data.join("\n")) as { json: { id: number; type: string; payload: Record<string, unknown>; at: unknown } };
          onEvent(id, parsed.json);
        }
      }
    } catch {
      return signal.aborted ? "aborted" : "broken";
    }
    return "broken";
  }
}
