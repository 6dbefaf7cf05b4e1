import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { UploadErrorCode } from "../errors.js";
import type { Locker } from "../lock.js";

/** The behaviour every `Locker` adapter must share; the memory locker defines it. */
export function lockerContract(name: string, makeLocker: () => Locker | Promise<Locker>): void {
  describe(`Locker contract: ${name}`, () => {
    const id = () => `upload-${randomUUID()}`;

    it("acquires, releases and acquires again", async () => {
      const locker = await makeLocker();
      const upload = id();
      const first = await locker.acquire(upload);
      expect(first.signal.aborted).toBe(false);
      await first.release();
      const second = await locker.acquire(upload, { timeoutMs: 100 });
      await second.release();
    });

    it("makes a second request wait until the holder releases", async () => {
      const locker = await makeLocker();
      const upload = id();
      const first = await locker.acquire(upload);
      let granted = false;
      const second = locker.acquire(upload, { timeoutMs: 2000 }).then((lock) => {
        granted = true;
        return lock;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(granted).toBe(false);
      await first.release();
      await (await second).release();
      expect(granted).toBe(true);
    });

    it("fails with LOCK_TIMEOUT while another request holds the lock", async () => {
      const locker = await makeLocker();
      const upload = id();
      const held = await locker.acquire(upload);
      await expect(locker.acquire(upload, { timeoutMs: 50 })).rejects.toMatchObject({
        name: "UploadError",
        code: UploadErrorCode.LOCK_TIMEOUT,
      });
      await held.release();
    });

    it("never lets two different uploads block each other", async () => {
      const locker = await makeLocker();
      const a = await locker.acquire(id());
      const b = await locker.acquire(id(), { timeoutMs: 0 });
      await Promise.all([a.release(), b.release()]);
    });

    it("treats a second release as a no-op that cannot free someone else's lock", async () => {
      const locker = await makeLocker();
      const upload = id();
      const first = await locker.acquire(upload);
      await first.release();
      const second = await locker.acquire(upload);
      await first.release();
      await expect(locker.acquire(upload, { timeoutMs: 50 })).rejects.toMatchObject({
        code: UploadErrorCode.LOCK_TIMEOUT,
      });
      await second.release();
    });

    it("asks the holder to release when requestRelease is set, then grants the lock", async () => {
      const locker = await makeLocker();
      const upload = id();
      const holder = await locker.acquire(upload);
      const stopped = new Promise<unknown>((resolve) =>
        holder.signal.addEventListener("abort", () => resolve(holder.signal.reason), { once: true }),
      );
      const newcomer = locker.acquire(upload, { timeoutMs: 3000, requestRelease: true });
      // The holder stops at its next durable point and releases; the newcomer then gets the lock.
      expect(await stopped).toMatchObject({ name: "UploadError", code: UploadErrorCode.LOCK_RELEASE_REQUESTED });
      await holder.release();
      const lock = await newcomer;
      expect(lock.signal.aborted).toBe(false);
      await lock.release();
    });

    it("leaves the holder alone when requestRelease is not set", async () => {
      const locker = await makeLocker();
      const upload = id();
      const holder = await locker.acquire(upload);
      await expect(locker.acquire(upload, { timeoutMs: 300 })).rejects.toMatchObject({
        code: UploadErrorCode.LOCK_TIMEOUT,
      });
      expect(holder.signal.aborted).toBe(false);
      await holder.release();
    });

    it("rejects an empty upload id with INVALID_INPUT", async () => {
      const locker = await makeLocker();
      await expect(locker.acquire("")).rejects.toMatchObject({ code: UploadErrorCode.INVALID_INPUT });
    });
  });
}
