import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import type { AcquireOptions, Lock, Locker } from "../lock.js";
import { acquireSchema, lockTimeout, parseWith, releaseRequested } from "../validate.js";

export interface RedisLockerOptions {
  /** An ioredis `Redis` or `Cluster` client, created and owned by the caller. */
  client: Redis | Cluster;
  /**
   * Prefix for every lock key, so several deployments can share one Redis.
   * @default "reelkit:upload:lock:"
   */
  keyPrefix?: string;
  /**
   * Lease length. The holder renews it every third of the lease; a holder that dies without
   * releasing frees the upload after at most this long.
   * @default 10000
   */
  leaseMs?: number;
}

const optionsSchema = z.object({
  client: z.custom<Redis | Cluster>(
    (value) => typeof value === "object" && value !== null && typeof (value as Redis).eval === "function",
    "client must be an ioredis Redis or Cluster instance",
  ),
  keyPrefix: z.string().default("reelkit:upload:lock:"),
  leaseMs: z.number().int().min(100).max(600_000).default(10_000),
});

// Only the holder's token may extend or delete the key: a holder whose lease expired and was
// taken over must never release (or extend) the new holder's lock.
const RENEW = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

/** A `Locker` that also owns a Redis subscriber connection. */
export interface RedisLocker extends Locker {
  /** Close the subscriber connection this locker opened (the caller's `client` stays open). */
  close(): Promise<void>;
}

/**
 * Locks shared by every server instance through Redis: a leased key per upload (SET NX PX),
 * renewed while held. Release requests travel over pub/sub on `<keyPrefix>release`: every
 * locker subscribes (through `client.duplicate()`, opened at the first `acquire`) and aborts
 * the signal of its own holder of the named upload.
 */
export function createRedisLocker(options: RedisLockerOptions): RedisLocker {
  const { client, keyPrefix, leaseMs } = parseWith(optionsSchema, options, UploadErrorCode.INVALID_OPTIONS, "options");
  const channel = `${keyPrefix}release`;
  /** Locks this locker holds, by upload id. */
  const holders = new Map<string, Set<AbortController>>();
  let subscriber: Redis | Cluster | undefined;
  let subscribed: Promise<unknown> | undefined;
  const subscribe = () => {
    subscribed ??= (async () => {
      const connection = client.duplicate();
      subscriber = connection;
      connection.on("error", () => {}); // ioredis reconnects; a lost message only delays a takeover
      connection.on("message", (_channel: string, uploadId: string) => {
        for (const holder of holders.get(uploadId) ?? []) holder.abort(releaseRequested(uploadId));
      });
      await connection.subscribe(channel);
    })().catch((cause: unknown) => {
      subscribed = undefined;
      throw cause;
    });
    return subscribed;
  };
  const backend = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      throw new UploadError(UploadErrorCode.BACKEND_FAILED, `[redis] ${what} failed`, { cause });
    }
  };

  return {
    async acquire(uploadId: string, acquireOptions: AcquireOptions = {}): Promise<Lock> {
      const { timeoutMs, requestRelease } = parseWith(
        acquireSchema,
        { uploadId, ...acquireOptions },
        UploadErrorCode.INVALID_INPUT,
        "acquire",
      );
      const key = keyPrefix + uploadId;
      const token = randomUUID();
      const deadline = Date.now() + timeoutMs;
      await backend("subscribe", subscribe);
      let pause = 10;
      let asked = 0;
      while ((await backend("acquire", () => client.set(key, token, "PX", leaseMs, "NX"))) !== "OK") {
        if (Date.now() >= deadline) throw lockTimeout(uploadId, timeoutMs);
        if (requestRelease && Date.now() - asked >= 1000) {
          // Asked again every second, in case the holder's subscription was not ready yet.
          asked = Date.now();
          await backend("release request", () => client.publish(channel, uploadId));
          pause = 10;
        }
        await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
        pause = Math.min(pause * 2, 200);
      }

      const controller = new AbortController();
      let mine = holders.get(uploadId);
      if (mine === undefined) {
        mine = new Set();
        holders.set(uploadId, mine);
      }
      mine.add(controller);
      const forget = () => {
        mine.delete(controller);
        if (mine.size === 0 && holders.get(uploadId) === mine) holders.delete(uploadId);
      };
      let released = false;
      const lose = (reason: unknown) => {
        clearInterval(renewal);
        forget();
        controller.abort(reason);
      };
      const renewal = setInterval(
        () => {
          client.eval(RENEW, 1, key, token, leaseMs).then(
            (renewed) => {
              if (renewed !== 1 && !released)
                lose(new UploadError(UploadErrorCode.LOCK_LOST, `lock on ${uploadId} was lost`));
            },
            (cause: unknown) => {
              if (!released) lose(new UploadError(UploadErrorCode.LOCK_LOST, `[redis] lock renewal failed`, { cause }));
            },
          );
        },
        Math.floor(leaseMs / 3),
      );
      renewal.unref();

      return {
        signal: controller.signal,
        async release() {
          if (released) return;
          released = true;
          clearInterval(renewal);
          forget();
          await backend("release", () => client.eval(RELEASE, 1, key, token));
        },
      };
    },
    async close() {
      const connection = subscriber;
      subscriber = undefined;
      subscribed = undefined;
      if (connection !== undefined) await connection.quit().catch(() => connection.disconnect());
    },
  };
}
