import { z } from "zod";
import { TranscodeError, type TranscodeErrorCode } from "./errors.js";

/** Parse with a package schema, turning a zod failure into an `TranscodeError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: TranscodeErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new TranscodeError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}
