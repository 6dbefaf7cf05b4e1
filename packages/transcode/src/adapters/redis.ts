// The transcode job queue on one Redis server, for many worker processes: `@reelkit/transcode/redis`.
//
// Why plain Redis (lists, sorted sets and Lua, through the caller's ioredis client) and not BullMQ:
//
// - Dependency weight. BullMQ 6 pulls in cron-parser, msgpackr (whose native msgpackr-extract
//   ships one optional package per platform), semver, tslib and node-abort-controller. The
//   registry this repository installs from lacks the darwin, win32 and linux-arm builds of
//   msgpackr-extract 3.0.7 (`npm view` answers 404), which is the lockfile failure that
//   docs/architecture.md "Dependency pins" describes: `npm ci` would break for everyone. This
//   adapter needs nothing but ioredis, the optional peer every reelkit Redis adapter already uses,
//   injected by the caller exactly like `@reelkit/engagement/redis`.
// - Idempotency by id. BullMQ ignores a duplicate `jobId` only while the job is still kept
//   (`removeOnComplete` drops it, and then the upload would be transcoded again), and a failed job
//   needs `job.retry()` rather than `add`. Here a record is kept per id and one script decides:
//   any state but `dead` returns the record unchanged, `dead` starts over.
// - Dead-letter state. BullMQ's `failed` is final and its retries sit in `delayed`, so "failed,
//   will retry" and "dead" would have to be inferred. Here they are states of the record; a
//   non-retryable error code goes to `dead` at once, decided by the same worker loop as memory.
// - Progress across processes. Every state change and progress report is written and published
//   (PUBLISH on `<prefix>events`) by the same script, in order; each queue instance subscribes on a
//   connection of its own (`client.duplicate()`, opened on the first `on()` or `process()`), so
//   listeners in any process see every worker's events. Pub/Sub is at most once: the record is the
//   truth, events are notifications (a reconnecting subscriber can miss some).
// - A worker that dies mid-job. A claim is a lease: `<prefix>active` (sorted by deadline) plus a
//   random token on the record. Workers renew their leases every `leaseMs / 3`; when a lease
//   expires, the next claim (by any worker) counts the attempt as failed with `LEASE_EXPIRED` and
//   retries it at once (or buries it, `dead`, when attempts are exhausted). Every write carries the
//   token, so a worker that comes back after losing its lease cannot overwrite the new attempt;
//   its handler's `signal` is aborted at its next renewal. Idle workers wake up when the earliest
//   lease or backoff is due, so a dead worker's job is picked up about `leaseMs` after it stopped.
//
// A single Redis server only: scripts touch job hashes they compute from ids, which Redis Cluster
// does not allow across slots. A Cluster client (and an ioredis `keyPrefix`) is refused.
//
// Layout, under `keyPrefix`: `job:<id>` (hash: id, spec, state, attempts, progress, result, error,
// enqueuedAt, updatedAt, token), `ready` (list of runnable ids, taken from the right), `delayed`
// (sorted set: failed ids by the time they may run again), `active` (sorted set: claimed ids by
// lease deadline). Times are the server's clock (`TIME`), so workers need not agree on theirs.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { TranscodeError, TranscodeErrorCode } from "../errors.js";
import {
  type Claim,
  createEmitter,
  type JobError,
  type JobQueue,
  type JobQueueEvents,
  type JobQueueOptions,
  type JobRecord,
  type JobState,
  jobErrorOf,
  jobQueueOptionsShape,
  parseJobSpec,
  type RetryPolicy,
  startWorker,
  type TranscodeJobSpec,
  type Worker,
  type WorkerBackend,
} from "../queue.js";
import { parseWith } from "../validate.js";

