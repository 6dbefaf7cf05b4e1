// The transcode job queue: the port every backend implements, the worker loop they share, and the
// in-process default. A job is one upload turned into one ladder; its id is chosen by the caller
// (the upload id), which is what makes `enqueue` idempotent.
//
// Backends (this file's memory queue, `@reelkit/transcode/redis`) only store and hand out jobs;
// the worker loop here runs handlers, counts attempts, backs off, decides what is dead and shuts
// down gracefully, so every backend behaves the same and one contract suite checks them all.
import { availableParallelism } from "node:os";
import { z } from "zod";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import { parseWith } from "./validate.js";

/** What to transcode: validated by `enqueue` (`INVALID_INPUT`). Unknown fields are rejected. */
export const transcodeJobSpecSchema = z.strictObject({
  /** Chosen by the caller (e.g. the upload id): 1–200 characters, no whitespace. One job per id. */
  id: z.string().min(1).max(200).regex(/^\S+$/u, "must not contain whitespace"),
  /** The uploaded file. */
  input: z.string().min(1),
  /** Where the ladder is published. */
  outDir: z.string().min(1),
  options: z
    .strictObject({
      /** Replace an existing output folder. */
      force: z.boolean().optional(),
      /** A named ladder preset. */
      preset: z.string().min(1).optional(),
    })
    .optional(),
});

export type TranscodeJobSpec = z.infer<typeof transcodeJobSpecSchema>;

/**
 * - `queued`: waiting for a worker.
 * - `active`: a worker runs it.
 * - `completed`: the handler returned; `result` holds what it returned.
 * - `failed`: the last attempt failed and it will be retried (after its backoff).
 * - `dead`: the dead-letter state. Attempts are exhausted or the error is not retryable; it is
 *   never run again unless enqueued again.
 */
export type JobState = "queued" | "active" | "completed" | "failed" | "dead";

export interface JobError {
  /** The thrown error's string `code` (e.g. a `TranscodeErrorCode`), else `JOB_FAILED`. */
  code: string;
  message: string;
}

export interface JobRecord {
  id: string;
  spec: TranscodeJobSpec;
  state: JobState;
  /** Attempts started so far (the running one included). */
  attempts: number;
  /** 0–100: what the running (or last) attempt reported; 100 once completed. */
  progress: number;
  /** What the handler returned (JSON-serialisable), once completed. */
  result?: unknown;
  /** Why the last attempt failed, while `failed` or `dead`. */
  error?: JobError;
  /** Milliseconds since the Unix epoch (the Redis queue uses the server's clock). */
  enqueuedAt: number;
  updatedAt: number;
}

/** What a handler receives for one attempt. */
export interface JobContext {
  id: string;
  spec: TranscodeJobSpec;
  /** 1 on the first attempt. */
  attempt: number;
  /**
   * Aborted when the worker closes and its timeout has passed, or (Redis) when the job's lease was
   * lost to another worker; the handler should stop (e.g. pass it to `transcode`) and throw.
   */
  signal: AbortSignal;
  /** Report progress, 0–100 (clamped): stored on the record and sent as a `progress` event. */
  progress(percent: number): void;
}

/**
 * Runs one attempt of a job. What it returns is stored as JSON (a result JSON cannot represent,
 * e.g. a circular one, sends the job to `dead`); a throw fails the attempt.
 */
export type JobHandler = (job: JobContext) => Promise<unknown>;

export interface ProcessOptions {
  /**
   * Jobs this worker runs at once.
   * @default os.availableParallelism(): one transcode per core this process may use.
   */
  concurrency?: number;
  /**
   * How long `close()` lets running jobs finish before it aborts their `signal`.
   * @default Infinity (wait for them)
   */
  closeTimeoutMs?: number;
}

