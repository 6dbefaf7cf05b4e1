import { availableParallelism } from "node:os";
import { describe, expect, it, vi } from "vitest";
import { backoffDelay, createMemoryJobQueue, defaultNonRetryableCodes, jobErrorOf } from "../queue.js";
import { deferred, jobQueueContract, jobSpec, nextEvent, until } from "./queue.contract.js";

// The root entry and the memory queue must never load the Redis SDK.
vi.mock("ioredis", () => {
  throw new Error("ioredis was loaded by the memory queue or the root entry");
});

jobQueueContract("memory", (options) => createMemoryJobQueue(options));

describe("createMemoryJobQueue", () => {
  it("loads without ioredis, and so does the package root", async () => {
    await expect(import("../index.js")).resolves.toBeDefined();
    await expect(import("../queue.js")).resolves.toHaveProperty("createMemoryJobQueue");
  });

  it("runs os.availableParallelism() jobs at once by default", async () => {
    const queue = createMemoryJobQueue();
    const cores = availableParallelism();
    const specs = Array.from({ length: cores + 2 }, () => jobSpec());
    const finish = deferred();
    let running = 0;
    const worker = queue.process(async () => {
      running += 1;
      await finish.promise;
    });
    for (const spec of specs) await queue.enqueue(spec);
    await until(() => running === cores, `${cores} running jobs`);
    const states = await Promise.all(specs.map(async (s) => (await queue.get(s.id))?.state));
    expect(states.filter((s) => s === "active")).toHaveLength(cores);
    expect(states.filter((s) => s === "queued")).toHaveLength(2);
    const last = specs.at(-1)?.id;
    const done = nextEvent(queue, "completed", (e) => e.id === last);
    finish.open();
    await done;
    await worker.close();
  });

  it("lets several workers share one queue, each job run once", async () => {
    const queue = createMemoryJobQueue();
    const specs = Array.from({ length: 12 }, () => jobSpec());
    const runs = new Map<string, string[]>();
    const handler = (who: string) => async (job: { id: string }) => {
      runs.set(job.id, [...(runs.get(job.id) ?? []), who]);
      await new Promise((resolve) => setTimeout(resolve, 2));
    };
    const all = Promise.all(specs.map((s) => nextEvent(queue, "completed", (e) => e.id === s.id)));
    const workers = [queue.process(handler("a"), { concurrency: 2 }), queue.process(handler("b"), { concurrency: 2 })];
    for (const spec of specs) await queue.enqueue(spec);
    await all;
    expect([...runs.values()].every((who) => who.length === 1)).toBe(true);
    expect(new Set([...runs.values()].flat())).toEqual(new Set(["a", "b"]));
    await queue.close();
    expect(workers).toHaveLength(2);
  });

  it("returns copies: changing a record does not change the queue", async () => {
    const queue = createMemoryJobQueue();
    const spec = jobSpec();
    const record = await queue.enqueue(spec);
    record.state = "dead";
    record.spec.input = "/elsewhere";
    expect(await queue.get(spec.id)).toMatchObject({ state: "queued", spec: { input: spec.input } });
  });
});

describe("backoffDelay", () => {
  const policy = { attempts: 10, backoffMs: 100, maxBackoffMs: 1000, nonRetryable: [] };

  it("doubles per attempt, jittered into the upper half, capped", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay({ ...policy, backoffMs: 0 }, 3)).toBe(0);
  });
});

describe("jobErrorOf", () => {
  it("keeps a string code, else JOB_FAILED, and caps long messages", () => {
    expect(jobErrorOf(Object.assign(new Error("x"), { code: "TOO_LONG" }))).toEqual({ code: "TOO_LONG", message: "x" });
    expect(jobErrorOf(Object.assign(new Error("x"), { code: 42 }))).toEqual({ code: "JOB_FAILED", message: "x" });
    expect(jobErrorOf("plain")).toEqual({ code: "JOB_FAILED", message: "plain" });
    expect(jobErrorOf(new Error("e".repeat(5000))).message.length).toBeLessThan(2100);
  });

  it("lists the input errors and an existing output as non-retryable by default", () => {
    expect([...defaultNonRetryableCodes].sort()).toEqual(
      [
        "AUDIO_ONLY",
        "EMPTY_FILE",
        "INPUT_NOT_FOUND",
        "INVALID_INPUT",
        "INVALID_OPTIONS",
        "NOT_MEDIA",
        "NO_VIDEO",
        "OUTPUT_EXISTS",
        "TOO_LARGE",
        "TOO_LONG",
        "TRUNCATED",
      ].sort(),
    );
  });
});