export interface RedisJobQueueOptions extends JobQueueOptions {
  /** An ioredis `Redis` client (single server), created and owned by the caller; `close()` leaves it open. */
  client: Redis;
  /**
   * Prefix of every key and of the events channel: queues with the same prefix share jobs.
   * @default "reelkit:transcode:jobs:"
   */
  keyPrefix?: string;
  /**
   * How long a claim lasts without renewal. Workers renew every `leaseMs / 3`; a job whose worker
   * died is retried by another once its lease expired. Longer than the longest pause a live worker
   * may have (GC, a busy event loop), short enough to retry a dead worker's job soon.
   * @default 30000
   */
  leaseMs?: number;
  /** Idle workers look for work at least this often, besides the events that wake them. @default 5000 */
  pollMs?: number;
}

const optionsSchema = z.strictObject({
  ...jobQueueOptionsShape,
  client: z
    .custom<Redis>(
      (value) => typeof value === "object" && value !== null && typeof (value as Redis).evalsha === "function",
      "client must be an ioredis Redis instance",
    )
    .refine(
      (client) => !("nodes" in client && typeof (client as { nodes?: unknown }).nodes === "function"),
      "Redis Cluster is not supported: give a single-server ioredis Redis client",
    )
    .refine(
      (client) => !client.options?.keyPrefix,
      "the client has an ioredis keyPrefix: use the queue's keyPrefix option instead",
    ),
  keyPrefix: z.string().default("reelkit:transcode:jobs:"),
  leaseMs: z.number().int().min(50).default(30_000),
  pollMs: z.number().int().min(10).default(5000),
});

const now = `local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: job, ready. ARGV: id, spec JSON, channel. Returns the record (HGETALL). */
const enqueueScript = `${now}
local state = redis.call("HGET", KEYS[1], "state")
if state and state ~= "dead" then return redis.call("HGETALL", KEYS[1]) end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "id", ARGV[1], "spec", ARGV[2], "state", "queued", "attempts", 0, "progress", 0,
  "enqueuedAt", now, "updatedAt", now)
redis.call("LPUSH", KEYS[2], ARGV[1])
redis.call("PUBLISH", ARGV[3], '{"type":"queued"}')
return redis.call("HGETALL", KEYS[1])`;

/**
 * KEYS: ready, delayed, active. ARGV: job key prefix, token, leaseMs, attempts, channel.
 * Reaps expired leases, promotes due retries, then claims the oldest runnable job.
 * Returns {1, HGETALL} or {0, ms until a retry or lease is due (-1: none)}.
 */
const claimScript = `${now}
local prefix, token, leaseMs, maxAttempts, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
-- Leases that ran out: their worker died or lost Redis. The attempt failed; retry at once, or bury.
for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, 100)) do
  redis.call("ZREM", KEYS[3], id)
  local key = prefix .. id
  local attempts = tonumber(redis.call("HGET", key, "attempts") or "0")
  local err = {code = "LEASE_EXPIRED",
    message = "the worker running attempt " .. attempts .. " stopped renewing its lease (it died or lost Redis)"}
  redis.call("HDEL", key, "token")
  redis.call("HSET", key, "error", cjson.encode(err), "updatedAt", now)
  if attempts >= maxAttempts then
    redis.call("HSET", key, "state", "dead")
    redis.call("PUBLISH", channel, cjson.encode({type = "dead", id = id, attempt = attempts, error = err}))
  else
    redis.call("HSET", key, "state", "failed")
    redis.call("RPUSH", KEYS[1], id)
    redis.call("PUBLISH", channel,
      cjson.encode({type = "failed", id = id, attempt = attempts, error = err, retryInMs = 0}))
  end
end
-- Retries whose backoff is over join the line, oldest first.
for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, 100)) do
  redis.call("ZREM", KEYS[2], id)
  redis.call("LPUSH", KEYS[1], id)
end
local id = redis.call("RPOP", KEYS[1])
while id do
  local key = prefix .. id
  local state = redis.call("HGET", key, "state")
  if state == "queued" or state == "failed" then
    redis.call("HINCRBY", key, "attempts", 1)
    redis.call("HSET", key, "state", "active", "token", token, "progress", 0, "updatedAt", now)
    redis.call("ZADD", KEYS[3], now + leaseMs, id)
    return {1, redis.call("HGETALL", key)}
  end
  id = redis.call("RPOP", KEYS[1])
