// Issue 16: phones reach every page from the navigation — the tab bar plus its
// "More" sheet list every section, including ones added later.
import { describe, expect, it } from "vitest";
import { NAV_ITEMS, phoneNav, type NavItem } from "@/components/shell/nav-items";

describe("issue 16: phone navigation", () => {
  it("Projects and Red team cannot be reached from the phone navigation — now every section is in the tab bar or in More", () => {
    const { tabs, more } = phoneNav();
    expect([...tabs, ...more].map((i) => i.href).sort()).toEqual(NAV_ITEMS.map((i) => i.href).sort());
    expect(more.map((i) => i.label)).toEqual(expect.arrayContaining(["Projects", "Red team"]));
    // Five tabs and "More" share a 375 px bar.
    expect(tabs.length).toBeLessThanOrEqual(5);
  });

  it("a section added later without a phone flag appears under More", () => {
    const search: NavItem = { href: "/search", label: "Search", description: "Find anything", icon: NAV_ITEMS[0]!.icon };
    const { tabs, more } = phoneNav([...NAV_ITEMS, search]);
    expect(more.map((i) => i.href)).toContain("/search");
    expect(tabs.map((i) => i.href)).not.toContain("/search");
  });
});
