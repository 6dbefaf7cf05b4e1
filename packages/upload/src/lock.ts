/** A held lock on one upload. */
export interface Lock {
  /** Aborted when the lock is lost (its lease expired or was taken over): stop writing at once. */
  readonly signal: AbortSignal;
  /** Give the lock up. Safe to call more than once, and after the lock was lost. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /**
   * How long to wait for a lock another request holds before failing with `LOCK_TIMEOUT`.
   * @default 3000
   */
  timeoutMs?: number;
}

/**
 * Port: one writer per upload at a time. Every adapter runs the same contract suite
 * (`__tests__/locker.contract.ts`); the memory locker is the reference.
 */
export interface Locker {
  acquire(uploadId: string, options?: AcquireOptions): Promise<Lock>;
}
