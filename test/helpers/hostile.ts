// Hostile input for the property-based fuzzers (test/fuzz/): fast-check
// arbitraries for malformed, oversized, deeply nested, wrongly typed and
// prototype-polluting values, and the checks every refusal must pass (a clear
// message, no crash, no partial write, Object.prototype untouched).
import fc from "fast-check";
import type Database from "better-sqlite3";
import { expect } from "vitest";

/**
 * Cases per property: the count a file asks for (sized for npm test), times
 * FUZZ_RUNS / 100 when FUZZ_RUNS is set (FUZZ_RUNS=1000 runs ten times as many).
 */
export function fuzzRuns(base: number): number {
  const scale = Number(process.env.FUZZ_RUNS ?? "100");
  return Math.max(1, Math.round((base * (Number.isFinite(scale) && scale > 0 ? scale : 100)) / 100));
}

/** Counts cases per target and prints them, so the test output says how much was tried. */
export class CaseTally {
  private readonly counts = new Map<string, number>();
  constructor(private readonly suite: string) {}
  add(target: string, n = 1): void {
    this.counts.set(target, (this.counts.get(target) ?? 0) + n);
  }
  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
  print(): void {
    const lines = [...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `  ${t}: ${n}`);
    console.log(`fuzz ${this.suite}: ${this.total()} cases\n${lines.join("\n")}`);
  }
}

/** A value nested `depth` levels deep, built without recursion (10 000 levels would overflow a recursive builder's caller). */
export function deeplyNested(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return labelled(value as object, `<${kind} nested ${depth} levels deep>`);
}

/** Gives fast-check a short name to print for a value it could not print itself (its printer recurses). */
export function labelled<T extends object>(value: T, label: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => label, enumerable: false });
  return value;
}

/** The same as JSON text, which is how an attacker sends it (no serializer in between). */
export function deeplyNestedJson(depth: number, kind: "array" | "object"): string {
  return kind === "array" ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Keys that pollute prototypes when code merges objects naively. JSON.parse makes them own properties, as a request body does. */
export const POLLUTING_KEYS = ["__proto__", "constructor", "prototype"] as const;

export function pollutingObject(): Record<string, unknown> {
  return JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}') as Record<
    string,
    unknown
  >;
}

const SPECIAL_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\uD800",
  "\uDFFF",
  "x\uD800y",
  "\u202Eevil.txt",
  "\u200B",
  "\uFEFF",
  "../../../../etc/passwd",
  "..\\..\\windows\\system32",
  "%2e%2e%2f%2e%2e%2f",
  "/workspace/../../root",
  "__proto__",
  "constructor",
  "prototype",
  "NaN",
  "Infinity",
  "-1",
  "1e309",
  "' OR 1=1 --",
  "<script>alert(1)</script>",
  "${process.exit()}",
  "$(reboot)",
  "\r\nX-Injected: 1",
  "💥".repeat(300),
];

/** Strings a client should never trust: unicode edge cases, traversal, injection attempts, big ones. */
export function hostileString(opts: { maxBig?: number } = {}): fc.Arbitrary<string> {
  const maxBig = opts.maxBig ?? 200_000;
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
    { weight: 1, arbitrary: fc.integer({ min: Math.min(1_000, maxBig), max: maxBig }).map((n) => "x".repeat(n)) },
  );
}

export function hostileNumber(): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 53 + 2, -(2 ** 53 + 2), 1e308, -1e308, Number.MIN_VALUE, 0.5),
    fc.double(),
    fc.integer(),
  );
}

/** Values superjson carries over HTTP besides JSON's (bigint, Date, Map, Set, undefined, RegExp). */
export function exoticValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
    fc.constantFrom(new Date(NaN), new Date(8.64e15), new Date(0), undefined, /x/g),
    fc.constant(new Map<unknown, unknown>([["__proto__", 1]])),
    fc.constant(new Set([1, "a"])),
  );
}

