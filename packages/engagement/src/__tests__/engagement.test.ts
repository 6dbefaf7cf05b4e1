import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createMemoryStore } from "../adapters/memory-store.js";
import { createEngagement } from "../engagement.js";
import { EngagementErrorCode } from "../errors.js";
import { engagementContract, eventFactory, T0 } from "./engagement.contract.js";

engagementContract("memory", () => createMemoryStore());

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "reelkit-engagement-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("createEngagement options", () => {
  it("rejects unknown or out-of-range options with INVALID_OPTIONS", async () => {
    await expect(createEngagement({ qualifiedViewMs: -1 })).rejects.toMatchObject({
      code: EngagementErrorCode.INVALID_OPTIONS,
    });
    await expect(createEngagement({ bogus: true } as never)).rejects.toMatchObject({
      code: EngagementErrorCode.INVALID_OPTIONS,
    });
    await expect(createEngagement({ store: createMemoryStore(), journal: { path: "/tmp/x" } })).rejects.toMatchObject({
      code: EngagementErrorCode.INVALID_OPTIONS,
    });
  });

  it("takes another qualified-view threshold", async () => {
    const engagement = await createEngagement({ qualifiedViewMs: 10_000, now: () => T0 });
    const e = eventFactory("v");
    await engagement.record([e("watch", { watchMs: 9000 })]);
    expect((await engagement.counts(["v"])).v?.views).toBe(0);
    await engagement.record([e("watch", { watchMs: 1000 })]);
    expect((await engagement.counts(["v"])).v?.views).toBe(1);
  });

  it("refuses an oversized batch whole", async () => {
    const engagement = await createEngagement({ maxBatch: 2, now: () => T0 });
    const e = eventFactory("v");
    await expect(engagement.record([e("share"), e("share"), e("share")])).rejects.toMatchObject({
      code: EngagementErrorCode.INVALID_INPUT,
    });
    expect((await engagement.counts(["v"])).v?.shares).toBe(0);
  });

  it("refuses calls after close", async () => {
    const engagement = await createEngagement();
    await engagement.close();
    await expect(engagement.counts(["v"])).rejects.toMatchObject({ code: EngagementErrorCode.CLOSED });
  });
});

describe("journal", () => {
  it("replays every acknowledged event and registration after a restart", async () => {
    const path = join(await tempDir(), "events.jsonl");
    const first = await createEngagement({ journal: { path }, now: () => T0 });
    await first.registerVideo({ videoId: "v", creatorId: "c", durationMs: 2000 });
    const e = eventFactory("v");
    const like = e("like", { userId: "u1" });
    await first.record([e("watch", { watchMs: 2000 }), like, e("share")]);
    await first.record([like, e("unlike", { userId: "u2" })]);
    const before = await first.counts(["v"]);
    await first.close();

    const second = await createEngagement({ journal: { path }, now: () => T0 });
    expect(await second.counts(["v"])).toEqual(before);
    expect(before.v).toMatchObject({ views: 1, likes: 1, shares: 1 });
    // Dedupe state survived too: a retry of an acknowledged event changes nothing.
    expect(await second.record([like])).toMatchObject({ duplicates: 1 });
    expect((await second.creatorStats("c", { from: T0, to: T0 })).totals.views).toBe(1);
    await second.close();
  });

  it("drops a torn last line (a crash mid-append) and keeps appending cleanly", async () => {
    const path = join(await tempDir(), "events.jsonl");
    const first = await createEngagement({ journal: { path }, now: () => T0 });
    const e = eventFactory("v");
    await first.record([e("share")]);
    await first.close();
    const intact = await readFile(path, "utf8");
    await writeFile(path, `${intact}{"t":"e","events":[{"id":"torn`);

    const second = await createEngagement({ journal: { path }, now: () => T0 });
    expect((await second.counts(["v"])).v?.shares).toBe(1);
    await second.record([e("share")]);
    await second.close();
    const third = await createEngagement({ journal: { path }, now: () => T0 });
    expect((await third.counts(["v"])).v?.shares).toBe(2);
    await third.close();
  });

  it("refuses to start on damage before the last line", async () => {
    const path = join(await tempDir(), "events.jsonl");
    const first = await createEngagement({ journal: { path }, now: () => T0 });
    const e = eventFactory("v");
    await first.record([e("share")]);
    await first.record([e("share")]);
    await first.close();
    const lines = (await readFile(path, "utf8")).split("\n");
    await writeFile(path, [`${lines[0]?.slice(0, 10)}`, ...lines.slice(1)].join("\n"));
    await expect(createEngagement({ journal: { path }, now: () => T0 })).rejects.toMatchObject({
      code: EngagementErrorCode.JOURNAL_CORRUPT,
    });
  });
});
