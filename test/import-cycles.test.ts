// No two modules import each other (issue 10): a cycle loads one side
// half-initialised and hides a layering mistake. The import graph is read with
// the TypeScript compiler (fast enough for the static phase, unlike ESLint's
// import/no-cycle, which tripled lint time); `import type` and `export type`
// vanish at runtime and do not count, nor do dynamic import()s, which load late
// by design.
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const SOURCE_DIRS = ["app", "components", "lib", "server", "db"];
const SOURCE_FILES = ["instrumentation.ts", "proxy.ts"];

function sourceFiles(): string[] {
  const out: string[] = SOURCE_FILES.map((f) => path.join(ROOT, f)).filter((f) => fs.existsSync(f));
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "migrations") walk(full);
      } else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
    }
  };
  for (const dir of SOURCE_DIRS) walk(path.join(ROOT, dir));
  return out;
}

function resolveImport(spec: string, from: string, known: Set<string>): string | null {
  const base = spec.startsWith("@/") ? path.join(ROOT, spec.slice(2)) : spec.startsWith(".") ? path.resolve(path.dirname(from), spec) : null;
  if (!base) return null;
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, path.join(base, "index.ts"), path.join(base, "index.tsx")]) {
    if (known.has(candidate)) return candidate;
  }
  return null;
}

/** The modules each file needs at runtime. */
function runtimeImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const specs: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const clause = statement.importClause;
      const onlyTypes =
        clause?.isTypeOnly ||
        (clause &&
          !clause.name &&
          clause.namedBindings &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!onlyTypes) specs.push(statement.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier) && !statement.isTypeOnly) {
      specs.push(statement.moduleSpecifier.text);
    }
  }
  return specs;
}

/** Every cycle, as the chain of files from one back to itself (one per strongly connected group). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe("import cycles", () => {
  it("issue 10: the cycle finder reports a chain of modules that import each other, and not a diamond", () => {
    const graph = new Map([
      ["a", ["b", "c"]],
      ["b", ["d"]],
      ["c", ["d"]],
      ["d", ["e"]],
      ["e", ["b"]],
    ]);
    expect(findCycles(graph)).toEqual([["b", "d", "e", "b"]]);
    expect(
      findCycles(
        new Map([
          ["a", ["b", "c"]],
          ["b", ["d"]],
          ["c", ["d"]],
          ["d", []],
        ]),
      ),
    ).toEqual([]);
    expect(
      runtimeImports(
        "x.ts",
        'import type { A } from "./a";\nimport { type B } from "./b";\nimport { c } from "./c";\nexport { d } from "./d";\nexport type { E } from "./e";\nimport "./f";',
      ),
    ).toEqual(["./c", "./d", "./f"]);
  });

  it("issue 10: no module of the app imports itself through others", () => {
    const files = sourceFiles();
    const known = new Set(files);
    const graph = new Map<string, string[]>();
    let edges = 0;
    for (const file of files) {
      const targets = runtimeImports(file, fs.readFileSync(file, "utf8"))
        .map((spec) => resolveImport(spec, file, known))
        .filter((t): t is string => t !== null);
      edges += targets.length;
      graph.set(file, targets);
    }
    // The graph is really read: hundreds of files, most importing others.
    expect(files.length).toBeGreaterThan(200);
    expect(edges).toBeGreaterThan(files.length);
    const cycles = findCycles(graph).map((cycle) => cycle.map((f) => path.relative(ROOT, f)).join(" → "));
    expect(cycles).toEqual([]);
  });
});
