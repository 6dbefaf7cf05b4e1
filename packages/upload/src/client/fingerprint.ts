import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import { parseWith } from "../validate.js";

/** One piece of a stored upload: a byte range of the source and, once created, its upload URL. */
export interface StoredPart {
  /** First byte of the source in this part. */
  start: number;
  /** One past the last byte. */
  end: number;
  /** The upload URL, once the server created it. */
  url?: string | undefined;
}

/**
 * What the client remembers about an unfinished upload, under its fingerprint: enough to find every
 * byte already on the server after a page reload or a process restart. JSON-serialisable.
 */
export interface StoredUpload {
  /** Record format version. */
  version: 1;
  /** Source size in bytes. */
  size: number;
  /** `true` when the parts are tus partial uploads joined by a final concatenation. */
  concat: boolean;
  /** The parts in source order; an ordinary upload has exactly one. */
  parts: StoredPart[];
  /** Epoch ms when the upload started. */
  createdAt: number;
}

/**
 * Port: where the client keeps {@link StoredUpload} records between runs. Keys are opaque strings
 * (the endpoint and the source fingerprint). Methods may be synchronous or return promises. A store
 * that fails never fails an upload: the client reports a `warning` event and carries on without resume.
 */
export interface FingerprintStore {
  get(key: string): StoredUpload | undefined | Promise<StoredUpload | undefined>;
  set(key: string, value: StoredUpload): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** The zod schema of a stored record; anything else read from a store is ignored. */
export const storedUploadSchema = z
  .object({
    version: z.literal(1),
    size: z.number().int().min(0),
    concat: z.boolean(),
    parts: z
      .array(
        z.object({
          start: z.number().int().min(0),
          end: z.number().int().min(0),
          url: z.string().min(1).optional(),
        }),
      )
      .min(1),
    createdAt: z.number(),
  })
  .refine((r) => r.parts[0]?.start === 0 && r.parts.at(-1)?.end === r.size, "parts must cover the source")
  .refine(
    (r) => r.parts.every((p, i) => p.end >= p.start && (i === 0 || r.parts[i - 1]?.end === p.start)),
    "parts must be contiguous",
  );

/** A deep copy through JSON, so a store never shares objects with the client. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A store that lives as long as the process or page: resume across uploads, not across restarts. */
export function createMemoryFingerprintStore(): FingerprintStore {
  const entries = new Map<string, StoredUpload>();
  return {
    get: (key) => {
      const value = entries.get(key);
      return value === undefined ? undefined : copy(value);
    },
    set: (key, value) => {
      entries.set(key, copy(value));
    },
    remove: (key) => {
      entries.delete(key);
    },
  };
}

/** The part of the Web Storage API a fingerprint store needs (`localStorage`, `sessionStorage`, or a stand-in). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface LocalStorageFingerprintStoreOptions {
  /** @default globalThis.localStorage */
  storage?: StorageLike | undefined;
  /** Prefix of every key written. @default "reelkit-upload:" */
  prefix?: string | undefined;
}

const storageSchema = z.custom<StorageLike>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as StorageLike).getItem === "function" &&
    typeof (v as StorageLike).setItem === "function" &&
    typeof (v as StorageLike).removeItem === "function",
  "storage must implement getItem, setItem and removeItem",
);

const localStorageOptionsSchema = z.object({
  storage: storageSchema.optional(),
  prefix: z.string().default("reelkit-upload:"),
});

/** `globalThis.localStorage` when it exists and accepts writes (not in Node 20, nor some private modes). */
export function availableLocalStorage(): StorageLike | undefined {
  try {
    const storage = (globalThis as { localStorage?: unknown }).localStorage;
    if (!storageSchema.safeParse(storage).success) return undefined;
    const probe = "reelkit-upload:probe";
    (storage as StorageLike).setItem(probe, "1");
    (storage as StorageLike).removeItem(probe);
    return storage as StorageLike;
  } catch {
    return undefined;
  }
}

/** A store in Web Storage (`localStorage` by default): resume survives page reloads. One JSON value per key. */
export function createLocalStorageFingerprintStore(
  options: LocalStorageFingerprintStoreOptions = {},
): FingerprintStore {
  const parsed = parseWith(
    localStorageOptionsSchema,
    options,
    UploadErrorCode.INVALID_OPTIONS,
    "local storage fingerprint store options",
  );
  const storage = parsed.storage ?? availableLocalStorage();
  if (storage === undefined)
    throw new UploadError(UploadErrorCode.INVALID_OPTIONS, "no localStorage in this environment: pass `storage`");
  const prefix = parsed.prefix;
  return {
    get: (key) => {
      const raw = storage.getItem(prefix + key);
      if (raw === null) return undefined;
      try {
        return JSON.parse(raw) as StoredUpload;
      } catch {
        return undefined;
      }
    },
    set: (key, value) => storage.setItem(prefix + key, JSON.stringify(value)),
    remove: (key) => storage.removeItem(prefix + key),
  };
}

/** The client's default: `localStorage` when available (browsers), else an in-memory store. */
export function defaultFingerprintStore(): FingerprintStore {
  const storage = availableLocalStorage();
  return storage !== undefined ? createLocalStorageFingerprintStore({ storage }) : createMemoryFingerprintStore();
}
