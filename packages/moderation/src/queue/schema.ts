import { z } from "zod";
import type { ReviewStore } from "./store.js";
import { decisions, reviewStatuses, severityLevels, systemActor } from "./types.js";

/** Ids of items, reviewers and subjects: 1–128 characters, no surrounding or control whitespace. */
const identifier = (what: string) =>
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u, `${what} must not start or end with whitespace`);

/** A reviewer: a person, so never the reserved `"system"` actor. */
export const reviewerSchema = identifier("reviewer").refine(
  (value) => value !== systemActor,
  `"${systemActor}" is reserved for automatic transitions; a reviewer is a person`,
);

export const itemIdSchema = identifier("item id");

/** A reason code: letters, digits and `_ . : -`, 1–64 characters (e.g. `spam`, `dsa:illegal_hate_speech`). */
export const reasonCodeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "a reason code is 1–64 letters, digits, _ . : -");

const reasonCodes = z.array(reasonCodeSchema).min(1).max(32);

const note = z.string().min(1).max(2000);

export const subjectSchema = z.strictObject({
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "kind is lowercase letters, digits, _ or -, at most 32"),
  id: identifier("subject id"),
});

export const enqueueSchema = z.strictObject({
  subject: subjectSchema,
  reasons: reasonCodes,
  severity: z.union([
    z.number().min(0).max(1),
    z.enum(Object.keys(severityLevels) as [keyof typeof severityLevels, ...Array<keyof typeof severityLevels>]),
  ]),
  reach: z
    .strictObject({
      views: z.number().int().min(0).default(0),
      velocity: z.number().min(0).max(1e15).default(0),
    })
    .default({ views: 0, velocity: 0 }),
  by: identifier("by").default(systemActor),
  note: note.optional(),
  priority: z.number().optional(),
});

export const claimOptionsSchema = z.strictObject({ limit: z.number().int().min(1).max(100).default(1) });

export const releaseSchema = z.strictObject({ note: note.optional() });

export const actionSchema = z.strictObject({
  decision: z.enum(decisions),
  reasonCodes,
  note: note.optional(),
});

export const appealSchema = z.strictObject({
  by: identifier("by"),
  statement: z.string().min(1).max(10_000),
});

export const resolveSchema = z.strictObject({
  outcome: z.enum(["upheld", "overturned"]),
  decision: z.enum(decisions).optional(),
  reasonCodes,
  note: note.optional(),
});

export const listSchema = z.strictObject({
  status: z.enum(reviewStatuses).optional(),
  subject: subjectSchema.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});

const storeMethods = ["get", "insert", "update", "claim", "expire", "list", "audit"] as const;

export const queueOptionsSchema = z.strictObject({
  store: z
    .custom<ReviewStore>(
      (value) =>
        typeof value === "object" &&
        value !== null &&
        storeMethods.every((m) => typeof (value as Record<string, unknown>)[m] === "function"),
      `store must implement ReviewStore (${storeMethods.join(", ")})`,
    )
    .optional(),
  leaseMs: z
    .number()
    .int()
    .min(1000)
    .max(24 * 3_600_000)
    .default(5 * 60_000),
  now: z.custom<() => number>((value) => typeof value === "function", "now must be a function").default(() => Date.now),
  priority: z
    .custom<(input: never) => number>((value) => typeof value === "function", "priority must be a function")
    .optional(),
});
