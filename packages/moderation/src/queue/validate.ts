import { z } from "zod";
import { ModerationError, type ModerationErrorCode } from "../errors.js";

/** Parse with a queue schema, turning a zod failure into a `ModerationError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: ModerationErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ModerationError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}
