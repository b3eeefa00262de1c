// chooseRuntime: every combination of AIRLOCK_RUNTIME, the project's
// requirement and what the gVisor probe found.
import { describe, expect, it } from "vitest";
import { chooseRuntime, GVISOR_STATX_PROBLEM, needsGvisorProbe, type GvisorStatus, type RuntimeRequest } from "./runtimes";

function probe(state: "works" | "not-offered" | "broken"): GvisorStatus {
  return {
    offered: state !== "not-offered",
    works: state === "works",
    problem:
      state === "works"
        ? null
        : state === "not-offered"
          ? "the Docker engine does not offer the runsc runtime"
          : "a gVisor (runsc) sandbox does not start: cannot run with network enabled in root network namespace",
    kernel: state === "works" ? "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016" : null,
    engineRuntimes: state === "not-offered" ? ["runc"] : ["runc", "runsc"],
    checkedAt: new Date(),
    durationMs: 600,
  };
}

const requiring = { name: "payments", runtime: "runsc" as const };
const free = { name: "docs", runtime: null };

describe("chooseRuntime", () => {
  it("auto isolates a run with gVisor when gVisor works", () => {
    expect(chooseRuntime({ setting: "auto", project: free }, probe("works"))).toMatchObject({ ok: true, runtime: "runsc" });
  });

  it("auto falls back to runc when the engine does not offer gVisor, and says why", () => {
    const d = chooseRuntime({ setting: "auto", project: free }, probe("not-offered"));
    expect(d).toMatchObject({ ok: true, runtime: "runc" });
    expect(d.ok && d.why).toMatch(/does not offer the runsc runtime/);
  });

  it("auto falls back to runc when gVisor is offered but does not start", () => {
    expect(chooseRuntime({ setting: "auto", project: null }, probe("broken"))).toMatchObject({ ok: true, runtime: "runc" });
  });

  it("auto keeps a run on runc where gVisor starts but breaks coreutils' stat (ls -l), and says how to use gVisor anyway", () => {
    const d = chooseRuntime({ setting: "auto", project: free }, { ...probe("works"), toolsProblem: GVISOR_STATX_PROBLEM });
    expect(d).toMatchObject({ ok: true, runtime: "runc" });
    expect(d.ok && d.why).toMatch(/breaks common tools.*AIRLOCK_RUNTIME=runsc to use it anyway/);
  });

  it("a run that requires gVisor still gets it where gVisor breaks coreutils' stat, with the caveat in its reason", () => {
    const broken = { ...probe("works"), toolsProblem: GVISOR_STATX_PROBLEM };
    const byProject = chooseRuntime({ setting: "auto", project: requiring }, broken);
    expect(byProject).toMatchObject({ ok: true, runtime: "runsc" });
    expect(byProject.ok && byProject.why).toMatch(/project payments requires it \(note: this gVisor build breaks/);
    expect(chooseRuntime({ setting: "runsc", project: null }, broken)).toMatchObject({ ok: true, runtime: "runsc" });
  });

  it("runc keeps a run on runc even where gVisor works, and needs no probe", () => {
    const req: RuntimeRequest = { setting: "runc", project: free };
    expect(needsGvisorProbe(req)).toBe(false);
    expect(chooseRuntime(req, null)).toMatchObject({ ok: true, runtime: "runc" });
    expect(chooseRuntime(req, probe("works"))).toMatchObject({ ok: true, runtime: "runc" });
  });

  it("runsc isolates a run with gVisor when it works", () => {
    expect(chooseRuntime({ setting: "runsc", project: null }, probe("works"))).toMatchObject({ ok: true, runtime: "runsc" });
  });

  it("AIRLOCK_RUNTIME=runsc never falls back to runc: the run fails naming the setting and what to do", () => {
    for (const state of ["not-offered", "broken"] as const) {
      const d = chooseRuntime({ setting: "runsc", project: free }, probe(state));
      expect(d.ok).toBe(false);
      const reason = !d.ok ? d.reason : "";
      expect(reason).toMatch(/^This run requires gVisor \(AIRLOCK_RUNTIME=runsc requires it\)/);
      expect(reason).toMatch(/AIRLOCK_RUNTIME=auto/);
    }
  });

  it("a run of a project that requires gVisor never falls back to runc, whatever AIRLOCK_RUNTIME says", () => {
    for (const setting of ["auto", "runc", "runsc"] as const) {
      for (const state of ["not-offered", "broken"] as const) {
        const d = chooseRuntime({ setting, project: requiring }, probe(state));
        expect(d, `${setting} / ${state}`).toMatchObject({ ok: false });
        expect(!d.ok && d.reason).toMatch(/^This run requires gVisor \(project payments requires it\)/);
        expect(!d.ok && d.reason).toMatch(/Projects page/);
      }
    }
  });

  it("a project that requires gVisor gets it even under AIRLOCK_RUNTIME=runc", () => {
    const req: RuntimeRequest = { setting: "runc", project: requiring };
    expect(needsGvisorProbe(req)).toBe(true);
    expect(chooseRuntime(req, probe("works"))).toMatchObject({ ok: true, runtime: "runsc" });
  });

  it("when the engine does not offer runsc, the reason says to run scripts/ensure-gvisor.sh as root", () => {
    const d = chooseRuntime({ setting: "auto", project: requiring }, probe("not-offered"));
    expect(!d.ok && d.reason).toBe(
      "This run requires gVisor (project payments requires it) but the Docker engine does not offer the runsc runtime: run scripts/ensure-gvisor.sh as root (npm start does it) to install runsc and register it with the engine, or an admin lifts the gVisor requirement of project payments on the Projects page.",
    );
  });

  it("when gVisor is offered but broken, the reason carries the engine's own words and points at airlock doctor", () => {
    const d = chooseRuntime({ setting: "runsc", project: null }, probe("broken"));
    expect(!d.ok && d.reason).toMatch(/cannot run with network enabled in root network namespace: run `airlock doctor`/);
  });

  it("a required gVisor that could not be checked fails rather than guessing", () => {
    expect(chooseRuntime({ setting: "runsc", project: null }, null)).toMatchObject({ ok: false });
    expect(chooseRuntime({ setting: "auto", project: null }, null)).toMatchObject({ ok: true, runtime: "runc" });
  });
});
