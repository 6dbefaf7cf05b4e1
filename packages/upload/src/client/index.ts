// @reelkit/upload/client: the tus upload client for browsers and Node. No Node built-ins here;
// Node-only helpers (file sources, a file-backed fingerprint store) live in ./node.ts.

export { isUploadError, UploadError, UploadErrorCode } from "../errors.js";
export {
  createUploadClient,
  type RetryOptions,
  type ServerCapabilities,
  type UploadClient,
  type UploadClientOptions,
  type UploadHandle,
  type UploadHandleEvents,
  type UploadHeaders,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
} from "./client.js";
export {
  createLocalStorageFingerprintStore,
  createMemoryFingerprintStore,
  defaultFingerprintStore,
  type FingerprintStore,
  type LocalStorageFingerprintStoreOptions,
  type StorageLike,
  type StoredPart,
  type StoredUpload,
} from "./fingerprint.js";
export type { UploadInput, UploadSource } from "./source.js";
