// The sandbox image reference. The recipe's hash (computed by
// scripts/sandbox-image.sh, the one place that knows the recipe) names it.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { readSandboxImage } from "@/server/config/env";

let cached: string | undefined;

export function sandboxImageName(): string {
  const configured = readSandboxImage();
  if (configured) return configured;
  cached ??= execFileSync("bash", [path.join(process.cwd(), "scripts", "sandbox-image.sh"), "--print-name"], { encoding: "utf8" }).trim();
  return cached;
}