end
local due = -1
local nextRetry = redis.call("ZRANGE", KEYS[2], 0, 0, "WITHSCORES")
local nextLease = redis.call("ZRANGE", KEYS[3], 0, 0, "WITHSCORES")
if nextRetry[2] then due = tonumber(nextRetry[2]) - now end
if nextLease[2] and (due < 0 or tonumber(nextLease[2]) - now < due) then due = tonumber(nextLease[2]) - now end
if due ~= -1 and due < 0 then due = 0 end
return {0, due}`;

/** KEYS: active. ARGV: job key prefix, leaseMs, then id and token pairs. Returns the ids whose claim is gone. */
const renewScript = `${now}
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call("HGET", ARGV[1] .. id, "token") == token and redis.call("ZSCORE", KEYS[1], id) then
    redis.call("ZADD", KEYS[1], now + tonumber(ARGV[2]), id)
  else
    lost[#lost + 1] = id
  end
end
return lost`;

/** KEYS: job. ARGV: token, progress, channel, event JSON. */
const progressScript = `${now}
if redis.call("HGET", KEYS[1], "token") ~= ARGV[1] then return 0 end
redis.call("HSET", KEYS[1], "progress", ARGV[2], "updatedAt", now)
redis.call("PUBLISH", ARGV[3], ARGV[4])
return 1`;

/** KEYS: job, active. ARGV: token, id, result JSON ("" for none), channel, event JSON. */
const completeScript = `${now}
if redis.call("HGET", KEYS[1], "token") ~= ARGV[1] then return 0 end
redis.call("ZREM", KEYS[2], ARGV[2])
redis.call("HDEL", KEYS[1], "token", "error", "result")
redis.call("HSET", KEYS[1], "state", "completed", "progress", 100, "updatedAt", now)
if ARGV[3] ~= "" then redis.call("HSET", KEYS[1], "result", ARGV[3]) end
redis.call("PUBLISH", ARGV[4], ARGV[5])
return 1`;

/** KEYS: job, active, delayed. ARGV: token, id, error JSON, retryInMs ("" = dead), channel, event JSON. */
const failScript = `${now}
if redis.call("HGET", KEYS[1], "token") ~= ARGV[1] then return 0 end
redis.call("ZREM", KEYS[2], ARGV[2])
redis.call("HDEL", KEYS[1], "token")
redis.call("HSET", KEYS[1], "error", ARGV[3], "updatedAt", now)
if ARGV[4] == "" then
  redis.call("HSET", KEYS[1], "state", "dead")
else
  redis.call("HSET", KEYS[1], "state", "failed")
  redis.call("ZADD", KEYS[3], now + tonumber(ARGV[4]), ARGV[2])
end
redis.call("PUBLISH", ARGV[5], ARGV[6])
return 1`;

/** KEYS: job, active, ready. ARGV: token, id, channel. Back to the front of the line, the attempt not counted. */
const releaseScript = `${now}
if redis.call("HGET", KEYS[1], "token") ~= ARGV[1] then return 0 end
redis.call("ZREM", KEYS[2], ARGV[2])
redis.call("HDEL", KEYS[1], "token")
redis.call("HINCRBY", KEYS[1], "attempts", -1)
redis.call("HSET", KEYS[1], "state", "queued", "progress", 0, "updatedAt", now)
redis.call("RPUSH", KEYS[3], ARGV[2])
redis.call("PUBLISH", ARGV[3], '{"type":"queued"}')
return 1`;

type Args = Array<string | number>;
interface Scripts {
  reelkitJobEnqueue(...args: Args): Promise<string[]>;
  reelkitJobClaim(...args: Args): Promise<[1, string[]] | [0, number]>;
  reelkitJobRenew(...args: Args): Promise<string[]>;
  reelkitJobProgress(...args: Args): Promise<number>;
  reelkitJobComplete(...args: Args): Promise<number>;
  reelkitJobFail(...args: Args): Promise<number>;
  reelkitJobRelease(...args: Args): Promise<number>;
}

const states: readonly JobState[] = ["queued", "active", "completed", "failed", "dead"];

function recordOf(hash: Record<string, string>): JobRecord {
  const state = hash.state as JobState;
  if (!states.includes(state)) throw new Error(`job ${hash.id}: unknown state ${String(hash.state)}`);
  const record: JobRecord = {
    id: hash.id ?? "",
    spec: JSON.parse(hash.spec ?? "null") as TranscodeJobSpec,
    state,
    attempts: Number(hash.attempts ?? 0),
    progress: Number(hash.progress ?? 0),
    enqueuedAt: Number(hash.enqueuedAt ?? 0),
    updatedAt: Number(hash.updatedAt ?? 0),
  };
  if (hash.result !== undefined) record.result = JSON.parse(hash.result);
  if (hash.error !== undefined) record.error = JSON.parse(hash.error) as JobError;
  return record;
}

function pairs(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

type Message = { type: "queued" } | ({ type: keyof JobQueueEvents } & Record<string, unknown>);

/**
 * A transcode job queue on one Redis server (not Cluster), shared by any number of processes:
 * the same interface and behaviour as `createMemoryJobQueue`, plus leases (see the header of this
 * file). `close()` closes this instance's workers and its event connection, never `client`.
 * Redis failures reject `enqueue` and `get` with the ioredis error; workers report theirs on the
 * `error` event and keep going.
 */
export function createRedisJobQueue(options: RedisJobQueueOptions): JobQueue {
  const config = parseWith(optionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "options");
  const { client, keyPrefix: p, leaseMs } = config;
  const policy: RetryPolicy = config;
  const keys = { ready: `${p}ready`, delayed: `${p}delayed`, active: `${p}active`, job: `${p}job:` };
  const channel = `${p}events`;
  client.defineCommand("reelkitJobEnqueue", { lua: enqueueScript, numberOfKeys: 2 });
  client.defineCommand("reelkitJobClaim", { lua: claimScript, numberOfKeys: 3 });
  client.defineCommand("reelkitJobRenew", { lua: renewScript, numberOfKeys: 1 });
  client.defineCommand("reelkitJobProgress", { lua: progressScript, numberOfKeys: 1 });
  client.defineCommand("reelkitJobComplete", { lua: completeScript, numberOfKeys: 2 });
  client.defineCommand("reelkitJobFail", { lua: failScript, numberOfKeys: 3 });
  client.defineCommand("reelkitJobRelease", { lua: releaseScript, numberOfKeys: 3 });
  const scripts = client as unknown as Scripts;

  const events = createEmitter();
  const wakers = new Set<(afterMs?: number) => void>();
  const workers = new Set<Worker>();
  let subscriber: Redis | undefined;
  let subscribed: Promise<void> | undefined;

  function onMessage(_channel: string, text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch (error) {
      events.emit("error", { error });
      return;
    }
    const { type, ...payload } = message as { type: string } & Record<string, unknown>;
    if (type === "queued") {
      for (const wake of [...wakers]) wake();
      return;
    }
    if (type === "failed") {
      for (const wake of [...wakers]) wake(Number(payload.retryInMs ?? 0));
    }
    if (type === "progress" || type === "completed" || type === "failed" || type === "dead") {
      events.emit(type, payload as never);
    }
  }

  /**
   * Opens the event connection (once; again after a failure). Once anything listens or works,
   * every call and every claim waits for it, so no event of this queue's calls is missed.
   */
  let wanted = false;
  let closed = false;
  function subscribe(): Promise<void> {
    wanted = true;
    if (closed) return Promise.resolve();
    if (subscribed === undefined) {
      const connection = client.duplicate();
      subscriber = connection;
      connection.on("error", (error: unknown) => events.emit("error", { error }));
      connection.on("message", onMessage);
      const attempt = connection.subscribe(channel).then(() => undefined);
      subscribed = attempt;
      // Reported to whoever awaits it (enqueue, get, a worker's claim); the next call tries again.
      attempt.catch(() => {
        if (subscribed !== attempt) return;
        subscribed = undefined;
        subscriber = undefined;
        connection.disconnect();
      });
    }
    return subscribed;
  }
  const settled = async () => {
    if (wanted) await subscribe();
  };

  const eventJson = (type: keyof JobQueueEvents, payload: object) => JSON.stringify({ type, ...payload });

  /** A Redis failure seen by a caller becomes `BACKEND_FAILED`, the driver's error attached. */
  const redisCall = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      throw new TranscodeError(TranscodeErrorCode.BACKEND_FAILED, `[redis] ${what} failed`, { cause });
    }
  };
  const backend: WorkerBackend = {
    pollMs: config.pollMs,
    ready: subscribe,
    renewEveryMs: Math.max(10, Math.floor(leaseMs / 3)),
    async claim() {
      const token = randomUUID();
      const reply = await scripts.reelkitJobClaim(
        keys.ready,
        keys.delayed,
        keys.active,
        keys.job,
        token,
        leaseMs,
        policy.attempts,
        channel,
      );
      if (reply[0] === 1) return { record: recordOf(pairs(reply[1])), token };
      const due = Number(reply[1]);
      return { retryInMs: due < 0 ? undefined : due };
    },
    progress(claim, attempt, percent) {
      const { id } = claim.record;
      scripts
        .reelkitJobProgress(
          keys.job + id,
          claim.token,
          percent,
          channel,
          eventJson("progress", { id, attempt, progress: percent }),
        )
        .catch((error: unknown) => events.emit("error", { error }));
    },
    async complete(claim, attempt, result) {
      const { id } = claim.record;
      let json: string | undefined;
      try {
        json = JSON.stringify(result);
      } catch (cause) {
        await backend.fail(claim, attempt, jobErrorOf(cause), undefined);
        return;
      }
      const stored = json === undefined ? undefined : (JSON.parse(json) as unknown);
      await scripts.reelkitJobComplete(
        keys.job + id,
        keys.active,
        claim.token,
        id,
        json ?? "",
        channel,
        eventJson("completed", { id, attempt, result: stored }),
      );
    },
    async fail(claim, attempt, error, retryInMs) {
      const { id } = claim.record;
      await scripts.reelkitJobFail(
        keys.job + id,
        keys.active,
        keys.delayed,
        claim.token,
        id,
        JSON.stringify(error),
        retryInMs ?? "",
        channel,
        retryInMs === undefined
          ? eventJson("dead", { id, attempt, error })
          : eventJson("failed", { id, attempt, error, retryInMs }),
      );
    },
    async release(claim) {
      const { id } = claim.record;
      await scripts.reelkitJobRelease(keys.job + id, keys.active, keys.ready, claim.token, id, channel);
    },
    async renew(claims: readonly Claim[]) {
      const args: Args = [keys.active, keys.job, leaseMs];
      for (const claim of claims) args.push(claim.record.id, claim.token);
      return scripts.reelkitJobRenew(...args);
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
      await settled();
      const hash = await redisCall("enqueue", () =>
        scripts.reelkitJobEnqueue(keys.job + spec.id, keys.ready, spec.id, JSON.stringify(spec), channel),
      );
      return recordOf(pairs(hash));
    },
    async get(id) {
      if (typeof id !== "string" || id === "") return undefined;
      await settled();
      const hash = await redisCall("get", () => client.hgetall(keys.job + id));
      return hash.state === undefined ? undefined : recordOf(hash);
    },
    process(handler, processOptions) {
      const worker = startWorker(backend, policy, handler, processOptions);
      workers.add(worker);
      return worker;
    },
    on(event, listener) {
      subscribe();
      return events.on(event, listener);
    },
    off: events.off,
    async close(closeOptions) {
      await Promise.all([...workers].map((w) => w.close(closeOptions)));
      closed = true;
      const connection = subscriber;
      if (connection !== undefined) {
        await subscribed?.catch(() => {});
        await connection.quit().catch(() => connection.disconnect());
      }
    },
  };
}
