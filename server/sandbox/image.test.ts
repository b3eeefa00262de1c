import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { config } from "@/server/config/env";
import { sandboxImageName } from "./image";

const saved = { image: process.env.AIRLOCK_SANDBOX_IMAGE, dataDir: process.env.AIRLOCK_DATA_DIR };
afterEach(() => {
  for (const [name, value] of [
    ["AIRLOCK_SANDBOX_IMAGE", saved.image],
    ["AIRLOCK_DATA_DIR", saved.dataDir],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("the sandbox image name", () => {
  it("issue 10: asking for the image before the data directory is set does not pin the settings to the old directory", () => {
    process.env.AIRLOCK_SANDBOX_IMAGE = " registry.example.com/agent:1 ";
    expect(sandboxImageName()).toBe("registry.example.com/agent:1");
    // Integration suites ask for the image (requireDocker) and only then point AIRLOCK_DATA_DIR at their own directory.
    const dataDir = path.join(os.tmpdir(), "airlock-image-test");
    process.env.AIRLOCK_DATA_DIR = dataDir;
    expect(config().dataDir).toBe(dataDir);
  });
});
