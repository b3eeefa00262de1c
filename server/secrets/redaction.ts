// Redaction of granted secrets' values from everything that leaves a tool's
// execution: the result the model gets (and the DB stores) and the live output
// events. It catches the value itself and its simple encodings (base64,
// base64url, hex, URL-encoding); it cannot catch a value the agent transforms
// on purpose (reversed, split, xor-ed…): the approval of request_secret is the
// real guard, redaction only keeps honest mistakes out of logs and context.

export interface SecretValue {
  name: string;
  value: string;
}

export function secretMarker(name: string): string {
  return `[secret:${name}]`;
}

/** Encoded forms shorter than this are not searched for: they would match ordinary text. */
const MIN_PATTERN_CHARS = 8;

function base64Forms(value: Buffer): string[] {
  const forms = new Set<string>();
  for (const suffix of ["", "\n"]) {
    const full = Buffer.concat([value, Buffer.from(suffix)]).toString("base64");
    forms.add(full);
    forms.add(full.replace(/=+$/, ""));
  }
  // The value inside a longer base64 stream: at each of the 3 alignments, the
  // characters that depend on the value's bytes alone (whole 3-byte groups).
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), value]).toString("base64");
    const start = offset === 0 ? 0 : 4;
    const end = 4 * Math.floor((offset + value.length) / 3);
    if (end > start) forms.add(encoded.slice(start, end));
  }
  const out: string[] = [];
  for (const f of forms) {
    out.push(f);
    const url = f.replace(/\+/g, "-").replace(/\//g, "_");
    if (url !== f) out.push(url);
  }
  return out;
}

/** Every form of one value that is redacted, longest first. */
export function redactedForms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const forms = new Set<string>([value]);
  for (const f of base64Forms(bytes)) forms.add(f);
  forms.add(bytes.toString("hex"));
  forms.add(bytes.toString("hex").toUpperCase());
  forms.add(encodeURIComponent(value));
  // Multi-line values (PEM keys…): `echo $KEY` unquoted joins the lines with spaces, and any one line may be printed alone.
  if (/\s/.test(value.trim())) {
    forms.add(value.trim().replace(/\s+/g, " "));
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= 16) forms.add(line.trim());
  }
  return [...forms].filter((f) => f.length >= MIN_PATTERN_CHARS || f === value).sort((a, b) => b.length - a.length);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SecretRedactor {
  private readonly pattern: RegExp | null;
  private readonly markers = new Map<string, string>();
  /** The longest form: a stream holds back one character less than this. */
  readonly longest: number;

  constructor(secrets: SecretValue[]) {
    const forms: string[] = [];
    for (const s of secrets) {
      if (!s.value) continue;
      for (const f of redactedForms(s.value)) {
        if (!this.markers.has(f)) {
          this.markers.set(f, secretMarker(s.name));
          forms.push(f);
        }
      }
    }
    forms.sort((a, b) => b.length - a.length);
    this.longest = forms[0]?.length ?? 0;
    this.pattern = forms.length ? new RegExp(forms.map(escapeRegExp).join("|"), "g") : null;
  }

  get empty(): boolean {
    return this.pattern === null;
  }

  redact(text: string): string {
    if (!this.pattern) return text;
    return text.replace(this.pattern, (m) => this.markers.get(m) ?? "[secret]");
  }

  /** Every string inside a JSON-like value, redacted (keys too). */
  redactDeep<T>(value: T): T {
    if (!this.pattern) return value;
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.walk(v));
    if (value && typeof value === "object" && !(value instanceof Date) && !Buffer.isBuffer(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.redact(k), this.walk(v)]));
    }
    return value;
  }

  /** Redacts a byte body (which may not be text) by byte-wise matching of the raw value. */
  redactBytes(body: Buffer): Buffer {
    if (!this.pattern) return body;
    // latin1 maps each byte to one character, so matching the UTF-8 bytes of each form is exact.
    const asLatin1 = body.toString("latin1");
    let out = asLatin1;
    for (const [form, marker] of [...this.markers].sort((a, b) => b[0].length - a[0].length)) {
      const needle = Buffer.from(form, "utf8").toString("latin1");
      if (out.includes(needle)) out = out.split(needle).join(marker);
    }
    return out === asLatin1 ? body : Buffer.from(out, "latin1");
  }

  /** A redactor for one output stream whose chunks may split a value. */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }

  /** @internal positions of matches, for StreamRedactor */
  matches(text: string): { start: number; end: number; marker: string }[] {
    if (!this.pattern) return [];
    const out: { start: number; end: number; marker: string }[] = [];
    for (const m of text.matchAll(this.pattern)) out.push({ start: m.index, end: m.index + m[0].length, marker: this.markers.get(m[0]) ?? "[secret]" });
    return out;
  }
}

/**
 * Holds back the last few characters of a stream (one less than the longest
 * form) so that a value split across two chunks is still caught.
 */
export class StreamRedactor {
  private held = "";

  constructor(private readonly redactor: SecretRedactor) {}

  push(chunk: string): string {
    if (this.redactor.empty) return chunk;
    const text = this.held + chunk;
    let cut = Math.max(0, text.length - (this.redactor.longest - 1));
    let out = "";
    let pos = 0;
    for (const m of this.redactor.matches(text)) {
      if (m.start >= cut) break;
      out += text.slice(pos, m.start) + m.marker;
      pos = m.end;
      if (m.end > cut) cut = m.end;
    }
    out += text.slice(pos, Math.max(pos, cut));
    this.held = text.slice(Math.max(pos, cut));
    return out;
  }

  end(): string {
    const rest = this.redactor.redact(this.held);
    this.held = "";
    return rest;
  }
}
