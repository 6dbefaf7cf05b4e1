import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { TranscodeError, TranscodeErrorCode } from "../errors.js";
import type {
  JobQueue,
  JobQueueEvent,
  JobQueueEvents,
  JobQueueOptions,
  JobRecord,
  TranscodeJobSpec,
  Worker,
} from "../queue.js";

export { sleep };

/** A valid spec with a fresh id, so queues on a shared server never see each other's jobs. */
export function jobSpec(fields: Partial<TranscodeJobSpec> = {}): TranscodeJobSpec {
  return { id: `upload-${randomUUID()}`, input: "/uploads/in.mp4", outDir: "/ladders/out", ...fields };
}

/** The next `event` (matching `accept`) the queue emits. */
export function nextEvent<E extends JobQueueEvent>(
  queue: JobQueue,
  event: E,
  accept: (payload: JobQueueEvents[E]) => boolean = () => true,
): Promise<JobQueueEvents[E]> {
  return new Promise((resolve) => {
    const off = queue.on(event, (payload) => {
      if (!accept(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** Resolves once `check` holds, polling every few ms. */
export async function until(check: () => boolean | Promise<boolean>, what = "condition", timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(3);
  }
}

/** A promise opened from outside. */
export function deferred<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const failure = (code: string, message = `${code} failed`) => Object.assign(new Error(message), { code });

/**
 * The behaviour every `JobQueue` must share. The memory queue defines it; the Redis adapter runs
 * the same suite against a real server. `make` gets the retry options of each test (backoff is a
 * few ms unless a test says otherwise).
 */
export function jobQueueContract(name: string, make: (options: JobQueueOptions) => JobQueue | Promise<JobQueue>) {
  describe(`job queue contract: ${name}`, () => {
    const opened: JobQueue[] = [];
    const queue = async (options: JobQueueOptions = {}) => {
      const q = await make({ backoffMs: 5, ...options });
      opened.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((q) => q.close({ timeoutMs: 200 })));
    });

    it("enqueues idempotently by id: the same record back while queued, active or completed, run once", async () => {
      const q = await queue();
      const spec = jobSpec({ options: { force: true, preset: "phone" } });
      const first = await q.enqueue(spec);
      expect(first).toMatchObject({ id: spec.id, spec, state: "queued", attempts: 0, progress: 0 });
      expect(first.enqueuedAt).toBeGreaterThan(0);
      expect(first.updatedAt).toBe(first.enqueuedAt);
      // A different spec under the same id changes nothing.
      expect(await q.enqueue({ ...spec, input: "/uploads/other.mp4" })).toEqual(first);

      const runs: string[] = [];
      const started = deferred();
      const finish = deferred();
      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const worker = q.process(
        async (job) => {
          runs.push(job.id);
          started.open();
          await finish.promise;
          return { renditions: 4, spec: job.spec };
        },
        { concurrency: 2 },
      );
      await started.promise;
      expect(await q.enqueue(spec)).toMatchObject({ state: "active", attempts: 1 });
      finish.open();
      expect(await completed).toEqual({ id: spec.id, attempt: 1, result: { renditions: 4, spec } });

      const done = await q.enqueue(spec);
      expect(done).toMatchObject({ state: "completed", attempts: 1, progress: 100, result: { renditions: 4, spec } });
      expect(done.enqueuedAt).toBe(first.enqueuedAt);
      expect(await q.get(spec.id)).toEqual(done);
      // A later job runs; the finished one is not redone.
      const other = jobSpec();
      const otherDone = nextEvent(q, "completed", (e) => e.id === other.id);
      await q.enqueue(other);
      await otherDone;
      expect(runs).toEqual([spec.id, other.id]);
      await worker.close();
    });

    it("enqueues a dead job again: queued with attempts reset and the new spec, then it runs", async () => {
      const q = await queue({ attempts: 1 });
      const spec = jobSpec();
      let broken = true;
      const dead = nextEvent(q, "dead", (e) => e.id === spec.id);
      const worker = q.process(
        async (job) => {
          if (broken) throw failure("FFMPEG_FAILED", "encoder crashed");
          return job.spec.outDir;
        },
        { concurrency: 1 },
      );
      await q.enqueue(spec);
      await dead;
      expect(await q.get(spec.id)).toMatchObject({
        state: "dead",
        attempts: 1,
        error: { code: "FFMPEG_FAILED", message: "encoder crashed" },
      });

      broken = false;
      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const again = await q.enqueue({ ...spec, outDir: "/ladders/retry" });
      expect(again).toMatchObject({ state: "queued", attempts: 0, progress: 0, spec: { outDir: "/ladders/retry" } });
      expect(again.error).toBeUndefined();
      expect(await completed).toMatchObject({ attempt: 1, result: "/ladders/retry" });
      expect(await q.get(spec.id)).toMatchObject({ state: "completed", attempts: 1, result: "/ladders/retry" });
      await worker.close();
    });

    it("runs at most `concurrency` jobs at once", async () => {
      const q = await queue();
      const specs = Array.from({ length: 7 }, () => jobSpec());
      const all = Promise.all(specs.map((s) => nextEvent(q, "completed", (e) => e.id === s.id)));
      let running = 0;
      let peak = 0;
      const ran: string[] = [];
      const worker = q.process(
        async (job) => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(15);
          running -= 1;
          ran.push(job.id);
        },
        { concurrency: 3 },
      );
      for (const s of specs) await q.enqueue(s);
      await all;
      expect(peak).toBe(3);
      expect(ran.sort()).toEqual(specs.map((s) => s.id).sort());
      await worker.close();
    });

    it("retries a failing job with exponential backoff and jitter, then completes it", async () => {
      const q = await queue({ attempts: 3, backoffMs: 20 });
      const spec = jobSpec();
      const starts: number[] = [];
      const failed: Array<JobQueueEvents["failed"]> = [];
      q.on("failed", (e) => failed.push(e));
      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const worker = q.process(
        async (job) => {
          starts.push(performance.now());
          if (job.attempt < 3) throw new TranscodeError(TranscodeErrorCode.FFMPEG_FAILED, `attempt ${job.attempt}`);
          return { attempt: job.attempt };
        },
        { concurrency: 1 },
      );
      await q.enqueue(spec);
      expect(await completed).toEqual({ id: spec.id, attempt: 3, result: { attempt: 3 } });
      expect(failed.map((f) => [f.id, f.attempt, f.error.code])).toEqual([
        [spec.id, 1, "FFMPEG_FAILED"],
        [spec.id, 2, "FFMPEG_FAILED"],
      ]);
      // Attempt n waits backoffMs * 2^(n-1), jittered into its upper half.
      const [first, second] = failed.map((f) => f.retryInMs);
      expect(first).toBeGreaterThanOrEqual(10);
      expect(first).toBeLessThanOrEqual(20);
      expect(second).toBeGreaterThanOrEqual(20);
      expect(second).toBeLessThanOrEqual(40);
      const [s1 = 0, s2 = 0, s3 = 0] = starts;
      expect(s2 - s1).toBeGreaterThanOrEqual((first ?? 0) - 2);
      expect(s3 - s2).toBeGreaterThanOrEqual((second ?? 0) - 2);
      const record = await q.get(spec.id);
      expect(record).toMatchObject({ state: "completed", attempts: 3, progress: 100, result: { attempt: 3 } });
      expect(record?.error).toBeUndefined();
      await worker.close();
    });

    it("keeps a failed job in `failed` with its error while it waits for its retry", async () => {
      const q = await queue({ attempts: 2, backoffMs: 60_000 });
      const spec = jobSpec();
      const failed = nextEvent(q, "failed", (e) => e.id === spec.id);
      const worker = q.process(async () => {
        throw new TranscodeError(TranscodeErrorCode.FFMPEG_FAILED, "ffmpeg exited with 1");
      });
      await q.enqueue(spec);
      expect(await failed).toMatchObject({ attempt: 1, error: { code: "FFMPEG_FAILED" } });
      expect((await failed).retryInMs).toBeGreaterThanOrEqual(30_000);
      await until(async () => (await q.get(spec.id))?.state === "failed", "state failed");
      const record = await q.get(spec.id);
      expect(record).toMatchObject({ state: "failed", attempts: 1, error: { code: "FFMPEG_FAILED" } });
      expect(record?.error?.message).toContain("ffmpeg exited with 1");
      expect(await q.enqueue(spec)).toMatchObject({ state: "failed", attempts: 1 });
      await worker.close();
    });

    it("sends a non-retryable error to `dead` at once", async () => {
      const q = await queue({ attempts: 5 });
      const spec = jobSpec();
      let failedEvents = 0;
      q.on("failed", () => {
        failedEvents += 1;
      });
      const dead = nextEvent(q, "dead", (e) => e.id === spec.id);
      const worker = q.process(async () => {
        throw new TranscodeError(TranscodeErrorCode.NOT_MEDIA, "not a media file");
      });
      await q.enqueue(spec);
      expect(await dead).toMatchObject({ id: spec.id, attempt: 1, error: { code: "NOT_MEDIA" } });
      expect(await q.get(spec.id)).toMatchObject({ state: "dead", attempts: 1, error: { code: "NOT_MEDIA" } });
      expect(failedEvents).toBe(0);
      await worker.close();
    });

    it("takes its own list of non-retryable codes", async () => {
      const q = await queue({ attempts: 3, nonRetryable: ["QUOTA_EXCEEDED"] });
      const [custom, listedByDefault] = [jobSpec(), jobSpec()];
      const attempts = new Map<string, number>();
      const deadCustom = nextEvent(q, "dead", (e) => e.id === custom.id);
      const deadDefault = nextEvent(q, "dead", (e) => e.id === listedByDefault.id);
      const worker = q.process(async (job) => {
        attempts.set(job.id, job.attempt);
        throw failure(job.id === custom.id ? "QUOTA_EXCEEDED" : TranscodeErrorCode.NOT_MEDIA);
      });
      await q.enqueue(custom);
      await q.enqueue(listedByDefault);
      expect(await deadCustom).toMatchObject({ attempt: 1 });
      // NOT_MEDIA is not in this queue's list: it is retried like any error.
      expect(await deadDefault).toMatchObject({ attempt: 3, error: { code: "NOT_MEDIA" } });
      expect(attempts.get(listedByDefault.id)).toBe(3);
      await worker.close();
    });

    it("buries a job in `dead` when its attempts are exhausted", async () => {
      const q = await queue({ attempts: 2 });
      const spec = jobSpec();
      const events: string[] = [];
      q.on("failed", (e) => events.push(`failed ${e.attempt} ${e.error.code}`));
      const dead = nextEvent(q, "dead", (e) => e.id === spec.id);
      const worker = q.process(async () => {
        throw new Error("no code on this one");
      });
      await q.enqueue(spec);
      expect(await dead).toEqual({
        id: spec.id,
        attempt: 2,
        error: { code: "JOB_FAILED", message: "no code on this one" },
      });
      expect(events).toEqual(["failed 1 JOB_FAILED"]);
      expect(await q.get(spec.id)).toMatchObject({ state: "dead", attempts: 2, error: { code: "JOB_FAILED" } });
      // Nothing runs it again by itself.
      await sleep(30);
      expect(await q.get(spec.id)).toMatchObject({ state: "dead", attempts: 2 });
      await worker.close();
    });

    it("sends progress to listeners and the record (clamped to 0–100), 100 once completed", async () => {
      const q = await queue();
      const spec = jobSpec();
      const seen: Array<JobQueueEvents["progress"]> = [];
      q.on("progress", (e) => {
        if (e.id === spec.id) seen.push(e);
      });
      const reported = deferred();
      const finish = deferred();
      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const worker = q.process(async (job) => {
        job.progress(-5);
        job.progress(10);
        job.progress(55.5);
        reported.open();
        await finish.promise;
        return "done";
      });
      await q.enqueue(spec);
      await reported.promise;
      await until(() => seen.length === 3, "three progress events");
      expect(seen).toEqual([
        { id: spec.id, attempt: 1, progress: 0 },
        { id: spec.id, attempt: 1, progress: 10 },
        { id: spec.id, attempt: 1, progress: 55.5 },
      ]);
      expect(await q.get(spec.id)).toMatchObject({ state: "active", progress: 55.5 });
      finish.open();
      await completed;
      expect(await q.get(spec.id)).toMatchObject({ state: "completed", progress: 100 });
      await worker.close();
    });

    it("close() waits for the running job; jobs it did not start stay queued", async () => {
      const q = await queue();
      const [a, b] = [jobSpec(), jobSpec()];
      const started = deferred();
      const finish = deferred();
      const worker = q.process(
        async () => {
          started.open();
          await finish.promise;
          return "finished";
        },
        { concurrency: 1 },
      );
      await q.enqueue(a);
      await started.promise;
      await q.enqueue(b);
      let closed = false;
      const closePromise = worker.close();
      expect(worker.close()).toBe(closePromise);
      const closing = closePromise.then(() => {
        closed = true;
      });
      await sleep(30);
      expect(closed).toBe(false);
      expect(await q.get(a.id)).toMatchObject({ state: "active" });
      finish.open();
      await closing;
      expect(await q.get(a.id)).toMatchObject({ state: "completed", result: "finished" });
      expect(await q.get(b.id)).toMatchObject({ state: "queued", attempts: 0 });
    });

    it("aborts the running job's signal when close() times out; the job goes back to queued", async () => {
      const q = await queue();
      const spec = jobSpec();
      const started = deferred();
      let reason: unknown;
      const worker: Worker = q.process(
        (job) =>
          new Promise((_resolve, reject) => {
            job.progress(40);
            started.open();
            job.signal.addEventListener("abort", () => {
              reason = job.signal.reason;
              reject(job.signal.reason);
            });
          }),
        { concurrency: 1, closeTimeoutMs: 60_000 },
      );
      await q.enqueue(spec);
      await started.promise;
      const began = performance.now();
      await worker.close({ timeoutMs: 20 });
      expect(performance.now() - began).toBeGreaterThanOrEqual(19);
      expect(reason).toBeInstanceOf(TranscodeError);
      expect(reason).toMatchObject({ code: TranscodeErrorCode.ABORTED });
      // Stopped by the worker, not by its own fault: the attempt is not counted.
      expect(await q.get(spec.id)).toMatchObject({ state: "queued", attempts: 0, progress: 0 });
      expect((await q.get(spec.id))?.error).toBeUndefined();

      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const next = q.process(async (job) => `attempt ${job.attempt}`, { concurrency: 1 });
      expect(await completed).toMatchObject({ attempt: 1, result: "attempt 1" });
      await next.close();
    });

    it("rejects an invalid spec with INVALID_INPUT and stores nothing", async () => {
      const q = await queue();
      const good = jobSpec();
      const bad: unknown[] = [
        { ...good, id: "" },
        { ...good, id: "has space" },
        { ...good, id: "tab\there" },
        { ...good, id: "x".repeat(201) },
        { id: good.id, outDir: good.outDir },
        { ...good, input: "" },
        { ...good, outDir: 7 },
        { ...good, options: { force: "yes" } },
        { ...good, options: { unknown: 1 } },
        { ...good, priority: 1 },
        null,
        "upload-1",
      ];
      for (const spec of bad) {
        await expect(q.enqueue(spec as TranscodeJobSpec)).rejects.toMatchObject({
          name: "TranscodeError",
          code: TranscodeErrorCode.INVALID_INPUT,
        });
      }
      expect(await q.get("has space")).toBeUndefined();
      expect(await q.get(good.id)).toBeUndefined();
      const longest = jobSpec({ id: "x".repeat(199) + randomUUID().slice(0, 1) });
      expect((await q.enqueue(longest)).id).toHaveLength(200);
    });

    it("returns undefined for an unknown id, and refuses bad options with INVALID_OPTIONS", async () => {
      const q = await queue();
      expect(await q.get(`missing-${randomUUID()}`)).toBeUndefined();
      expect(() => q.process(async () => {}, { concurrency: 0 })).toThrow(
        expect.objectContaining({ code: TranscodeErrorCode.INVALID_OPTIONS }),
      );
      await expect(Promise.resolve().then(() => make({ attempts: 0 }))).rejects.toMatchObject({
        code: TranscodeErrorCode.INVALID_OPTIONS,
      });
      await expect(Promise.resolve().then(() => make({ backoffMs: -1 }))).rejects.toMatchObject({
        code: TranscodeErrorCode.INVALID_OPTIONS,
      });
    });

    it("stores a JSON result as JSON; listeners that throw do not break the queue", async () => {
      const q = await queue();
      const spec = jobSpec();
      const errors: unknown[] = [];
      q.on("error", (e) => errors.push(e.error));
      q.on("completed", () => {
        throw new Error("listener bug");
      });
      const completed = nextEvent(q, "completed", (e) => e.id === spec.id);
      const worker = q.process(async () => ({ at: new Date(0), skip: undefined, list: [1, "two"] }));
      await q.enqueue(spec);
      await completed;
      const record: JobRecord | undefined = await q.get(spec.id);
      expect(record?.result).toEqual({ at: "1970-01-01T00:00:00.000Z", list: [1, "two"] });
      await until(() => errors.length > 0, "the listener's error");
      expect(errors[0]).toMatchObject({ message: "listener bug" });
      await worker.close();
    });
  });
}
