// A real OpenID provider (the `oidc-provider` package) on loopback for the
// single sign-on tests: one confidential client that must use PKCE, an
// in-memory account store with passwords and groups, and its own small login
// and consent pages that the browser fills in. It can be stopped and started
// again on the same port to play a provider that is down.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface TestAccount {
  sub: string;
  email: string;
  emailVerified: boolean;
  name: string;
  password: string;
  groups: string[];
}

export interface TestOidcProvider {
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** Add or replace an account (groups can be changed between sign-ins). */
  setAccount(account: TestAccount): void;
  /** Stops answering (connections refused) until start() is called again. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface TestOidcProviderOptions {
  /** The relying party's redirect URIs, e.g. http://127.0.0.1:3000/api/auth/callback/oidc. */
  redirectUris: string[];
  port?: number;
  clientId?: string;
  clientSecret?: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startTestOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  // oidc-provider is ESM only; a dynamic import loads it from CommonJS test runners too.
  const { default: Provider } = await import("oidc-provider");
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = options.clientId ?? "airlock-test";
  const clientSecret = options.clientSecret ?? "airlock-test-secret-0123456789";
  const accounts = new Map<string, TestAccount>();

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // A confidential client need not use PKCE by default; this provider insists.
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    async findAccount(_ctx: unknown, sub: string) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          const current = accounts.get(sub) ?? account;
          return { sub, email: current.email, email_verified: current.emailVerified, name: current.name, groups: current.groups };
        },
      };
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ["airlock-test-oidc-cookie-key"] },
    // A fresh signing key per provider, and explicit lifetimes (both quiet its start-up notices).
    jwks: {
      keys: [{ ...crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), kid: "test-key", use: "sig", alg: "RS256" }],
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  });
  // The provider sits behind nothing: plain http on loopback.
  provider.proxy = false;

  const callback = provider.callback();
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", issuer);
    const match = /^\/interaction\/([^/]+)(?:\/(login|confirm))?$/.exec(url.pathname);
    if (!match) return void callback(req, res);
    const details = await provider.interactionDetails(req, res);
    res.setHeader("content-type", "text/html; charset=utf-8");
    if (req.method === "GET" && details.prompt.name === "login") {
      const error = url.searchParams.get("error");
      return void res.end(
        page(
          "Test IdP sign-in",
          `${error ? `<p role="alert">${esc(error)}</p>` : ""}<form method="post" action="/interaction/${esc(details.uid)}/login">
<label>Username <input name="email" type="text" autocomplete="username"></label>
<label>Secret <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Continue</button></form>`,
        ),
      );
    }
    if (req.method === "GET" && details.prompt.name === "consent") {
      return void res.end(
        page(
          "Allow access",
          `<p>Airlock asks for: ${esc(String(details.params.scope ?? ""))}</p><form method="post" action="/interaction/${esc(details.uid)}/confirm"><button type="submit">Allow</button></form>`,
        ),
      );
    }
    if (req.method === "POST" && match[2] === "login") {
      const form = await readForm(req);
      const account = [...accounts.values()].find((a) => a.email === form.get("email"));
      if (!account || account.password !== form.get("password")) {
        res.statusCode = 303;
        res.setHeader("location", `/interaction/${details.uid}?error=${encodeURIComponent("Wrong username or secret.")}`);
        return void res.end();
      }
      return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    }
    if (req.method === "POST" && match[2] === "confirm") {
      const accountId = details.session?.accountId;
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope ?? "openid"));
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    res.statusCode = 400;
    res.end(page("Unexpected step", `<p>${esc(details.prompt.name)}</p>`));
  }

  let server: http.Server | null = null;
  async function start(): Promise<void> {
    if (server) return;
    const s = http.createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    server = s;
  }
  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    server = null;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await start();

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    setAccount(account) {
      accounts.set(account.sub, account);
    },
    stop,
    start,
    close: stop,
  };
}
