import { z } from "zod";
import { FeedRankerError, type FeedRankerErrorCode } from "./errors.js";

/** Parse with a package schema, turning a zod failure into a `FeedRankerError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: FeedRankerErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new FeedRankerError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}
