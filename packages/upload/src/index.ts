export { createMemoryLocker } from "./adapters/memory.js";
export { type ChecksumAlgorithm, checksumAlgorithms, createCrc32, createHasher, type Hasher } from "./checksum.js";
export { isUploadError, UploadError, UploadErrorCode } from "./errors.js";
export type { AcquireOptions, Lock, Locker } from "./lock.js";
export {
  createUploadServer,
  formatMetadata,
  parseMetadata,
  type UploadCreateContext,
  type UploadFinishContext,
  type UploadServer,
  type UploadServerEvent,
  type UploadServerEvents,
  type UploadServerOptions,
} from "./server.js";
export { SNIFF_MIN_BYTES, sniffContainer, type VideoContainer, videoContainers } from "./sniff.js";
export {
  type AppendOptions,
  type ByteRange,
  generateUploadId,
  isValidUploadId,
  type NewUpload,
  type UploadChanges,
  type UploadConcat,
  type UploadInfo,
  type UploadMetadata,
  type UploadStore,
} from "./store.js";
export { createFileStore, type FileStoreOptions } from "./stores/file.js";
