import { z } from "zod";
import { EngagementError, type EngagementErrorCode } from "./errors.js";

/** Parse with a package schema, turning a zod failure into an `EngagementError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: EngagementErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new EngagementError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}
