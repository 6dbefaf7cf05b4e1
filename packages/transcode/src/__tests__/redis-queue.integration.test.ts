import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis, type RedisOptions } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { createRedisJobQueue } from "../adapters/redis.js";
import { TranscodeErrorCode } from "../errors.js";
import type { JobQueue, JobQueueEvents } from "../queue.js";
import { deferred, jobQueueContract, jobSpec, nextEvent, sleep, until } from "./queue.contract.js";

const url = serviceEnv("REDIS_URL");
const redis = new Redis(url);

// A fresh prefix per queue keeps tests apart on the shared server. Every key a test wrote is
// removed after it: the queue's three keys and the job hashes of the ids it enqueued (scanning the
// shared keyspace per test would cost more than the tests); the last check proves nothing is left.
const written = new Map<string, Set<string>>();
const prefix = () => {
  const p = `test:transcode:${randomUUID()}:`;
  written.set(p, new Set());
  return p;
};
/** The queue, remembering the ids enqueued through it. */
const tracked = (queue: JobQueue, keyPrefix: string): JobQueue => ({
  ...queue,
  enqueue(spec) {
    const id = (spec as { id?: unknown } | null)?.id;
    if (typeof id === "string") written.get(keyPrefix)?.add(id);
    return queue.enqueue(spec);
  },
});
afterEach(async () => {
  for (const [p, ids] of written) {
    await redis.del(`${p}ready`, `${p}delayed`, `${p}active`, ...[...ids].map((id) => `${p}job:${id}`));
  }
  written.clear();
});
afterAll(async () => {
  let cursor = "0";
  const left: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "test:transcode:*", "COUNT", 100_000);
    left.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  redis.disconnect();
  expect(left).toEqual([]);
});

jobQueueContract("redis", (options) => {
  const keyPrefix = prefix();
  return tracked(createRedisJobQueue({ client: redis, keyPrefix, ...options }), keyPrefix);
});

