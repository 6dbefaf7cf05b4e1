import { z } from "zod";
import type { CounterIncrement } from "./counters.js";
import { EngagementError, EngagementErrorCode } from "./errors.js";

const key = z.string().min(1).max(512);
const incrementsSchema = z.array(
  z.strictObject({
    key,
    field: z.string().min(1).max(128),
    // Redis HINCRBY is 64-bit; staying within JavaScript's safe integers keeps every adapter exact.
    by: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  }),
);
const keysSchema = z.array(key);

/** Parse with a package schema, turning a zod failure into an `EngagementError` with the issues listed. */
export function parseWith<T>(schema: z.ZodType<T>, input: unknown, code: EngagementErrorCode, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new EngagementError(code, `invalid ${what}: ${z.prettifyError(result.error)}`, { cause: result.error });
  }
  return result.data;
}

export function validateIncrements(increments: readonly CounterIncrement[]): void {
  parseWith(incrementsSchema, increments, EngagementErrorCode.INVALID_INPUT, "increments");
}

export function validateKeys(keys: readonly string[]): void {
  parseWith(keysSchema, keys, EngagementErrorCode.INVALID_INPUT, "keys");
}
