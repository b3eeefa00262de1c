import { decide } from "./policy";
const cases: [string, string][] = [
  ["braces", "echo " + "{a,b}".repeat(30)],
  ["seq", "echo {1..999999999}"],
  ["nested eval", (() => { let c = "ls"; for (let i = 0; i < 8; i++) c = `eval '${c.replace(/'/g, `'\\''`)}'`; return c; })()],
  ["many parts", "ls;".repeat(5000)],
  ["long word", "echo " + "a".repeat(60000)],
  ["many vars", Array.from({ length: 50 }, (_, i) => `v${i}=x`).join("; ") + "; " + Array.from({ length: 50 }, (_, i) => `$v${i}`).join("")],
  ["deep subst", "echo " + "$(".repeat(200) + "ls" + ")".repeat(200)],
  ["pipes", Array.from({ length: 300 }, () => "cat").join(" | ")],
  ["heredoc sh", "sh <<'EOF'\n" + "ls\n".repeat(3000) + "EOF"],
];
for (const [label, c] of cases) {
  const t = performance.now();
  const d = decide({ tool: "run_command", command: c });
  console.log(label.padEnd(12), (performance.now() - t).toFixed(1).padStart(8), "ms", d.verdict, d.rule, "parts", d.parts?.length ?? 0, "len", c.length);
}
