import { z } from "zod";
import { UploadError, UploadErrorCode } from "./errors.js";

/** Parse with a package schema, turning a zod failure into an `UploadError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: UploadErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new UploadError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}

export const acquireSchema = z.object({
  uploadId: z.string().min(1).max(256),
  timeoutMs: z.number().int().min(0).max(600_000).default(3000),
  requestRelease: z.boolean().default(false),
});

export function releaseRequested(uploadId: string): UploadError {
  return new UploadError(UploadErrorCode.LOCK_RELEASE_REQUESTED, `another request asked for upload ${uploadId}`);
}

export function lockTimeout(uploadId: string, timeoutMs: number): UploadError {
  return new UploadError(UploadErrorCode.LOCK_TIMEOUT, `upload ${uploadId} is still locked after ${timeoutMs} ms`);
}
