// Issue 17: the labels a project requires of the engines its runs go to.
import { describe, expect, it } from "vitest";
import { createProjectInput, updateProjectInput } from "@/server/projects/projects";

const create = (engineLabels: unknown) => createProjectInput.safeParse({ slug: "p", name: "P", engineLabels });

describe("project engine labels", () => {
  it("accepts lowercase labels with digits, dots, dashes and underscores, and drops repeats", () => {
    const parsed = create(["gpu", "big-memory", "zone.eu_1", "gpu"]);
    expect(parsed.success && parsed.data.engineLabels).toEqual(["gpu", "big-memory", "zone.eu_1"]);
  });

  it("refuses a label with capitals, spaces or a leading dash, and says what a label may be", () => {
    for (const bad of ["GPU", "big memory", "-gpu", "", "x".repeat(41)]) {
      const parsed = create([bad]);
      expect(parsed.success, bad).toBe(false);
      expect(parsed.error?.issues[0]?.message).toMatch(/An engine label is 1 to 40 characters/);
    }
  });

  it("refuses more than 16 labels", () => {
    const parsed = updateProjectInput.safeParse({ id: "p", engineLabels: Array.from({ length: 17 }, (_, i) => `l${i}`) });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe("A project may require at most 16 engine labels.");
  });

  it("leaves the labels unchanged when an update does not name them, and clears them with an empty list", () => {
    expect(updateProjectInput.parse({ id: "p" }).engineLabels).toBeUndefined();
    expect(updateProjectInput.parse({ id: "p", engineLabels: [] }).engineLabels).toEqual([]);
  });
});
