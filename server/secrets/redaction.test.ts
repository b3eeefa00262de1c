import { describe, expect, it } from "vitest";
import { redactedForms, SecretRedactor } from "@/server/secrets/redaction";

const VALUE = "s3cr3t-API-token-0123456789";
const redactor = new SecretRedactor([{ name: "API_TOKEN", value: VALUE }]);
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("secret redaction", () => {
  it("replaces the value itself with a marker naming the secret", () => {
    expect(redactor.redact(`token=${VALUE}; again ${VALUE}`)).toBe("token=[secret:API_TOKEN]; again [secret:API_TOKEN]");
  });

  it("replaces base64 of the value, with or without the trailing newline echo adds", () => {
    expect(redactor.redact(b64(VALUE))).toBe("[secret:API_TOKEN]");
    expect(redactor.redact(`${b64(`${VALUE}\n`)}\n`)).toBe("[secret:API_TOKEN]\n");
    expect(redactor.redact(b64(VALUE).replace(/=+$/, ""))).toBe("[secret:API_TOKEN]");
  });

  it("catches the value inside a longer base64 stream at every alignment", () => {
    for (const prefix of ["", "a", "ab", "abc", "Authorization: Bearer "]) {
      const encoded = b64(`${prefix}${VALUE} and more text after it`);
      const out = redactor.redact(encoded);
      expect(out, prefix).toContain("[secret:API_TOKEN]");
      // What remains cannot be decoded back into the value.
      expect(Buffer.from(out.replace(/\[secret:API_TOKEN\]/g, ""), "base64").toString("latin1")).not.toContain(VALUE.slice(3, -3));
    }
  });

  it("replaces hex and URL-encoded forms", () => {
    const r = new SecretRedactor([{ name: "PW", value: "p@ss word/with+chars" }]);
    expect(r.redact(Buffer.from("p@ss word/with+chars").toString("hex"))).toBe("[secret:PW]");
    expect(r.redact(encodeURIComponent("p@ss word/with+chars"))).toBe("[secret:PW]");
  });

  it("catches a multi-line value printed unquoted, or one of its lines alone", () => {
    const pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n-----END KEY-----\n";
    const r = new SecretRedactor([{ name: "KEY", value: pem }]);
    expect(r.redact(pem)).toBe("[secret:KEY]");
    expect(r.redact(pem.trim().replace(/\n/g, " "))).toBe("[secret:KEY]");
    expect(r.redact("line: MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf")).toBe("line: [secret:KEY]");
  });

  it("redacts every string inside a result, keys included, and leaves other values alone", () => {
    const out = redactor.redactDeep({ ok: true, output: `x ${VALUE}`, n: 3, nested: [{ [VALUE]: VALUE }], at: null });
    expect(out).toEqual({ ok: true, output: "x [secret:API_TOKEN]", n: 3, nested: [{ "[secret:API_TOKEN]": "[secret:API_TOKEN]" }], at: null });
  });

  it("redacts bytes of a binary body", () => {
    const body = Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from(VALUE), Buffer.from([0])]);
    const out = redactor.redactBytes(body);
    expect(out.includes(Buffer.from(VALUE))).toBe(false);
    expect(out.includes(Buffer.from("[secret:API_TOKEN]"))).toBe(true);
  });

  it("catches a value split across stream chunks, whatever the split", () => {
    const text = `before ${VALUE} middle ${b64(VALUE)} after`;
    for (let size = 1; size <= text.length; size += 3) {
      const s = redactor.stream();
      let out = "";
      for (let i = 0; i < text.length; i += size) out += s.push(text.slice(i, i + size));
      out += s.end();
      expect(out, `chunks of ${size}`).toBe("before [secret:API_TOKEN] middle [secret:API_TOKEN] after");
    }
  });

  it("passes output through untouched when the run has no secrets", () => {
    const none = new SecretRedactor([]);
    const s = none.stream();
    expect(s.push("abc")).toBe("abc");
    expect(none.redactDeep({ a: "b" })).toEqual({ a: "b" });
  });

  it("never searches for encoded forms so short they would match ordinary text", () => {
    expect(redactedForms(VALUE).every((f) => f.length >= 8)).toBe(true);
  });
});
