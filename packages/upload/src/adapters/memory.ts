import { UploadErrorCode } from "../errors.js";
import type { AcquireOptions, Lock, Locker } from "../lock.js";
import { acquireSchema, lockTimeout, parseWith, releaseRequested } from "../validate.js";

interface Held {
  /** Waiters in arrival order. */
  queue: Array<() => void>;
  /** The current holder's controller. */
  holder: AbortController;
}

/**
 * In-process locks: the embedded default for a single server process. Waiters are served in
 * arrival order, so a busy upload cannot starve one request.
 */
export function createMemoryLocker(): Locker {
  const held = new Map<string, Held>();
  return {
    async acquire(uploadId: string, options: AcquireOptions = {}): Promise<Lock> {
      const { timeoutMs, requestRelease } = parseWith(
        acquireSchema,
        { uploadId, ...options },
        UploadErrorCode.INVALID_INPUT,
        "acquire",
      );
      const controller = new AbortController();
      const entry = held.get(uploadId);
      if (entry === undefined) {
        held.set(uploadId, { queue: [], holder: controller });
      } else {
        const { queue } = entry;
        await new Promise<void>((resolve, reject) => {
          const grant = () => {
            clearTimeout(timer);
            entry.holder = controller;
            resolve();
          };
          const timer = setTimeout(() => {
            queue.splice(queue.indexOf(grant), 1);
            reject(lockTimeout(uploadId, timeoutMs));
          }, timeoutMs);
          queue.push(grant);
          if (requestRelease) entry.holder.abort(releaseRequested(uploadId));
        });
      }
      let released = false;
      return {
        signal: controller.signal,
        async release() {
          if (released) return;
          released = true;
          const current = held.get(uploadId);
          const next = current?.queue.shift();
          if (next === undefined) held.delete(uploadId);
          else next();
        },
      };
    },
  };
}