export interface Worker {
  /**
   * Stop taking jobs and wait for the running ones to finish. After `timeoutMs` (default: the
   * `closeTimeoutMs` given to `process`) their `signal` is aborted; `close()` then waits for the
   * handlers to return, and a job whose handler threw after the abort goes back to `queued`
   * with that attempt not counted. Jobs this worker did not start stay queued. A handler that
   * ignores its signal keeps `close()` waiting. Calling it again returns the same promise.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** Events of a queue, typed. With Redis they come from every process using the same queue. */
export interface JobQueueEvents {
  progress: { id: string; attempt: number; progress: number };
  completed: { id: string; attempt: number; result: unknown };
  /** The attempt failed; the job runs again in `retryInMs`. */
  failed: { id: string; attempt: number; error: JobError; retryInMs: number };
  /** The job went to the dead-letter state. */
  dead: { id: string; attempt: number; error: JobError };
  /** A backend failure a worker (or event subscription) carried on past; it retries by itself. */
  error: { error: unknown };
}

export type JobQueueEvent = keyof JobQueueEvents;
export type JobQueueListener<E extends JobQueueEvent> = (payload: JobQueueEvents[E]) => void;

export interface JobQueue {
  /**
   * Add a job, idempotently by `spec.id`: when a job with that id exists in any state but `dead`
   * (queued, active, failed, even completed), its record is returned and nothing changes — a
   * finished job is not redone, and a differing spec is ignored. A `dead` job is enqueued again:
   * it takes the new spec, `attempts` and `progress` go back to 0, its error is cleared and
   * `enqueuedAt` is now. Throws `INVALID_INPUT` for an invalid spec.
   */
  enqueue(spec: TranscodeJobSpec): Promise<JobRecord>;
  /** The job's record, or `undefined` for an unknown id. */
  get(id: string): Promise<JobRecord | undefined>;
  /** Start a worker running `handler`. */
  process(handler: JobHandler, options?: ProcessOptions): Worker;
  /** Listen to an event; returns a function that removes the listener. */
  on<E extends JobQueueEvent>(event: E, listener: JobQueueListener<E>): () => void;
  off<E extends JobQueueEvent>(event: E, listener: JobQueueListener<E>): void;
  /** Close every worker of this queue (as `Worker.close`) and release what the queue holds. */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** Handler error codes that go to `dead` at once: the input is at fault, retrying cannot help. */
export const defaultNonRetryableCodes: readonly string[] = [
  TranscodeErrorCode.NOT_MEDIA,
  TranscodeErrorCode.EMPTY_FILE,
  TranscodeErrorCode.TRUNCATED,
  TranscodeErrorCode.NO_VIDEO,
  TranscodeErrorCode.AUDIO_ONLY,
  TranscodeErrorCode.TOO_LONG,
  TranscodeErrorCode.TOO_LARGE,
  TranscodeErrorCode.INPUT_NOT_FOUND,
  TranscodeErrorCode.INVALID_INPUT,
  TranscodeErrorCode.INVALID_OPTIONS,
  TranscodeErrorCode.OUTPUT_EXISTS,
];

/** Options every queue takes. */
export interface JobQueueOptions {
  /** Attempts per job, the first included; then it is `dead`. @default 3 */
  attempts?: number;
  /**
   * Base of the exponential backoff: attempt n failing waits `backoffMs * 2^(n-1)` (capped at
   * `maxBackoffMs`) with equal jitter — a random point in its upper half.
   * @default 2000
   */
  backoffMs?: number;
  /** @default 600000 (10 min) */
  maxBackoffMs?: number;
  /** Error codes that send a job to `dead` at once. @default defaultNonRetryableCodes */
  nonRetryable?: readonly string[];
}

/** @internal Shared by every backend's options schema. */
export const jobQueueOptionsShape = {
  attempts: z.number().int().min(1).max(1000).default(3),
  backoffMs: z.number().int().min(0).default(2000),
  maxBackoffMs: z.number().int().min(0).default(600_000),
  nonRetryable: z.array(z.string().min(1)).readonly().default(defaultNonRetryableCodes),
};

/** Milliseconds, or Infinity for "no limit". */
const timeout = z.union([z.number().min(0), z.literal(Number.POSITIVE_INFINITY)]);

const processOptionsSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(10_000).optional(),
  closeTimeoutMs: timeout.default(Number.POSITIVE_INFINITY),
});

const closeOptionsSchema = z.strictObject({ timeoutMs: timeout.optional() }).optional();

/** @internal The options the worker loop needs, validated. */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  nonRetryable: readonly string[];
}

/** Validate a job spec (`INVALID_INPUT`). */
export function parseJobSpec(spec: unknown): TranscodeJobSpec {
  return parseWith(transcodeJobSpecSchema, spec, TranscodeErrorCode.INVALID_INPUT, "job spec");
}

/** Exponential backoff with equal jitter: a random point in [delay / 2, delay]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const delay = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay / 2 + (random() * delay) / 2);
}

const maxMessageLength = 2000;

/** @internal A thrown value as a record's error: its string `code`, else `JOB_FAILED`. */
export function jobErrorOf(error: unknown): JobError {
  const code =
    typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
      ? (error as { code: string }).code
      : "";
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: code === "" ? "JOB_FAILED" : code,
    message: message.length > maxMessageLength ? `${message.slice(0, maxMessageLength)}…` : message,
  };
}

