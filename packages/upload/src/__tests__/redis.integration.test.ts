import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../../../../test/services.js";
import { createRedisLocker, type RedisLocker } from "../adapters/redis.js";
import { UploadErrorCode } from "../errors.js";
import { lockerContract } from "./locker.contract.js";

const redis = new Redis(serviceEnv("REDIS_URL"));
const cluster = new Cluster(clusterNodes());
const lockers: RedisLocker[] = [];
/** A locker closed after the file's tests (each one opens a subscriber connection). */
const locker = (options: Parameters<typeof createRedisLocker>[0]) => {
  const made = createRedisLocker(options);
  lockers.push(made);
  return made;
};
afterAll(async () => {
  await Promise.all(lockers.map((l) => l.close()));
  redis.disconnect();
  cluster.disconnect();
});

lockerContract("redis", () => locker({ client: redis }));
lockerContract("redis cluster", () => locker({ client: cluster }));

describe("createRedisLocker", () => {
  it("shares locks between two server instances (two clients)", async () => {
    const other = new Redis(serviceEnv("REDIS_URL"));
    try {
      const upload = `upload-${randomUUID()}`;
      const held = await locker({ client: redis }).acquire(upload);
      await expect(locker({ client: other }).acquire(upload, { timeoutMs: 50 })).rejects.toMatchObject({
        code: UploadErrorCode.LOCK_TIMEOUT,
      });
      await held.release();
    } finally {
      other.disconnect();
    }
  });

  it("frees the upload after the lease when the holder dies, and tells a holder it lost the lock", async () => {
    const doomed = new Redis(serviceEnv("REDIS_URL"));
    doomed.on("error", () => {});
    const upload = `upload-${randomUUID()}`;
    const lost = await locker({ client: doomed, leaseMs: 300 }).acquire(upload);
    doomed.disconnect(); // the holder's process is gone: no renewals, no release
    const started = Date.now();
    const taken = await locker({ client: redis, leaseMs: 300 }).acquire(upload, { timeoutMs: 2000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await new Promise((r) => setTimeout(r, 200));
    expect(lost.signal.aborted).toBe(true);
    await taken.release();
  });

  it("renews the lease while held, so a long upload keeps its lock", async () => {
    const upload = `upload-${randomUUID()}`;
    const held = await locker({ client: redis, leaseMs: 200 }).acquire(upload);
    await new Promise((r) => setTimeout(r, 700));
    expect(held.signal.aborted).toBe(false);
    await expect(locker({ client: redis }).acquire(upload, { timeoutMs: 0 })).rejects.toMatchObject({
      code: UploadErrorCode.LOCK_TIMEOUT,
    });
    await held.release();
  });

  it("carries a release request from one server instance to the holder in another", async () => {
    const other = new Redis(serviceEnv("REDIS_URL"));
    const there = locker({ client: other });
    try {
      const upload = `upload-${randomUUID()}`;
      const held = await locker({ client: redis }).acquire(upload);
      held.signal.addEventListener("abort", () => void held.release(), { once: true });
      const started = Date.now();
      const taken = await there.acquire(upload, { timeoutMs: 3000, requestRelease: true });
      expect(Date.now() - started).toBeLessThan(1000); // well before the 10 s lease
      expect(held.signal.reason).toMatchObject({ code: UploadErrorCode.LOCK_RELEASE_REQUESTED });
      await taken.release();
    } finally {
      await there.close();
      other.disconnect();
    }
  });

  it("rejects options that are out of range", () => {
    expect(() => createRedisLocker({ client: redis, leaseMs: 1 })).toThrow(
      expect.objectContaining({ code: UploadErrorCode.INVALID_OPTIONS }),
    );
  });
});
