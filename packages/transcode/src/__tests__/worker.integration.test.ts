import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { createMemoryJobQueue, type JobRecord } from "../queue.js";
import { processTranscodes } from "../worker.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-transcode-worker-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("processTranscodes", () => {
  it("runs queued uploads through transcode, reports progress and stores the result", async () => {
    const queue = createMemoryJobQueue({ backoffMs: 10 });
    const progress: number[] = [];
    queue.on("progress", (p) => progress.push(p.progress));
    const done = new Promise<unknown>((resolve) => queue.on("completed", (e) => resolve(e.result)));
    const worker = processTranscodes(queue, { concurrency: 1 });
    const outDir = join(dir, "ok");
    // What a worker killed mid-encode leaves behind: removed before the job runs again.
    const orphan = join(dir, ".ok.part-crashed");
    await mkdir(orphan);
    await writeFile(join(orphan, "stream_0.m4s"), "half an encode");
    const unrelated = join(dir, ".other.part-keep");
    await mkdir(unrelated);
    await queue.enqueue({ id: "upload-1", input: join(sharedDataDir(), "media", "rotated-90-h264.mp4"), outDir });
    const result = (await done) as { master: string; renditions: unknown[] };
    expect(result.master).toBe("master.m3u8");
    expect(result.renditions.length).toBeGreaterThan(1);
    expect(existsSync(join(outDir, "master.m3u8"))).toBe(true);
    expect(progress.at(-1)).toBe(100);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(unrelated)).toBe(true);
    // Enqueuing the finished upload again does not transcode it again.
    expect((await queue.enqueue({ id: "upload-1", input: "ignored", outDir })).state).toBe("completed");
    await worker.close();
  }, 120_000);

  it("sends a file that is not media to the dead-letter state at once", async () => {
    const queue = createMemoryJobQueue({ backoffMs: 10 });
    const dead = new Promise<JobRecord | undefined>((resolve) =>
      queue.on("dead", async (e) => resolve(await queue.get(e.id))),
    );
    const worker = processTranscodes(queue, { concurrency: 1 });
    const input = join(dir, "notes.txt");
    await writeFile(input, "not a video\n".repeat(50));
    await queue.enqueue({ id: "upload-2", input, outDir: join(dir, "bad") });
    const record = await dead;
    expect(record).toMatchObject({ state: "dead", attempts: 1, error: { code: "NOT_MEDIA" } });
    expect(existsSync(join(dir, "bad"))).toBe(false);
    await worker.close();
  });

  it("never replaces an existing folder on a retry: a job without force goes to dead with OUTPUT_EXISTS", async () => {
    const queue = createMemoryJobQueue({ backoffMs: 10 });
    const dead = new Promise<JobRecord | undefined>((resolve) =>
      queue.on("dead", async (e) => resolve(await queue.get(e.id))),
    );
    const worker = processTranscodes(queue, { concurrency: 1 });
    const outDir = join(dir, "taken");
    await mkdir(outDir);
    await writeFile(join(outDir, "keep.txt"), "someone else's");
    await queue.enqueue({ id: "upload-3", input: join(sharedDataDir(), "media", "rotated-90-h264.mp4"), outDir });
    expect(await dead).toMatchObject({ state: "dead", attempts: 1, error: { code: "OUTPUT_EXISTS" } });
    expect(existsSync(join(outDir, "keep.txt"))).toBe(true);
    await worker.close();
  });
});
