// The shipped Grafana dashboard asks only for metrics Airlock exports: every
// name in every PromQL expression is a series of the /metrics registry, and
// every Airlock family is on the dashboard.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry } from "@/server/metrics/registry";
import { createTestDb, type TestDb } from "@/test/helpers/db";

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "deploy", "grafana", "airlock-dashboard.json"), "utf8")) as { panels: Panel[] };
const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

let t: TestDb;
/** Family name → its type, as the registry (process metrics included) exports them. */
let families: Map<string, string>;

beforeAll(async () => {
  t = createTestDb();
  const metrics = await createMetricsRegistry(t.db).getMetricsAsJSON();
  families = new Map(metrics.map((m) => [m.name, String(m.type)]));
});
afterAll(() => t?.close());

/** The series names a family exposes: a histogram's _bucket, _sum and _count, a summary's _sum and _count. */
function seriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of families) {
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(name + suffix);
  }
  return names;
}

describe("deploy/grafana/airlock-dashboard.json", () => {
  it("has PromQL on every panel", () => {
    expect(expressions.length).toBeGreaterThan(10);
    for (const p of dashboard.panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it("names only metrics /metrics exports", () => {
    const exported = seriesNames();
    for (const { panel, expr } of expressions) {
      // Metric names in these expressions all start with airlock_ (PromQL functions and labels do not).
      const used = expr.match(/\bairlock_[a-z0-9_]+/g) ?? [];
      expect(used.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of used) expect(exported.has(name), `${panel}: ${name} is not exported`).toBe(true);
    }
  });

  it("shows every Airlock family (process metrics aside)", () => {
    const text = expressions.map((e) => e.expr).join("\n");
    const own = [...families.keys()].filter((n) => n.startsWith("airlock_") && !/^airlock_(process|nodejs)_/.test(n));
    expect(own.length).toBeGreaterThan(8);
    for (const name of own) expect(text, `${name} is on no panel`).toMatch(new RegExp(`\\b${name}(_bucket|_count|_sum)?\\b`));
  });
});
