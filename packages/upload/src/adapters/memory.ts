import { UploadErrorCode } from "../errors.js";
import type { AcquireOptions, Lock, Locker } from "../lock.js";
import { acquireSchema, lockTimeout, parseWith } from "../validate.js";

/**
 * In-process locks: the embedded default for a single server process. Waiters are served in
 * arrival order, so a busy upload cannot starve one request.
 */
export function createMemoryLocker(): Locker {
  const held = new Map<string, Array<() => void>>();
  return {
    async acquire(uploadId: string, options: AcquireOptions = {}): Promise<Lock> {
      const { timeoutMs } = parseWith(
        acquireSchema,
        { uploadId, ...options },
        UploadErrorCode.INVALID_INPUT,
        "acquire",
      );
      const queue = held.get(uploadId);
      if (queue === undefined) {
        held.set(uploadId, []);
      } else {
        await new Promise<void>((resolve, reject) => {
          const grant = () => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            queue.splice(queue.indexOf(grant), 1);
            reject(lockTimeout(uploadId, timeoutMs));
          }, timeoutMs);
          queue.push(grant);
        });
      }
      const controller = new AbortController();
      let released = false;
      return {
        signal: controller.signal,
        async release() {
          if (released) return;
          released = true;
          const waiters = held.get(uploadId) ?? [];
          const next = waiters.shift();
          if (next === undefined) held.delete(uploadId);
          else next();
        },
      };
    },
  };
}