describe("createRedisJobQueue", () => {
  const queues: JobQueue[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close({ timeoutMs: 200 })));
    for (const c of clients.splice(0)) c.disconnect();
  });
  const open = (options: Parameters<typeof createRedisJobQueue>[0] & { keyPrefix: string }) => {
    const q = tracked(createRedisJobQueue(options), options.keyPrefix);
    queues.push(q);
    return q;
  };
  const connection = (options: RedisOptions = {}) => {
    const c = new Redis(url, options);
    c.on("error", () => {});
    clients.push(c);
    return c;
  };

  it("refuses what is not a single-server ioredis client, and an ioredis keyPrefix, with INVALID_OPTIONS", () => {
    const invalid = expect.objectContaining({ code: TranscodeErrorCode.INVALID_OPTIONS });
    expect(() => createRedisJobQueue({ client: {} as Redis })).toThrow(invalid);
    const cluster = { evalsha() {}, nodes() {} } as unknown as Redis;
    expect(() => createRedisJobQueue({ client: cluster })).toThrow(/Cluster is not supported/);
    const prefixed = connection({ keyPrefix: "app:", lazyConnect: true });
    expect(() => createRedisJobQueue({ client: prefixed })).toThrow(/keyPrefix/);
    expect(() => createRedisJobQueue({ client: redis, leaseMs: 1 })).toThrow(invalid);
  });

  it("shares the work between two queue instances on two connections: each job runs once", async () => {
    const keyPrefix = prefix();
    const a = open({ client: redis, keyPrefix });
    const b = open({ client: connection(), keyPrefix });
    const specs = Array.from({ length: 30 }, () => jobSpec());
    const runs = new Map<string, string[]>();
    const handler = (who: string) => async (job: { id: string; progress(p: number): void }) => {
      runs.set(job.id, [...(runs.get(job.id) ?? []), who]);
      job.progress(50);
      await sleep(5);
      return who;
    };
    // Listeners on `a` hear about the jobs `b` ran: events cross processes.
    const results = Promise.all(specs.map((s) => nextEvent(a, "completed", (e) => e.id === s.id)));
    a.process(handler("a"), { concurrency: 2 });
    b.process(handler("b"), { concurrency: 2 });
    for (const [i, spec] of specs.entries()) {
      // Both instances enqueue every job: still one job per id.
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      await first.enqueue(spec);
      await second.enqueue(spec);
    }
    const completed = await results;
    expect([...runs.values()].every((who) => who.length === 1)).toBe(true);
    expect(runs.size).toBe(specs.length);
    const ranBy = completed.map((e) => e.result);
    expect(ranBy.filter((who) => who === "a").length).toBeGreaterThan(0);
    expect(ranBy.filter((who) => who === "b").length).toBeGreaterThan(0);
    for (const spec of specs) {
      expect(await b.get(spec.id)).toMatchObject({ state: "completed", attempts: 1, result: runs.get(spec.id)?.[0] });
    }
  });

  it("retries the job of a worker process killed mid-job, on another worker, once its lease expires", async () => {
    const keyPrefix = prefix();
    const queue = open({ client: redis, keyPrefix, leaseMs: 200 });
    const spec = jobSpec();
    await queue.enqueue(spec);

    const adapter = fileURLToPath(new URL("../adapters/redis.ts", import.meta.url));
    const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@reelkit/source", "--input-type=module", "-e", workerProcess],
      {
        cwd: repoRoot,
        env: { ...process.env, REDIS_URL: url, QUEUE_PREFIX: keyPrefix, QUEUE_ADAPTER: adapter },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    const started = new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", () => reject(new Error(`the worker process exited early: ${stderr}`)));
    });
    expect(JSON.parse(await started)).toEqual({ started: spec.id, attempt: 1 });
    expect(await queue.get(spec.id)).toMatchObject({ state: "active", attempts: 1 });
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    const failed = nextEvent(queue, "failed", (e) => e.id === spec.id);
    const completed = nextEvent(queue, "completed", (e) => e.id === spec.id);
    const killedAt = Date.now();
    queue.process(async (job) => ({ by: "survivor", attempt: job.attempt }), { concurrency: 1 });
    expect(await failed).toMatchObject({ attempt: 1, retryInMs: 0, error: { code: "LEASE_EXPIRED" } });
    expect(await completed).toMatchObject({ attempt: 2, result: { by: "survivor", attempt: 2 } });
    // Picked up within about a lease (200 ms) of the kill, not after some long poll.
    expect(Date.now() - killedAt).toBeLessThan(2000);
    const record = await queue.get(spec.id);
    expect(record).toMatchObject({ state: "completed", attempts: 2, result: { by: "survivor", attempt: 2 } });
    expect(record?.error).toBeUndefined();
  });

  it("a worker cut off from Redis loses its lease: another completes the job and the late outcome is ignored", async () => {
    const keyPrefix = prefix();
    // This worker's connection drops and comes back only after 600 ms, long after its 150 ms lease.
    const flaky = connection({ retryStrategy: () => 600 });
    const cutOff = open({ client: flaky, keyPrefix, leaseMs: 150 });
    const survivor = open({ client: redis, keyPrefix, leaseMs: 150 });
    const spec = jobSpec();
    const started = deferred();
    const aborted = deferred<unknown>();
    cutOff.process(
      async (job) => {
        started.open();
        await new Promise((resolve) => job.signal.addEventListener("abort", resolve));
        aborted.open(job.signal.reason);
        // It tries to complete anyway: the stale claim must not overwrite the survivor's result.
        return "stale result";
      },
      { concurrency: 1 },
    );
    const failures: Array<JobQueueEvents["failed"]> = [];
    survivor.on("failed", (e) => failures.push(e));
    const completed = nextEvent(survivor, "completed", (e) => e.id === spec.id);
    await survivor.enqueue(spec);
    await started.promise;
    flaky.disconnect(true);
    survivor.process(async (job) => `survivor, attempt ${job.attempt}`, { concurrency: 1 });
    expect(await completed).toMatchObject({ attempt: 2, result: "survivor, attempt 2" });
    expect(failures).toMatchObject([{ id: spec.id, attempt: 1, error: { code: "LEASE_EXPIRED" } }]);
    // Back on line, its next renewal finds the claim gone and aborts its handler.
    expect(await aborted.promise).toMatchObject({ code: TranscodeErrorCode.ABORTED });
    await sleep(50);
    expect(await survivor.get(spec.id)).toMatchObject({
      state: "completed",
      attempts: 2,
      result: "survivor, attempt 2",
    });
    await until(async () => flaky.status === "ready", "the reconnection");
  });
});

/** A worker process: claims one job, prints a line and hangs until it is killed. */
const workerProcess = `
const { Redis } = await import("ioredis");
const { createRedisJobQueue } = await import(process.env.QUEUE_ADAPTER);
const client = new Redis(process.env.REDIS_URL);
const queue = createRedisJobQueue({ client, keyPrefix: process.env.QUEUE_PREFIX, leaseMs: 200 });
queue.process(async (job) => {
  process.stdout.write(JSON.stringify({ started: job.id, attempt: job.attempt }) + "\\n");
  await new Promise(() => {});
}, { concurrency: 1 });
`;

describe("createRedisJobQueue on a dead connection", () => {
  it("reports enqueue and get failures as BACKEND_FAILED with the driver's error attached", async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    const queue = createRedisJobQueue({ client: dead, keyPrefix: prefix() });
    const error = await queue.enqueue(jobSpec({ id: "dead-1" })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: TranscodeErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    await expect(queue.get("dead-1")).rejects.toMatchObject({ code: TranscodeErrorCode.BACKEND_FAILED });
    await queue.close();
    dead.disconnect();
  });
});
