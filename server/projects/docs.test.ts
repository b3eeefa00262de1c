import { describe, expect, it } from "vitest";
import { queryTerms, searchTextSources } from "./docs";

describe("search_docs over text sources", () => {
  const sources = [
    { kind: "text" as const, title: "Runbook", text: "Deploys happen on Fridays.\n\nTests run with make check; the suite lives in tests/.\n\nNothing else." },
    { kind: "path" as const, title: "Docs", path: "/workspace/docs" },
  ];

  it("ranks paragraphs by how many of the query's words they hold", () => {
    const hits = searchTextSources(sources, "how do the tests run?");
    expect(hits.map((h) => h.text)).toEqual(["Tests run with make check; the suite lives in tests/."]);
    expect(hits[0]).toMatchObject({ source: "Runbook", score: 3 });
  });

  it("ignores one-letter words and punctuation, and finds nothing for an empty query", () => {
    expect(queryTerms("a  ++ b? deploy!")).toEqual(["deploy"]);
    expect(searchTextSources(sources, "?!")).toEqual([]);
  });
});
