import { Client } from "cassandra-driver";
import { afterAll, describe, expect, it } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { createCassandraStore } from "../adapters/cassandra.js";
import { createEngagement } from "../engagement.js";
import { EngagementErrorCode } from "../errors.js";
import { engagementContract, eventFactory, T0 } from "./engagement.contract.js";

const client = new Client({
  contactPoints: serviceEnv("CASSANDRA_CONTACT_POINTS").split(","),
  localDataCenter: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
});
const keyspace = `engagement_test_${process.pid}`;
afterAll(async () => {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client.shutdown();
});

engagementContract("cassandra", () => createCassandraStore({ client, keyspace }));

describe("createCassandraStore", () => {
  it("rejects a keyspace name CQL would not take", async () => {
    await expect(createCassandraStore({ client, keyspace: "Robert'); DROP" })).rejects.toMatchObject({
      code: EngagementErrorCode.INVALID_OPTIONS,
    });
  });

  it("stays exact when two writers race on one video", async () => {
    const [a, b] = await Promise.all([
      createEngagement({ store: await createCassandraStore({ client, keyspace }), now: () => T0 }),
      createEngagement({ store: await createCassandraStore({ client, keyspace }), now: () => T0 }),
    ]);
    const e = eventFactory("raced");
    const events = Array.from({ length: 60 }, (_, i) => e("share", { sessionId: `s${i}` }));
    // Both writers get every event (a retry storm); each applies exactly once.
    const results = await Promise.all([
      a.record(events.slice(0, 40)),
      b.record(events.slice(20)),
      a.record(events.slice(30, 50)),
    ]);
    expect(results.reduce((n, r) => n + r.accepted - r.duplicates, 0)).toBe(60);
    expect((await a.counts(["raced"])).raced?.shares).toBe(60);
  });

  it("bounds its queries in flight when a batch touches thousands of videos", async () => {
    const engagement = await createEngagement({
      store: await createCassandraStore({ client, keyspace }),
      now: () => T0,
    });
    // One event per video: unbounded, this fans out past the driver's 2,048 requests per connection.
    const events = Array.from({ length: 2500 }, (_, i) => eventFactory(`wide-${i}`)("share"));
    expect(await engagement.record(events)).toMatchObject({ accepted: 2500, duplicates: 0 });
    const counts = await engagement.counts(events.map((e) => e.videoId));
    expect(Object.values(counts).every((c) => c.shares === 1)).toBe(true);
  });

  it("splits a large batch into conditional batches Cassandra accepts", async () => {
    const engagement = await createEngagement({
      store: await createCassandraStore({ client, keyspace }),
      now: () => T0,
    });
    const e = eventFactory("big");
    const events = Array.from({ length: 450 }, (_, i) => e("complete", { sessionId: `s${i}`, userId: `u${i}` }));
    expect(await engagement.record(events)).toMatchObject({ accepted: 450, duplicates: 0 });
    expect((await engagement.counts(["big"])).big).toMatchObject({ views: 450, completions: 450 });
  });
});
