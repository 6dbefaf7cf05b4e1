import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import { parseWith } from "../validate.js";

/**
 * Anything the client can upload: a known size and random access to its bytes. `Blob`/`File` and
 * `Uint8Array` are adapted automatically; `fileSource(path)` from `@reelkit/upload/client/node`
 * reads a file.
 */
export interface UploadSource {
  /** Total bytes. */
  readonly size: number;
  /** Bytes `[start, end)`; must resolve exactly `end - start` bytes. */
  slice(start: number, end: number): Promise<Uint8Array>;
  /**
   * Identifies the same content across runs (e.g. name + size + modification time), so an upload
   * can resume. Without one (and without `fingerprint` in the upload options) nothing is stored.
   */
  readonly fingerprint?: string | undefined;
  /** Called once the upload settles (done, failed or aborted): release file handles here. */
  close?(): void | Promise<void>;
}

/** What `client.upload` accepts. */
export type UploadInput = Blob | Uint8Array | UploadSource;

const genericSourceSchema = z.object({
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  slice: z.custom<UploadSource["slice"]>((v) => typeof v === "function", "slice must be a function"),
  fingerprint: z.string().min(1).optional(),
  close: z.custom<() => void | Promise<void>>((v) => typeof v === "function", "close must be a function").optional(),
});

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== "undefined" && value instanceof Blob;
}

/** `File`-like: a Blob with a name and a modification time. */
function fileFingerprint(blob: Blob): string | undefined {
  const { name, lastModified } = blob as Blob & { name?: unknown; lastModified?: unknown };
  if (typeof name !== "string" || typeof lastModified !== "number") return undefined;
  return `file:${name}:${blob.type}:${blob.size}:${lastModified}`;
}

/** Adapt and validate an upload input; `INVALID_INPUT` when it is none of the accepted shapes. */
export function toUploadSource(input: unknown): UploadSource {
  if (isBlob(input)) {
    const blob = input;
    const fingerprint = fileFingerprint(blob);
    return {
      size: blob.size,
      slice: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
      ...(fingerprint !== undefined ? { fingerprint } : {}),
    };
  }
  if (input instanceof Uint8Array) {
    const bytes = input;
    return { size: bytes.byteLength, slice: async (start, end) => bytes.subarray(start, end) };
  }
  const source = parseWith(genericSourceSchema, input, UploadErrorCode.INVALID_INPUT, "upload source");
  const generic = input as UploadSource;
  return {
    size: source.size,
    slice: (start, end) => generic.slice(start, end),
    ...(source.fingerprint !== undefined ? { fingerprint: source.fingerprint } : {}),
    ...(source.close !== undefined ? { close: () => generic.close?.() } : {}),
  };
}

/** Read `[start, end)` and check the length; any failure is `SOURCE_FAILED`. */
export async function readSlice(source: UploadSource, start: number, end: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await source.slice(start, end);
  } catch (error) {
    throw new UploadError(UploadErrorCode.SOURCE_FAILED, `reading bytes ${start}-${end} of the source failed`, {
      cause: error,
    });
  }
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== end - start)
    throw new UploadError(
      UploadErrorCode.SOURCE_FAILED,
      `the source returned ${bytes instanceof Uint8Array ? bytes.byteLength : "no"} bytes for ${start}-${end}`,
    );
  return bytes;
}
