import { describe, expect, it } from "vitest";
import { parseFeedPage } from "../feed.js";

describe("parseFeedPage", () => {
  it("keeps valid items (and their extra fields) and the cursor", () => {
    const { page, dropped } = parseFeedPage({
      items: [{ id: "a", src: "/a.m3u8", poster: "/a.jpg", creatorId: "c", likes: 3 }],
      cursor: "next",
    });
    expect(dropped).toBe(0);
    expect(page).toEqual({
      items: [{ id: "a", src: "/a.m3u8", poster: "/a.jpg", creatorId: "c", likes: 3 }],
      cursor: "next",
    });
  });

  it("drops items without an id or src, or with a wrong poster type, and counts them", () => {
    const { page, dropped } = parseFeedPage({
      items: [{ id: "", src: "/x" }, { id: "b" }, { id: "c", src: "/c", poster: 5 }, null, "x", { id: "d", src: "/d" }],
      cursor: null,
    });
    expect(page.items.map((i) => i.id)).toEqual(["d"]);
    expect(dropped).toBe(5);
    expect(page.cursor).toBeNull();
  });

  it("refuses a body that is not a page", () => {
    expect(() => parseFeedPage(null)).toThrow(/items array/);
    expect(() => parseFeedPage({ items: {} })).toThrow(/items array/);
    expect(() => parseFeedPage({ items: [], cursor: 5 })).toThrow(/cursor/);
    expect(() => parseFeedPage({ items: [] })).toThrow(/cursor/);
  });
});
