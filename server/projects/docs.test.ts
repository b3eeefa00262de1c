// search_docs on the FTS5 index: paragraphs of a project's text sources,
// ranked by bm25, cited with their line range, and re-indexed when the
// project's sources change (through any code path).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProject, updateProject } from "@/server/projects/projects";
import { paragraphsOf, queryTerms, rankDocPassages, refreshProjectDocIndex } from "@/server/projects/docs";
import type { Project } from "@/db/schema";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
let project: Project;

const RUNBOOK = "Deploys happen on Fridays.\n\nTests run with make check;\nthe suite lives in tests/.\n\nNothing else runs here.";

beforeAll(() => {
  t = createTestDb();
  project = createProject(t.db, SETUP_ACTOR, {
    slug: "docs-test",
    name: "Docs",
    docSources: [
      { kind: "text", title: "Runbook", text: RUNBOOK },
      { kind: "path", title: "Docs", path: "/workspace/docs" },
    ],
  });
});
afterAll(() => t?.close());

describe("search_docs over the FTS5 index", () => {
  it("ranks the paragraph holding more of the query's words first, and cites its source and lines", () => {
    refreshProjectDocIndex(t.db, project);
    const hits = rankDocPassages(t.db, project.id, null, "how do the tests run?");
    expect(hits[0]).toMatchObject({
      source: "Runbook",
      text: "Tests run with make check;\nthe suite lives in tests/.",
      lineStart: 3,
      lineEnd: 4,
      citation: "Runbook:3-4",
    });
    // "Nothing else runs here." has none of the words as such ("runs" is not "run"): not a hit.
    expect(hits.map((h) => h.text)).not.toContain("Deploys happen on Fridays.");
    expect(hits[0]!.score).toBeGreaterThan(0);
  });

  it("finds the new text and no longer the old one after the project's sources change", () => {
    refreshProjectDocIndex(t.db, project);
    expect(rankDocPassages(t.db, project.id, null, "Fridays")).toHaveLength(1);
    const updated = updateProject(t.db, SETUP_ACTOR, {
      id: project.id,
      docSources: [{ kind: "text", title: "Runbook v2", text: "Deploys happen on Tuesdays." }],
    });
    refreshProjectDocIndex(t.db, updated);
    expect(rankDocPassages(t.db, project.id, null, "Fridays")).toEqual([]);
    expect(rankDocPassages(t.db, project.id, null, "when are deploys")).toMatchObject([{ source: "Runbook v2", citation: "Runbook v2:1" }]);
  });

  it("splits text into paragraphs with 1-based line ranges, and ignores one-letter words and punctuation", () => {
    expect(paragraphsOf("a\nb\n\n\nc")).toEqual([
      { text: "a\nb", lineStart: 1, lineEnd: 2 },
      { text: "c", lineStart: 5, lineEnd: 5 },
    ]);
    expect(queryTerms("a  ++ b? deploy!")).toEqual(["deploy"]);
    expect(rankDocPassages(t.db, project.id, null, '?! NEAR( "')).toEqual([]);
  });
});
