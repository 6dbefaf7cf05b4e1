/**
 * Where a review item is in its life:
 *
 * - `queued`: reported, waiting for a first review (claimable).
 * - `claimed`: leased to one reviewer until `claim.expiresAt` (a first review or an appeal, see `stage`).
 * - `actioned`: a reviewer decided (`decision`); it may now be appealed.
 * - `appealed`: someone appealed the decision; waiting for a different reviewer (claimable).
 * - `upheld` / `overturned`: the appeal was decided; final.
 */
export const reviewStatuses = ["queued", "claimed", "actioned", "appealed", "upheld", "overturned"] as const;

/** See {@link reviewStatuses}. */
export type ReviewStatus = (typeof reviewStatuses)[number];

/** `review` until the first decision, `appeal` once the decision was appealed. */
export type ReviewStage = "review" | "appeal";

/**
 * What happens to the subject:
 *
 * - `allow`: no restriction.
 * - `limit`: stays published but is not recommended (kept out of feeds and search).
 * - `hold`: hidden while it waits for more information (a restriction that should not last).
 * - `block`: removed.
 */
export const decisions = ["allow", "limit", "hold", "block"] as const;

/** See {@link decisions}. */
export type Decision = (typeof decisions)[number];

/** `upheld` keeps the appealed decision; `overturned` replaces it. */
export type AppealOutcome = "upheld" | "overturned";

/** Named severities and the number each stands for (severity is a number from 0 to 1). */
export const severityLevels = { low: 0.25, medium: 0.5, high: 0.75, critical: 1 } as const;

/** See {@link severityLevels}. */
export type SeverityLevel = keyof typeof severityLevels;

/** What is being reviewed. Open-ended: any lowercase kind (`[a-z][a-z0-9_-]*`, at most 32 characters). */
export type SubjectKind = "video" | "comment" | "user" | "live" | "sound" | (string & {});

/** The thing under review, e.g. `{ kind: "video", id: "v_123" }`. One open review item exists per subject. */
export interface ReviewSubject {
  kind: SubjectKind;
  id: string;
}

/** How far the subject travels: it weighs into the default priority. */
export interface Reach {
  /** Views so far. */
  views: number;
  /** Views per hour right now. */
  velocity: number;
}

/** A lease: only `reviewer` may act on the item, and only until `expiresAt`. */
export interface ReviewClaim {
  reviewer: string;
  claimedAt: number;
  /** Milliseconds since the Unix epoch; at this instant the lease has expired. */
  expiresAt: number;
}

/** The first-review decision. */
export interface ReviewAction {
  reviewer: string;
  decision: Decision;
  reasonCodes: string[];
  note?: string;
  at: number;
}

/** The decision on an appeal, by a reviewer other than the one who actioned the item. */
export interface AppealResolution {
  reviewer: string;
  outcome: AppealOutcome;
  /** The decision in force after the appeal (the appealed one when `upheld`). */
  decision: Decision;
  reasonCodes: string[];
  note?: string;
  at: number;
}

/** An appeal against the item's decision. */
export interface ReviewAppeal {
  /** Who appealed: the uploader, the reporter, or someone acting for them. */
  by: string;
  statement: string;
  at: number;
  resolution?: AppealResolution;
}

/** One entry of the review queue. Every method returns a copy; change it through the queue only. */
export interface ReviewItem {
  id: string;
  subject: ReviewSubject;
  /** Why it was reported (reason codes, merged across reports, first-seen order). */
  reasons: string[];
  /** 0 (harmless) to 1 (critical); the highest reported. */
  severity: number;
  /** The highest reach reported. */
  reach: Reach;
  /** Higher is reviewed first; equal priorities are reviewed in enqueue order. Never lowered. */
  priority: number;
  status: ReviewStatus;
  stage: ReviewStage;
  /** The current lease, while `status` is `claimed`. */
  claim?: ReviewClaim;
  /** The last lease, when it expired and nobody has claimed the item since. */
  expiredClaim?: { reviewer: string; expiresAt: number };
  /** The decision in force: the action's, or the appeal's when it was overturned. */
  decision?: Decision;
  action?: ReviewAction;
  appeal?: ReviewAppeal;
  createdAt: number;
  updatedAt: number;
  /** Incremented by every change. */
  version: number;
}

/** What an audit entry records. */
export type AuditAction = "enqueue" | "claim" | "renew" | "release" | "expire" | "action" | "appeal" | "resolve";

/**
 * One transition of an item, appended when it happens (a lease expiry when it is detected: by a
 * claim, a sweep, or any call that reads the item). Entries are never changed or removed.
 */
export interface AuditEntry {
  /** Position in the item's log, from 1. */
  seq: number;
  /** Milliseconds since the Unix epoch, from the queue's clock. */
  at: number;
  /** Who caused it: a reviewer, a reporter, an appellant, or `"system"` (lease expiry). */
  actor: string;
  action: AuditAction;
  /** Status before (`null` when the item was created). */
  from: ReviewStatus | null;
  to: ReviewStatus;
  /** Report reasons (`enqueue`) or reason codes (`action`, `resolve`). */
  reasons?: string[];
  /** The decision made (`action`, `resolve`). */
  decision?: Decision;
  note?: string;
  /** The lease's end (`claim`, `renew`, `expire`). */
  expiresAt?: number;
  /** Whose lease expired (`expire`). */
  reviewer?: string;
}

/** An audit entry as a store receives it: the store numbers entries. */
export type AuditRecord = Omit<AuditEntry, "seq">;

/** The actor recorded for transitions nobody asked for (lease expiry). Not a valid reviewer id. */
export const systemActor = "system";