/** Any JSON-ish value with hostile leaves and keys; sometimes 10 000 levels deep or 100 000 items long. */
export function hostileValue(opts: { exotic?: boolean; maxBig?: number } = {}): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    { weight: 4, arbitrary: hostileString(opts) },
    { weight: 3, arbitrary: hostileNumber() },
    { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
    ...(opts.exotic ? [{ weight: 1, arbitrary: exoticValue() }] : []),
  );
  const key = fc.oneof(fc.constantFrom(...POLLUTING_KEYS), fc.string({ maxLength: 10 }));
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      { weight: 5, arbitrary: leaf },
      { weight: 2, arbitrary: fc.array(tie("value"), { maxLength: 5 }) },
      { weight: 2, arbitrary: fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }).map(ownEntries) },
    ),
  }));
  return fc.oneof(
    { weight: 12, arbitrary: value },
    { weight: 1, arbitrary: fc.constantFrom("array", "object").map((k) => deeplyNested(10_000, k as "array" | "object")) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, "x", null).map((v) => labelled(new Array<unknown>(100_000).fill(v), `<100000 × ${String(v)}>`)) },
    { weight: 1, arbitrary: fc.constant(null).map(pollutingObject) },
  );
}

/** An object whose keys are own properties even when named __proto__ (as JSON.parse makes them). */
export function ownEntries(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * An object with the keys a schema expects (so validation looks at each
 * field, and valid-looking fields reach the domain code), each given a hostile
 * or a plausible value, plus sometimes a polluting or unknown key.
 */
export function shapedInput(keys: string[], plausible: fc.Arbitrary<unknown>, opts: { exotic?: boolean; maxBig?: number } = {}): fc.Arbitrary<unknown> {
  if (keys.length === 0) return hostileValue(opts);
  const field = fc.oneof({ weight: 2, arbitrary: hostileValue(opts) }, { weight: 1, arbitrary: plausible });
  return fc
    .tuple(
      fc.subarray(keys),
      fc.array(field, { minLength: keys.length, maxLength: keys.length }),
      fc.option(fc.tuple(fc.constantFrom(...POLLUTING_KEYS, "unknownKey"), hostileValue(opts)), { freq: 3 }),
    )
    .map(([chosen, values, extra]) => {
      const entries: [string, unknown][] = chosen.map((k, i) => [k, values[i]]);
      if (extra) entries.push(extra);
      return ownEntries(entries);
    });
}

/** The top-level keys of a zod object schema, looking through optional/nullable/default wrappers. */
export function schemaKeys(schema: unknown): string[] {
  let s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { innerType?: unknown; type?: string; in?: unknown } } } | undefined;
  for (let i = 0; i < 5 && s; i++) {
    if (s.shape && typeof s.shape === "object") return Object.keys(s.shape);
    const def = s._zod?.def;
    s = (def?.innerType ?? def?.in) as typeof s;
  }
  return [];
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** Object.prototype (and Array's) carries nothing a request put there. */
export function expectPrototypesClean(context: string | (() => string)): void {
  const names = Object.getOwnPropertyNames(Object.prototype).sort();
  const clean =
    names.join() === PROTOTYPE_NAMES.join() &&
    ({} as Record<string, unknown>).polluted === undefined &&
    ([] as unknown as Record<string, unknown>).polluted === undefined;
  if (clean) return;
  const label = typeof context === "string" ? context : context();
  expect(names, label).toEqual(PROTOTYPE_NAMES);
  expect(({} as Record<string, unknown>).polluted, label).toBeUndefined();
}

/** Unhandled rejections and uncaught exceptions while a fuzzer runs (each would crash a production process). */
export class CrashWatch {
  readonly seen: string[] = [];
  private readonly onRejection = (reason: unknown) => this.seen.push(`unhandledRejection: ${describe(reason)}`);
  private readonly onException = (err: unknown) => this.seen.push(`uncaughtException: ${describe(err)}`);
  start(): this {
    process.on("unhandledRejection", this.onRejection);
    process.on("uncaughtException", this.onException);
    return this;
  }
  stop(): void {
    process.off("unhandledRejection", this.onRejection);
    process.off("uncaughtException", this.onException);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err);
}

/**
 * Row counts of every ordinary table: a refused call must leave them as they
 * were. The full-text index (FTS5 virtual tables and their shadow tables) is
 * left out: its triggers follow the tables it indexes, so a refusal's audit
 * entry (allowed below) moves it too.
 */
export function rowCounts(sqlite: Database.Database, ignore: readonly string[] = []): Record<string, number> {
  const tables = sqlite
    .prepare("select name from pragma_table_list where schema = 'main' and type = 'table' and name not like 'sqlite_%' order by name")
    .all() as { name: string }[];
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    if (ignore.includes(name)) continue;
    counts[name] = (sqlite.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n;
  }
  return counts;
}

/**
 * What a refusal must look like: a message that says what was wrong. Not
 * empty, not a stack trace, not a bare "Internal server error", not an
 * object printed as [object Object].
 */
export function expectClearMessage(message: unknown, context: string | (() => string)): void {
  const text = typeof message === "string" ? message : "";
  const clear =
    text.trim().length > 5 && !/internal server error/i.test(text) && !/\n\s+at .+:\d+:\d+/.test(text) && !/\[object Object\]|^undefined$|^null$/.test(text);
  if (clear) return;
  context = typeof context === "string" ? context : context();
  expect(typeof message, context).toBe("string");
  expect(text.trim().length, `${context}: empty message`).toBeGreaterThan(5);
  expect(text, context).not.toMatch(/internal server error/i);
  expect(text, `${context}: a stack trace`).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(text, context).not.toMatch(/\[object Object\]|^undefined$|^null$/);
}

/** A short, printable form of a counterexample for assertion messages. */
export function preview(value: unknown, max = 300): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
  } catch (err) {
    text = `<${(err as Error).message}>`;
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

type ZodDef = {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  entries?: Record<string, unknown>;
  values?: unknown[];
};

function defOf(schema: unknown): ZodDef {
  return ((schema as { _zod?: { def?: ZodDef } } | undefined)?._zod?.def ?? {}) as ZodDef;
}

/**
 * Values shaped by a zod schema (objects with its keys, enums from its
 * members, arrays of its elements), where any position may instead hold a
 * hostile value: valid-looking input reaches the domain code, and the hostile
 * part sits at every depth, not only at the top.
 */
export function schemaShaped(
  schema: unknown,
  opts: { exotic?: boolean; maxBig?: number; extra?: fc.Arbitrary<unknown> } = {},
  depth = 0,
): fc.Arbitrary<unknown> {
  const hostile = hostileValue(opts);
  const def = defOf(schema);
  const plain = ((): fc.Arbitrary<unknown> => {
    if (depth > 6) return fc.constant(undefined);
    switch (def.type) {
      case "object": {
        const keys = Object.keys(def.shape ?? {});
        if (keys.length === 0) return fc.constant({});
        return fc
          .tuple(
            fc.subarray(keys),
            fc.tuple(...keys.map((k) => schemaShaped(def.shape![k], opts, depth + 1))),
            fc.option(fc.tuple(fc.constantFrom(...POLLUTING_KEYS, "unknownKey"), hostile), { freq: 4 }),
          )
          .map(([chosen, values, extra]) => {
            const entries: [string, unknown][] = chosen.map((k) => [k, values[keys.indexOf(k)]]);
            if (extra) entries.push(extra);
            return ownEntries(entries);
          });
      }
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return schemaShaped(def.innerType, opts, depth);
      case "pipe":
        return schemaShaped(def.in, opts, depth);
      case "array":
        return fc.array(schemaShaped(def.element, opts, depth + 1), { maxLength: 3 });
      case "record":
        return fc.array(fc.tuple(fc.string({ maxLength: 8 }), schemaShaped(def.valueType, opts, depth + 1)), { maxLength: 3 }).map(ownEntries);
      case "union":
        return def.options?.length ? fc.oneof(...def.options.map((o) => schemaShaped(o, opts, depth))) : hostile;
      case "enum":
        return fc.constantFrom(...Object.values(def.entries ?? { x: "x" }));
      case "literal":
        return fc.constantFrom(...(def.values ?? ["x"]));
      case "string":
        return fc.oneof(fc.constantFrom("x", "fuzz", "a@example.com", "http://127.0.0.1:9/hook"), fc.uuid(), ...(opts.extra ? [opts.extra] : []));
      case "number":
      case "int":
        return fc.integer({ min: -2, max: 100 });
      case "boolean":
        return fc.boolean();
      default:
        return hostile;
    }
  })();
  return fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: hostile });
}
