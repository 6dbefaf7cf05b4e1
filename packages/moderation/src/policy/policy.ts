import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import { reasonCodeSchema } from "../queue/schema.js";
import type { Decision } from "../queue/types.js";
import { parseWith } from "../queue/validate.js";

/** What a check found: a category and how sure / how bad, 0–1. */
export interface Signal {
  /** The check that produced it (filled in by `createModeration`). */
  check: string;
  /** `profanity`, `sexual`, `hate`, `harassment`, `violence`, `self_harm`, `child_safety`, `known_media`, `spam`, `behaviour`, … */
  category: string;
  /** 0–1. */
  score: number;
  /** Stable, machine-readable reasons, e.g. `text:profanity`, `spam:blocked_domain`. */
  reasonCodes: string[];
  /** Anything that helps a reviewer (matched words, hash ids); never used by the default policy. */
  evidence?: Record<string, unknown>;
}

/**
 * A category: lower-case letters, digits, `_` and `-`, starting with a letter, at most 48
 * characters, so that `<prefix>:<category>` stays a valid review-queue reason code.
 */
export const categorySchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,47}$/, "a category is lower-case letters, digits, _ or -, at most 48 characters");

/**
 * Reason codes are review-queue reason codes (letters, digits, `_ . : -`, at most 64), so a
 * decision's `reasonCodes` can be enqueued as they are.
 */
export { reasonCodeSchema };

/** A check that failed (threw, timed out, returned malformed signals). */
export interface CheckFailure {
  check: string;
  /** `CHECK_TIMEOUT`, `CHECK_FAILED`, `CLASSIFIER_FAILED`, or the code of a `ModerationError` it threw. */
  code: string;
  message: string;
  failMode: FailMode;
}

/** `open`: a failing check is ignored. `closed`: a failing check holds the content for review. */
export type FailMode = "open" | "closed";

/** The moments content is checked at. */
export type Moment = "publish" | "transcoded" | "comment" | "report" | "engagement";

export interface PolicyInput {
  moment: Moment;
  signals: readonly Signal[];
  failures: readonly CheckFailure[];
}

export interface PolicyResult {
  decision: Decision;
  /** Sorted, distinct. */
  reasonCodes: string[];
}

/** Turns signals into a decision. */
export interface Policy {
  decide(input: PolicyInput): PolicyResult;
}

/**
 * The lowest score at which a category's signal leads to each decision; omit one to never reach
 * it. A score at or above `block` blocks, else at or above `hold` holds, else at or above `limit` limits.
 */
export interface CategoryThresholds {
  limit?: number | undefined;
  hold?: number | undefined;
  block?: number | undefined;
}

/**
 * Default thresholds. Automatic blocks only for near-certain signals in the gravest categories;
 * self-harm is held for a human (who can offer help), never blocked; profanity only limits reach.
 */
export const defaultThresholds: Readonly<Record<string, Readonly<CategoryThresholds>>> = {
  profanity: { limit: 0.5 },
  sexual: { limit: 0.5, hold: 0.8, block: 0.97 },
  hate: { hold: 0.5, block: 0.97 },
  harassment: { limit: 0.4, hold: 0.7, block: 0.97 },
  violence: { limit: 0.4, hold: 0.7, block: 0.97 },
  self_harm: { hold: 0.5 },
  child_safety: { hold: 0.3, block: 0.7 },
  known_media: { hold: 0.5, block: 0.9 },
  illicit: { limit: 0.5, hold: 0.8 },
  spam: { limit: 0.5, hold: 0.9 },
  behaviour: { limit: 0.5, hold: 0.9 },
  account: { limit: 0.6, hold: 0.9 },
  reports: { hold: 0.5 },
};

/** Thresholds for a category not in the table. */
export const defaultCategoryThresholds: Readonly<CategoryThresholds> = { limit: 0.6, hold: 0.9 };

export interface PolicyOptions {
  /** Per category; merged over `defaultThresholds` (a category given here replaces its entry whole). */
  thresholds?: Record<string, CategoryThresholds>;
  /** For categories in neither table. @default { limit: 0.6, hold: 0.9 } */
  fallback?: CategoryThresholds;
  /** The decision a fail-closed check's failure leads to (at least). @default "hold" */
  failClosed?: Exclude<Decision, "allow">;
}

const unit = z.number().min(0).max(1);
const thresholdsSchema = z
  .strictObject({ limit: unit.optional(), hold: unit.optional(), block: unit.optional() })
  .refine(
    (t) => {
      const set = [t.limit, t.hold, t.block].filter((v): v is number => v !== undefined);
      return set.every((v, i) => i === 0 || v >= (set[i - 1] as number));
    },
    { message: "thresholds must not decrease from limit to hold to block" },
  );
const policyOptionsSchema = z.strictObject({
  thresholds: z.record(z.string().min(1).max(64), thresholdsSchema).optional(),
  fallback: thresholdsSchema.optional(),
  failClosed: z.enum(["limit", "hold", "block"]).optional(),
});

const rank: Record<Decision, number> = { allow: 0, limit: 1, hold: 2, block: 3 };

/** The more severe of two decisions. */
export function mostSevere(a: Decision, b: Decision): Decision {
  return rank[b] > rank[a] ? b : a;
}

/** The decision one score reaches under `t`. */
export function decisionFor(score: number, t: CategoryThresholds): Decision {
  if (t.block !== undefined && score >= t.block) return "block";
  if (t.hold !== undefined && score >= t.hold) return "hold";
  if (t.limit !== undefined && score >= t.limit) return "limit";
  return "allow";
}

/**
 * The default policy: each signal reaches a decision by its category's thresholds; the most severe
 * wins. Reason codes are those of every signal that reached at least `limit`, plus
 * `check_failed:<check>` for each fail-closed failure (which leads to at least `failClosed`).
 *
 * @throws ModerationError `INVALID_OPTIONS`.
 */
export function createPolicy(options: PolicyOptions = {}): Policy {
  const o = parseWith(policyOptionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "policy options");
  const table: Record<string, CategoryThresholds> = { ...defaultThresholds, ...(o.thresholds ?? {}) };
  const fallback: CategoryThresholds = o.fallback ?? defaultCategoryThresholds;
  const failClosed = o.failClosed ?? "hold";
  return {
    decide({ signals, failures }) {
      let decision: Decision = "allow";
      const reasons = new Set<string>();
      for (const s of signals) {
        const d = decisionFor(s.score, table[s.category] ?? fallback);
        if (d === "allow") continue;
        decision = mostSevere(decision, d);
        for (const r of s.reasonCodes) reasons.add(r);
        if (s.reasonCodes.length === 0) reasons.add(`${s.category}`);
      }
      for (const f of failures) {
        if (f.failMode !== "closed") continue;
        decision = mostSevere(decision, failClosed);
        reasons.add(`check_failed:${f.check}`);
      }
      return { decision, reasonCodes: [...reasons].sort() };
    },
  };
}