/** @internal A typed event emitter; a throwing listener is reported on `error`, never to the emitter. */
export function createEmitter() {
  const listeners = new Map<JobQueueEvent, Set<(payload: never) => void>>();
  const emitter = {
    on<E extends JobQueueEvent>(event: E, listener: JobQueueListener<E>): () => void {
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (payload: never) => void);
      return () => emitter.off(event, listener);
    },
    off<E extends JobQueueEvent>(event: E, listener: JobQueueListener<E>): void {
      listeners.get(event)?.delete(listener as (payload: never) => void);
    },
    emit<E extends JobQueueEvent>(event: E, payload: JobQueueEvents[E]): void {
      for (const listener of [...(listeners.get(event) ?? [])]) {
        try {
          (listener as JobQueueListener<E>)(payload);
        } catch (error) {
          if (event !== "error") emitter.emit("error", { error });
        }
      }
    },
  };
  return emitter;
}

/** @internal A job a backend handed to a worker: it is `active` and `token` proves the claim. */
export interface Claim {
  record: JobRecord;
  token: string;
}

/**
 * @internal What a worker needs from a backend. Every write carries the claim's token and is
 * ignored when the claim is no longer current (Redis: the lease expired and the job moved on).
 */
export interface WorkerBackend {
  /** Take the next runnable job (queued, or failed and due), or say in how many ms to look again. */
  claim(): Promise<Claim | { retryInMs: number | undefined }>;
  progress(claim: Claim, attempt: number, percent: number): void;
  complete(claim: Claim, attempt: number, result: unknown): Promise<void>;
  /** `retryInMs` undefined: dead. */
  fail(claim: Claim, attempt: number, error: JobError, retryInMs: number | undefined): Promise<void>;
  /** Back to `queued`, first in line, the attempt not counted: the worker stopped it, not the job. */
  release(claim: Claim): Promise<void>;
  /** Keep the claims alive; returns the ids whose claim was lost. Absent when claims cannot expire. */
  renew?(claims: readonly Claim[]): Promise<string[]>;
  renewEveryMs?: number;
  /** Awaited before each claim (Redis: the event subscription, so no event of a claimed job is missed). */
  ready?(): Promise<void>;
  /** Look for jobs at least this often even without a wake-up (Infinity: only when woken). */
  pollMs: number;
  /** Call `wake` when jobs may have become runnable; returns the unsubscribe. */
  subscribe(wake: (afterMs?: number) => void): () => void;
  reportError(error: unknown): void;
}

interface Running {
  claim: Claim;
  controller: AbortController;
  /** The worker is closing and aborted this job. */
  stopped: boolean;
  /** The backend gave the job to someone else: this attempt's outcome is dropped. */
  lost: boolean;
  done: Promise<void>;
}

