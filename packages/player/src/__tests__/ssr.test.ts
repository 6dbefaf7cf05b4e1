// Importing the package where there is no DOM (server rendering, Node) must not throw, and
// registering the elements there is a harmless no-op.
import { describe, expect, it } from "vitest";
import * as player from "../index.js";

describe("server-side import", () => {
  it("loads without a DOM and defines nothing", () => {
    expect(typeof globalThis.HTMLElement).toBe("undefined");
    expect(player.defineReelElements()).toBe(false);
    expect(typeof player.ReelPlayerElement).toBe("function");
    expect(typeof player.ReelFeedElement).toBe("function");
    expect(player.hlsInstances).toEqual({ live: 0, created: 0 });
  });

  it("does not import hls.js until a stream plays", async () => {
    const { readFile } = await import("node:fs/promises");
    const sources = await Promise.all(
      ["index.ts", "player.ts", "feed.ts", "hls.ts", "dom.ts", "telemetry.ts", "bandwidth.ts"].map((f) =>
        readFile(new URL(`../${f}`, import.meta.url), "utf8"),
      ),
    );
    // Only type imports of hls.js at the top level; the module itself is loaded with import().
    for (const source of sources) expect(source).not.toMatch(/^import (?!type)[^;]*from "hls\.js"/m);
  });
});
