// Lifecycle events survive an outage and a restart: status changes made while the stream is down
// are sent from the database (the latest status of each video, with its version) when the
// platform starts again, exactly once; changes sent at once are marked and never relayed again.
// The stream here is a function (the platform's Backends port) on top of the embedded backends;
// scaled mode puts Kafka behind the same port (scaled.integration.test.ts reads the real topic).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbeddedBackends } from "../backends/embedded.js";
import type { LifecycleEvent } from "../backends/types.js";
import { loadConfig } from "../config.js";
import { type Platform, startPlatform } from "../platform.js";

let root: string;
let platform: Platform | undefined;
const sent: LifecycleEvent[] = [];
let streamDown = false;

async function boot(): Promise<Platform> {
  const config = loadConfig({ DATA_DIR: join(root, "data") });
  const backends = await createEmbeddedBackends(config);
  platform = await startPlatform(config, () => {}, {
    ...backends,
    async lifecycle(event) {
      await new Promise((r) => setTimeout(r, 5));
      if (streamDown) throw new Error("the stream is down");
      sent.push(event);
    },
  });
  return platform;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-lifecycle-"));
});

afterAll(async () => {
  await platform?.close();
  await rm(root, { recursive: true, force: true });
});

describe("lifecycle events", () => {
  it("sends every change at once with its version, and relays what an outage kept off the stream after a restart", async () => {
    let p = await boot();
    // Statuses outside the pipeline: a start does not resume anything for these videos.
    await p.db.createVideo({ id: "vid-live-aaaaaaaaaa", ownerId: "u-creator", title: "Live", status: "held" });
    await p.db.setStatus("vid-live-aaaaaaaaaa", "limited", { error: "text:profanity" });
    await p.close(); // waits for the sends and their marks
    expect(sent.map((e) => [e.videoId, e.status, e.version])).toEqual([
      ["vid-live-aaaaaaaaaa", "held", 1],
      ["vid-live-aaaaaaaaaa", "limited", 2],
    ]);

    // The stream goes down: changes are made, none reaches it.
    sent.length = 0;
    streamDown = true;
    p = await boot();
    await p.db.setStatus("vid-live-aaaaaaaaaa", "published", { error: null });
    await p.db.createVideo({ id: "vid-dark-aaaaaaaaaa", ownerId: "u-creator", title: "Dark", status: "held" });
    await p.db.setStatus("vid-dark-aaaaaaaaaa", "rejected", { error: "text:spam, spam:links" });
    await p.close();
    expect(sent).toEqual([]);

    // Back up: the start relays the latest status of each video, once.
    streamDown = false;
    p = await boot();
    expect(sent.map((e) => [e.videoId, e.status, e.version, e.reasons])).toEqual([
      ["vid-live-aaaaaaaaaa", "published", 3, undefined],
      ["vid-dark-aaaaaaaaaa", "rejected", 2, ["text:spam", "spam:links"]],
    ]);
    await p.close();
    p = await boot(); // nothing left to relay
    await p.close();
    expect(sent).toHaveLength(2);
    platform = undefined;
  }, 60_000);
});
