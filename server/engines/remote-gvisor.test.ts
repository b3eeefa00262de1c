// Issue 17: the runtime a run gets on a remote engine comes from that engine's listed runtimes, never from the local gVisor probe.
import { afterEach, describe, expect, it } from "vitest";
import { chooseRuntime } from "@/server/sandbox/runtimes";
import { forgetEngineHealth, remoteGvisorStatus, setEngineHealth } from "./health";
import type { EngineHealth } from "./types";

const look = (runtimes: string[]): EngineHealth => ({
  healthy: true,
  downSince: null,
  checkedAt: new Date(),
  error: null,
  apiVersion: "1.41",
  runtimes,
  ncpu: 2,
  memTotalMb: 4096,
  image: { present: true, id: "sha256:x", loading: false, error: null },
});

afterEach(() => {
  forgetEngineHealth("rg1");
});

describe("gVisor on a remote engine", () => {
  it("auto keeps the run on runc, saying its tools are not checked there, even where the engine offers runsc", () => {
    setEngineHealth("rg1", look(["runc", "runsc"]));
    const d = chooseRuntime({ setting: "auto", project: null }, remoteGvisorStatus("rg1"));
    expect(d).toMatchObject({ ok: true, runtime: "runc" });
    expect(d.ok && d.why).toContain("not checked on remote engine rg1");
  });

  it("a project that requires gVisor gets it on an engine that offers runsc", () => {
    setEngineHealth("rg1", look(["runc", "runsc"]));
    expect(chooseRuntime({ setting: "auto", project: { name: "Secure", runtime: "runsc" } }, remoteGvisorStatus("rg1"))).toMatchObject({
      ok: true,
      runtime: "runsc",
    });
  });

  it("a requirement on an engine without runsc fails with the engine named, never falling back to runc", () => {
    setEngineHealth("rg1", look(["runc"]));
    const d = chooseRuntime({ setting: "runsc", project: null }, remoteGvisorStatus("rg1"));
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toContain("does not offer the runsc runtime");
  });
});