/** @internal The worker loop every backend shares. */
export function startWorker(
  backend: WorkerBackend,
  policy: RetryPolicy,
  handler: JobHandler,
  options: ProcessOptions | undefined,
): Worker {
  if (typeof handler !== "function") {
    throw new TranscodeError(TranscodeErrorCode.INVALID_INPUT, "process(handler): handler must be a function");
  }
  const config = parseWith(processOptionsSchema, options ?? {}, TranscodeErrorCode.INVALID_OPTIONS, "process options");
  const concurrency = config.concurrency ?? availableParallelism();
  const running = new Map<string, Running>();
  let closing = false;
  let closed: Promise<void> | undefined;
  let pumping: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const wakeIn = (ms: number) => {
    if (closing || !Number.isFinite(ms)) return;
    const at = Date.now() + Math.max(0, ms);
    if (timer !== undefined && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        timerAt = Number.POSITIVE_INFINITY;
        pump();
      },
      Math.max(0, ms),
    );
  };

  function pump(): void {
    if (closing) return;
    if (pumping !== undefined) {
      // A wake-up while claiming: claim again once this round is over.
      again = true;
      return;
    }
    again = false;
    pumping = fill().finally(() => {
      pumping = undefined;
      if (again) pump();
    });
  }

  /** Claim jobs until the slots are full or nothing is runnable. */
  async function fill(): Promise<void> {
    try {
      while (!closing && running.size < concurrency) {
        await backend.ready?.();
        if (closing) break;
        const next = await backend.claim();
        if (!("token" in next)) {
          wakeIn(Math.min(next.retryInMs ?? Number.POSITIVE_INFINITY, backend.pollMs));
          break;
        }
        if (closing) {
          // Claimed while close() began: this worker never starts it.
          await backend.release(next);
          break;
        }
        start(next);
      }
    } catch (error) {
      backend.reportError(error);
      wakeIn(Math.min(backend.pollMs, 1000));
    }
  }

  function start(claim: Claim): void {
    const { id, spec, attempts: attempt } = claim.record;
    const controller = new AbortController();
    const job: Running = { claim, controller, stopped: false, lost: false, done: Promise.resolve() };
    running.set(id, job);
    const context: JobContext = {
      id,
      spec,
      attempt,
      signal: controller.signal,
      progress(percent: number) {
        if (job.lost || typeof percent !== "number" || Number.isNaN(percent)) return;
        backend.progress(claim, attempt, Math.min(100, Math.max(0, percent)));
      },
    };
    job.done = (async () => {
      let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, result: await handler(context) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      try {
        if (job.lost) return;
        if (outcome.ok) {
          await backend.complete(claim, attempt, outcome.result);
        } else if (job.stopped) {
          await backend.release(claim);
        } else {
          const error = jobErrorOf(outcome.error);
          const dead = attempt >= policy.attempts || policy.nonRetryable.includes(error.code);
          await backend.fail(claim, attempt, error, dead ? undefined : backoffDelay(policy, attempt));
        }
      } catch (error) {
        // The outcome could not be stored: with leases the job is retried once its lease expires.
        backend.reportError(error);
      }
    })().finally(() => {
      running.delete(id);
      pump();
    });
  }

  const unsubscribe = backend.subscribe((afterMs) => {
    if (afterMs === undefined || afterMs <= 0) pump();
    else wakeIn(afterMs);
  });

  const renewal =
    backend.renew === undefined
      ? undefined
      : setInterval(() => {
          const jobs = [...running.values()].filter((j) => !j.lost);
          if (jobs.length === 0 || backend.renew === undefined) return;
          backend.renew(jobs.map((j) => j.claim)).then(
            (lost) => {
              for (const id of lost) {
                const job = running.get(id);
                if (job === undefined) continue;
                job.lost = true;
                job.controller.abort(
                  new TranscodeError(
                    TranscodeErrorCode.ABORTED,
                    `job ${id}: its lease expired and another worker took it`,
                  ),
                );
              }
            },
            (error: unknown) => backend.reportError(error),
          );
        }, backend.renewEveryMs ?? 10_000);

  pump();

  return {
    close(closeOptions) {
      if (closed !== undefined) return closed;
      const timeoutMs =
        parseWith(closeOptionsSchema, closeOptions, TranscodeErrorCode.INVALID_OPTIONS, "close options")?.timeoutMs ??
        config.closeTimeoutMs;
      closing = true;
      clearTimeout(timer);
      unsubscribe();
      closed = (async () => {
        await pumping;
        const all = Promise.all([...running.values()].map((j) => j.done));
        let abortTimer: NodeJS.Timeout | undefined;
        if (Number.isFinite(timeoutMs)) {
          abortTimer = setTimeout(() => {
            for (const job of running.values()) {
              job.stopped = true;
              job.controller.abort(new TranscodeError(TranscodeErrorCode.ABORTED, "the worker is closing"));
            }
          }, timeoutMs);
        }
        await all;
        clearTimeout(abortTimer);
        clearInterval(renewal);
      })();
      return closed;
    },
  };
}

/** Options of `createMemoryJobQueue`. */
export type MemoryJobQueueOptions = JobQueueOptions;

const memoryOptionsSchema = z.strictObject(jobQueueOptionsShape);

interface MemoryJob {
  record: JobRecord;
  /** When a `failed` job may run again. */
  runAt: number;
  token: string | undefined;
}

/** JSON round trip, so the memory queue stores exactly what a shared backend would. */
function asJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * The in-process queue, the default: jobs, records and events live in this process (lost when it
 * exits). Workers run in this process too; `process()` runs `os.availableParallelism()` jobs at
 * once unless told otherwise, one transcode per core. Use `@reelkit/transcode/redis` to share
 * the work between processes or machines.
 */
