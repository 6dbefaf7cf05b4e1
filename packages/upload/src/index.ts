export { createMemoryLocker } from "./adapters/memory.js";
export { isUploadError, UploadError, UploadErrorCode } from "./errors.js";
export type { AcquireOptions, Lock, Locker } from "./lock.js";
