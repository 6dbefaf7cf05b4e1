import { describe, expect, it } from "vitest";
import { engagementEventSchema, engagementEventTypes } from "../schema.js";

const base = { id: "e1", type: "view", videoId: "v1", sessionId: "s1", ts: 1_700_000_000_000 };

describe("engagementEventSchema", () => {
  it("accepts every event type with the optional fields", () => {
    for (const type of engagementEventTypes) {
      const event = {
        ...base,
        type,
        userId: "u1",
        creatorId: "c1",
        watchMs: 1200,
        durationMs: 15_000,
        positionMs: 900,
      };
      expect(engagementEventSchema.parse(event)).toEqual(event);
    }
  });

  it.each([
    ["an unknown type", { ...base, type: "poke" }],
    ["a missing id", { ...base, id: undefined }],
    ["an empty video id", { ...base, videoId: "  " }],
    ["a negative watch time", { ...base, type: "watch", watchMs: -5 }],
    ["a fractional timestamp", { ...base, ts: 1.5 }],
    ["an unknown field", { ...base, extra: true }],
  ])("rejects %s", (_label, event) => {
    expect(engagementEventSchema.safeParse(event).success).toBe(false);
  });
});