export function createMemoryJobQueue(options: MemoryJobQueueOptions = {}): JobQueue {
  const policy: RetryPolicy = parseWith(memoryOptionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "options");
  const jobs = new Map<string, MemoryJob>();
  /** Runnable or waiting ids, oldest first. */
  const line: string[] = [];
  const events = createEmitter();
  const wakers = new Set<(afterMs?: number) => void>();
  const workers = new Set<Worker>();
  let tokens = 0;

  const copy = (record: JobRecord): JobRecord => structuredClone(record);
  const wakeAll = (afterMs?: number) => {
    for (const wake of [...wakers]) wake(afterMs);
  };
  const current = (claim: Claim): MemoryJob | undefined => {
    const job = jobs.get(claim.record.id);
    return job !== undefined && job.token === claim.token ? job : undefined;
  };

  const backend: WorkerBackend = {
    pollMs: Number.POSITIVE_INFINITY,
    async claim() {
      const now = Date.now();
      let soonest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < line.length; i++) {
        const job = jobs.get(line[i] as string);
        if (job === undefined) continue;
        if (job.runAt > now) {
          soonest = Math.min(soonest, job.runAt - now);
          continue;
        }
        line.splice(i, 1);
        const token = String(++tokens);
        job.token = token;
        job.record.state = "active";
        job.record.attempts += 1;
        job.record.progress = 0;
        job.record.updatedAt = now;
        return { record: copy(job.record), token };
      }
      return { retryInMs: Number.isFinite(soonest) ? soonest : undefined };
    },
    progress(claim, attempt, percent) {
      const job = current(claim);
      if (job === undefined) return;
      job.record.progress = percent;
      job.record.updatedAt = Date.now();
      events.emit("progress", { id: job.record.id, attempt, progress: percent });
    },
    async complete(claim, attempt, result) {
      const job = current(claim);
      if (job === undefined) return;
      let stored: unknown;
      try {
        stored = asJson(result);
      } catch (cause) {
        await backend.fail(claim, attempt, jobErrorOf(cause), undefined);
        return;
      }
      job.token = undefined;
      const { error: _error, result: _result, ...rest } = job.record;
      job.record = { ...rest, state: "completed", progress: 100, updatedAt: Date.now() };
      if (stored !== undefined) job.record.result = stored;
      events.emit("completed", { id: job.record.id, attempt, result: stored });
    },
    async fail(claim, attempt, error, retryInMs) {
      const job = current(claim);
      if (job === undefined) return;
      job.token = undefined;
      job.record.error = error;
      job.record.updatedAt = Date.now();
      const id = job.record.id;
      if (retryInMs === undefined) {
        job.record.state = "dead";
        events.emit("dead", { id, attempt, error });
        return;
      }
      job.record.state = "failed";
      job.runAt = Date.now() + retryInMs;
      line.push(id);
      events.emit("failed", { id, attempt, error, retryInMs });
      wakeAll(retryInMs);
    },
    async release(claim) {
      const job = current(claim);
      if (job === undefined) return;
      job.token = undefined;
      job.record.state = "queued";
      job.record.attempts -= 1;
      job.record.progress = 0;
      job.record.updatedAt = Date.now();
      job.runAt = 0;
      line.unshift(job.record.id);
      wakeAll();
    },
    subscribe(wake) {
      wakers.add(wake);
      return () => wakers.delete(wake);
    },
    reportError(error) {
      events.emit("error", { error });
    },
  };

  return {
    async enqueue(input) {
      const spec = parseJobSpec(input);
      const existing = jobs.get(spec.id);
      if (existing !== undefined && existing.record.state !== "dead") return copy(existing.record);
      const now = Date.now();
      jobs.set(spec.id, {
        record: { id: spec.id, spec, state: "queued", attempts: 0, progress: 0, enqueuedAt: now, updatedAt: now },
        runAt: 0,
        token: undefined,
      });
      line.push(spec.id);
      // Copied before waking the workers: a worker claims it synchronously.
      const record = copy((jobs.get(spec.id) as MemoryJob).record);
      wakeAll();
      return record;
    },
    async get(id) {
      const job = jobs.get(id);
      return job === undefined ? undefined : copy(job.record);
    },
    process(handler, processOptions) {
      const worker = startWorker(backend, policy, handler, processOptions);
      workers.add(worker);
      return worker;
    },
    on: events.on,
    off: events.off,
    async close(closeOptions) {
      await Promise.all([...workers].map((w) => w.close(closeOptions)));
    },
  };
}
