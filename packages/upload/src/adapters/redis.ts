import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import type { AcquireOptions, Lock, Locker } from "../lock.js";
import { acquireSchema, lockTimeout, parseWith } from "../validate.js";

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

/** Locks shared by every server instance through Redis: a leased key per upload (SET NX PX). */
export function createRedisLocker(options: RedisLockerOptions): Locker {
  const { client, keyPrefix, leaseMs } = parseWith(optionsSchema, options, UploadErrorCode.INVALID_OPTIONS, "options");
  const backend = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      throw new UploadError(UploadErrorCode.BACKEND_FAILED, `[redis] ${what} failed`, { cause });
    }
  };

  return {
    async acquire(uploadId: string, acquireOptions: AcquireOptions = {}): Promise<Lock> {
      const { timeoutMs } = parseWith(
        acquireSchema,
        { uploadId, ...acquireOptions },
        UploadErrorCode.INVALID_INPUT,
        "acquire",
      );
      const key = keyPrefix + uploadId;
      const token = randomUUID();
      const deadline = Date.now() + timeoutMs;
      let pause = 10;
      while ((await backend("acquire", () => client.set(key, token, "PX", leaseMs, "NX"))) !== "OK") {
        if (Date.now() >= deadline) throw lockTimeout(uploadId, timeoutMs);
        await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
        pause = Math.min(pause * 2, 200);
      }

      const controller = new AbortController();
      let released = false;
      const lose = (reason: unknown) => {
        clearInterval(renewal);
        controller.abort(reason);
      };
      const renewal = setInterval(
        () => {
          client.eval(RENEW, 1, key, token, leaseMs).then(
            (renewed) => {
              if (renewed !== 1 && !released)
                lose(new UploadError(UploadErrorCode.BACKEND_FAILED, `lock on ${uploadId} was lost`));
            },
            (cause: unknown) => {
              if (!released)
                lose(new UploadError(UploadErrorCode.BACKEND_FAILED, `[redis] lock renewal failed`, { cause }));
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
          await backend("release", () => client.eval(RELEASE, 1, key, token));
        },
      };
    },
  };
}
