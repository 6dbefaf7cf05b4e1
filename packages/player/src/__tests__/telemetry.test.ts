// The batching and retry logic of Telemetry, with fetch stubbed (pure logic; the real browser
// path is covered by the Chromium tests).
import { engagementEventSchema } from "@reelkit/engagement";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Telemetry } from "../telemetry.js";

let posted: unknown[][];
let status: number;
let failNetwork: boolean;

beforeEach(() => {
  posted = [];
  status = 204;
  failNetwork = false;
  vi.useFakeTimers();
  vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
    if (failNetwork) throw new TypeError("network down");
    posted.push(JSON.parse(String(init.body)) as unknown[]);
    return new Response(null, { status });
  });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("Telemetry", () => {
  it("sends a batch once maxBatch events wait, in the engagement schema's shape", async () => {
    const telemetry = new Telemetry({ endpoint: "/events", sessionId: "s1", userId: "u1", maxBatch: 3 });
    telemetry.track({ type: "impression", videoId: "v1", creatorId: "c1" });
    telemetry.track({ type: "view", videoId: "v1", positionMs: 12.6, durationMs: 6000.4 });
    expect(posted).toEqual([]);
    telemetry.track({ type: "skip", videoId: "v1", watchMs: 1234.5, positionMs: -1 });
    await vi.runAllTimersAsync();
    expect(posted).toHaveLength(1);
    const batch = posted[0] as Array<Record<string, unknown>>;
    expect(batch.map((e) => e.type)).toEqual(["impression", "view", "skip"]);
    for (const event of batch) expect(engagementEventSchema.safeParse(event).error).toBeUndefined();
    expect(batch[1]).toMatchObject({ positionMs: 13, durationMs: 6000, sessionId: "s1", userId: "u1" });
    expect(batch[2]).toMatchObject({ watchMs: 1235 });
    expect(batch[2]).not.toHaveProperty("positionMs"); // negative values are dropped, not sent
    expect(new Set(batch.map((e) => e.id)).size).toBe(3);
  });

  it("sends what waits after flushIntervalMs", async () => {
    const telemetry = new Telemetry({ endpoint: "/events", flushIntervalMs: 1000 });
    telemetry.track({ type: "impression", videoId: "v1" });
    await vi.advanceTimersByTimeAsync(999);
    expect(posted).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(posted).toHaveLength(1);
  });

  it("keeps a batch for a retry after a network error or a 5xx, and drops it after a 4xx", async () => {
    const telemetry = new Telemetry({ endpoint: "/events", flushIntervalMs: 100 });
    failNetwork = true;
    telemetry.track({ type: "impression", videoId: "v1" });
    await telemetry.flush();
    expect(telemetry.pending).toBe(1);
    failNetwork = false;
    status = 503;
    await telemetry.flush();
    expect(telemetry.pending).toBe(1);
    status = 204;
    await telemetry.flush();
    expect(telemetry.pending).toBe(0);
    // The retried event is the same event (same id): the server applies it once.
    expect((posted[0] as Array<{ id: string }>)[0]?.id).toBe((posted[1] as Array<{ id: string }>)[0]?.id);
    status = 400;
    telemetry.track({ type: "impression", videoId: "v2" });
    await telemetry.flush();
    expect(telemetry.pending).toBe(0);
  });

  it("refuses an empty endpoint", () => {
    expect(() => new Telemetry({ endpoint: "" })).toThrow(TypeError);
  });
});
