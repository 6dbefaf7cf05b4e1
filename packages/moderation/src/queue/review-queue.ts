import { randomBytes } from "node:crypto";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { createMemoryReviewStore } from "./memory-store.js";
import { defaultPriority, type PriorityFunction } from "./priority.js";
import {
  actionSchema,
  appealSchema,
  claimOptionsSchema,
  enqueueSchema,
  itemIdSchema,
  listSchema,
  queueOptionsSchema,
  releaseSchema,
  resolveSchema,
  reviewerSchema,
} from "./schema.js";
import {
  claimedItem,
  excludedReviewer,
  expiredItem,
  isOpen,
  leaseExpired,
  type ReviewStore,
  readyStatusOf,
  subjectKey,
} from "./store.js";
import {
  type AppealOutcome,
  type AuditEntry,
  type AuditRecord,
  type Decision,
  type Reach,
  type ReviewItem,
  type ReviewStatus,
  type ReviewSubject,
  type SeverityLevel,
  severityLevels,
} from "./types.js";
import { parseWith } from "./validate.js";

export interface ReviewQueueOptions {
  /**
   * Where items and audit logs live. The default keeps them in this process; pass
   * `createRedisReviewStore` (`@reelkit/moderation/redis`) to share one queue between processes.
   * @default createMemoryReviewStore()
   */
  store?: ReviewStore;
  /**
   * How long a claim lasts. A reviewer who needs longer calls `renew`; an expired claim returns
   * the item to the queue (recorded in the audit log) for anyone to claim.
   * @default 300000 (5 minutes)
   */
  leaseMs?: number;
  /**
   * The clock, in milliseconds since the Unix epoch. Leases are checked against it, so processes
   * sharing a store need synchronised clocks.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Computes an item's priority from its merged report (higher is reviewed first).
   * @default defaultPriority: severity × (1 + log10(1 + views) / 2 + log10(1 + velocity))
   */
  priority?: PriorityFunction;
}

/** A report to queue for review. */
export interface EnqueueInput {
  subject: ReviewSubject;
  /** Reason codes (1–32), e.g. `["spam"]` or `["dsa:illegal_hate_speech"]`. */
  reasons: string[];
  /** 0 to 1, or a level: `low` 0.25, `medium` 0.5, `high` 0.75, `critical` 1. */
  severity: number | SeverityLevel;
  /** How far the subject travels. @default { views: 0, velocity: 0 } */
  reach?: Partial<Reach>;
  /** Who reported it (a user, a classifier), recorded as the audit actor. @default "system" */
  by?: string;
  note?: string;
  /** A priority to use instead of the computed one (still never lowers an open item's). */
  priority?: number;
}

export interface EnqueueResult {
  item: ReviewItem;
  /** `false` when the subject already had an open item, which took this report instead. */
  created: boolean;
}

export interface ClaimOptions {
  /** Most items to claim at once, 1–100. @default 1 */
  limit?: number;
}

/** A first-review decision. */
export interface ActionInput {
  decision: Decision;
  /** Why (1–32 reason codes), e.g. the policy clauses applied; shown to the affected people. */
  reasonCodes: string[];
  note?: string;
}

/** An appeal against an actioned item's decision. */
export interface AppealInput {
  /** Who appeals (the uploader, the reporter). */
  by: string;
  /** Their statement, 1–10000 characters. */
  statement: string;
}

/** The decision on an appeal. */
export interface ResolveAppealInput {
  outcome: AppealOutcome;
  /**
   * The decision in force afterwards: required when `overturned` (and different from the appealed
   * one); when `upheld`, omitted or equal to it.
   */
  decision?: Decision;
  reasonCodes: string[];
  note?: string;
}

export interface ListQuery {
  status?: ReviewStatus;
  /** Every item of one subject, open or closed. */
  subject?: ReviewSubject;
  /** 1–1000. @default 100 */
  limit?: number;
}

/**
 * A human review queue with leases, decisions, appeals and an audit log. Items move
 * `queued → claimed → actioned → appealed → claimed → upheld | overturned`; a claim is a lease that
 * expires, only the claimant acts, an appeal is decided by a reviewer other than the one who
 * actioned the item, and every transition is appended to the item's audit log.
 *
 * Failures are `ModerationError`s: `INVALID_INPUT` (nothing changed), `NOT_FOUND`,
 * `INVALID_TRANSITION`, `NOT_CLAIMANT`, `LEASE_EXPIRED`, `ALREADY_CLAIMED`, `SAME_REVIEWER`,
 * `CONFLICT`, and `BACKEND_FAILED` from a shared store.
 */
export interface ReviewQueue {
  /**
   * Queue a report. Idempotent per subject: while the subject has an open item (`queued`, or
   * `claimed` for its first review) the report is merged into it — reasons added, the highest
   * severity and reach kept, priority raised but never lowered — and no second item is created.
   * Once the item is actioned, a new report opens a new item.
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult>;
  /**
   * Lease up to `limit` of the highest-priority ready items (`queued`, `appealed`, or claimed with
   * an expired lease) to `reviewer`, atomically: no two claims ever get the same item, whichever
   * process they come from. Appeals of the reviewer's own decisions are skipped. Resolves `[]`
   * when nothing is ready.
   */
  claim(reviewer: string, options?: ClaimOptions): Promise<ReviewItem[]>;
  /**
   * Lease one chosen item. Fails with `ALREADY_CLAIMED` while another reviewer holds it,
   * `SAME_REVIEWER` for an appeal of the reviewer's own decision, `INVALID_TRANSITION` when it is
   * not ready. Claiming an item you hold returns it unchanged.
   */
  claimItem(itemId: string, reviewer: string): Promise<ReviewItem>;
  /** Extend the reviewer's live lease to `leaseMs` from now. */
  renew(itemId: string, reviewer: string): Promise<ReviewItem>;
  /** Give a claimed item back to the queue without a decision. */
  release(itemId: string, reviewer: string, options?: { note?: string }): Promise<ReviewItem>;
  /**
   * Decide a first review. Only the claimant, while the lease is live (`NOT_CLAIMANT`,
   * `LEASE_EXPIRED`); an item under appeal is decided with `resolveAppeal` instead.
   */
  action(itemId: string, reviewer: string, input: ActionInput): Promise<ReviewItem>;
  /** Appeal an actioned item's decision: it re-enters the queue as `appealed`. Once per item. */
  appeal(itemId: string, input: AppealInput): Promise<ReviewItem>;
  /**
   * Decide an appeal: by its claimant with a live lease, never by the reviewer who actioned the
   * item (`SAME_REVIEWER`).
   */
  resolveAppeal(itemId: string, reviewer: string, input: ResolveAppealInput): Promise<ReviewItem>;
  /** The item, or `undefined`. */
  get(itemId: string): Promise<ReviewItem | undefined>;
  /** Items in queue order (priority high to low, then enqueue order), filtered by status or subject. */
  list(query?: ListQuery): Promise<ReviewItem[]>;
  /** The item's transitions, oldest first (`NOT_FOUND` for an unknown item). */
  audit(itemId: string): Promise<AuditEntry[]>;
  /** Return every expired lease to the queue now, auditing each; resolves how many. */
  sweep(): Promise<number>;
}

/** Attempts at a compare-and-set before giving up with `CONFLICT`. */
const maxAttempts = 32;

const fail = (code: ModerationErrorCode, message: string) => new ModerationError(code, message);

/** Ids sort by creation time (base-36 milliseconds), then at random: queue order breaks ties by age. */
function newItemId(now: number): string {
  return `${Math.max(0, Math.floor(now)).toString(36).padStart(9, "0")}-${randomBytes(6).toString("hex")}`;
}

/** What a change produces: the next item and its audit entries, or `unchanged`. */
type Change = { item: ReviewItem; entries: AuditRecord[] } | "unchanged";

/** Create a review queue. Options are validated (`INVALID_OPTIONS`). */
export function createReviewQueue(options: ReviewQueueOptions = {}): ReviewQueue {
  const config = parseWith(queueOptionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "options");
  const store = config.store ?? createMemoryReviewStore();
  const { leaseMs } = config;
  const priorityOf = (config.priority as PriorityFunction | undefined) ?? defaultPriority;
  const clock = (): number => {
    const now = config.now();
    if (!Number.isFinite(now)) throw fail(ModerationErrorCode.INVALID_OPTIONS, `now() returned ${now}`);
    return now;
  };
  const input = <T>(schema: Parameters<typeof parseWith<T>>[0], value: unknown, what: string): T =>
    parseWith(schema, value, ModerationErrorCode.INVALID_INPUT, what);

  function computePriority(item: Pick<ReviewItem, "subject" | "severity" | "reach" | "reasons">): number {
    const value = priorityOf({
      subject: { ...item.subject },
      severity: item.severity,
      reach: { ...item.reach },
      reasons: [...item.reasons],
    });
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw fail(ModerationErrorCode.INVALID_OPTIONS, `the priority function returned ${String(value)}`);
    }
    return value;
  }

  /** Read an item, first recording its lease's expiry if that has passed. */
  async function load(itemId: string): Promise<ReviewItem> {
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const item = await store.get(itemId);
      if (item === undefined) throw fail(ModerationErrorCode.NOT_FOUND, `no review item ${itemId}`);
      const now = clock();
      if (!leaseExpired(item, now)) return item;
      const expired = expiredItem(item, now);
      if (await store.update(expired.item, item.version, [expired.entry])) return expired.item;
    }
    throw conflict(itemId);
  }

  const conflict = (itemId: string) =>
    fail(ModerationErrorCode.CONFLICT, `review item ${itemId} kept changing under this call; try again`);

  /** Apply `change` to the current item with compare-and-set, re-reading and retrying on a race. */
  async function mutate(itemId: string, change: (item: ReviewItem, now: number) => Change): Promise<ReviewItem> {
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const item = await load(itemId);
      const result = change(item, clock());
      if (result === "unchanged") return item;
      if (await store.update(result.item, item.version, result.entries)) return result.item;
    }
    throw conflict(itemId);
  }

  /** The item must be leased to `reviewer` right now (lease expiry was settled by `load`). */
  function requireClaimant(item: ReviewItem, reviewer: string): void {
    if (item.status === "claimed" && item.claim?.reviewer === reviewer) return;
    if (item.expiredClaim?.reviewer === reviewer) {
      throw fail(
        ModerationErrorCode.LEASE_EXPIRED,
        `${reviewer}'s claim on ${item.id} expired at ${new Date(item.expiredClaim.expiresAt).toISOString()}`,
      );
    }
    if (item.status === "claimed") {
      throw fail(ModerationErrorCode.NOT_CLAIMANT, `${item.id} is claimed by another reviewer, not ${reviewer}`);
    }
    if (item.status === "queued" || item.status === "appealed") {
      throw fail(ModerationErrorCode.NOT_CLAIMANT, `${item.id} is ${item.status}: claim it first`);
    }
    throw fail(ModerationErrorCode.INVALID_TRANSITION, `${item.id} is ${item.status}: nobody can act on it now`);
  }

  function refuseOwnAppeal(item: ReviewItem, reviewer: string): void {
    if (excludedReviewer(item) === reviewer) {
      throw fail(
        ModerationErrorCode.SAME_REVIEWER,
        `${reviewer} actioned ${item.id}: its appeal must be decided by another reviewer`,
      );
    }
  }

  const withoutNote = <T extends { note?: string | undefined }>(value: T) => {
    const { note, ...rest } = value;
    return note === undefined ? rest : { ...rest, note };
  };

  return {
    async enqueue(raw) {
      const report = input(enqueueSchema, raw, "enqueue input");
      const severity = typeof report.severity === "number" ? report.severity : severityLevels[report.severity];
      const key = subjectKey(report.subject);
      for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
        const now = clock();
        const fresh = { subject: report.subject, severity, reach: report.reach, reasons: [...new Set(report.reasons)] };
        const item: ReviewItem = {
          id: newItemId(now),
          ...fresh,
          priority: report.priority ?? computePriority(fresh),
          status: "queued",
          stage: "review",
          createdAt: now,
          updatedAt: now,
          version: 1,
        };
        const entry: AuditRecord = withoutNote({
          at: now,
          actor: report.by,
          action: "enqueue" as const,
          from: null,
          to: "queued" as const,
          reasons: item.reasons,
          note: report.note,
        });
        const existingId = await store.insert(item, entry);
        if (existingId === undefined) return { item, created: true };

        // The subject has an open item: merge this report into it.
        const current = await store.get(existingId);
        if (current === undefined || !isOpen(current)) {
          continue; // it was closed meanwhile: try to insert again
        }
        const merged = {
          subject: current.subject,
          severity: Math.max(current.severity, severity),
          reach: {
            views: Math.max(current.reach.views, report.reach.views),
            velocity: Math.max(current.reach.velocity, report.reach.velocity),
          },
          reasons: [...new Set([...current.reasons, ...report.reasons])].slice(0, 256),
        };
        const next: ReviewItem = {
          ...current,
          ...merged,
          priority: Math.max(current.priority, report.priority ?? computePriority(merged)),
          updatedAt: now,
          version: current.version + 1,
        };
        const mergeEntry: AuditRecord = withoutNote({
          at: now,
          actor: report.by,
          action: "enqueue" as const,
          from: current.status,
          to: current.status,
          reasons: [...new Set(report.reasons)],
          note: report.note,
        });
        if (await store.update(next, current.version, [mergeEntry])) return { item: next, created: false };
      }
      throw fail(ModerationErrorCode.CONFLICT, `subject ${key} kept changing under this call; try again`);
    },

    async claim(reviewerRaw, optionsRaw = {}) {
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      const { limit } = input(claimOptionsSchema, optionsRaw, "claim options");
      const now = clock();
      const { claimed } = await store.claim({ reviewer, limit, now, expiresAt: now + leaseMs });
      return claimed;
    },

    async claimItem(itemIdRaw, reviewerRaw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      return mutate(itemId, (item, now) => {
        if (item.status === "claimed") {
          if (item.claim?.reviewer === reviewer) return "unchanged";
          throw fail(ModerationErrorCode.ALREADY_CLAIMED, `${itemId} is claimed by another reviewer`);
        }
        if (item.status !== "queued" && item.status !== "appealed") {
          throw fail(ModerationErrorCode.INVALID_TRANSITION, `${itemId} is ${item.status}: it cannot be claimed`);
        }
        refuseOwnAppeal(item, reviewer);
        const { item: next, entry } = claimedItem(item, reviewer, now, now + leaseMs);
        return { item: next, entries: [entry] };
      });
    },

    async renew(itemIdRaw, reviewerRaw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      return mutate(itemId, (item, now) => {
        requireClaimant(item, reviewer);
        const claim = item.claim as NonNullable<ReviewItem["claim"]>;
        const expiresAt = now + leaseMs;
        return {
          item: { ...item, claim: { ...claim, expiresAt }, updatedAt: now, version: item.version + 1 },
          entries: [{ at: now, actor: reviewer, action: "renew", from: "claimed", to: "claimed", expiresAt }],
        };
      });
    },

    async release(itemIdRaw, reviewerRaw, optionsRaw = {}) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      const { note } = input(releaseSchema, optionsRaw, "release options");
      return mutate(itemId, (item, now) => {
        requireClaimant(item, reviewer);
        const { claim: _released, ...rest } = item;
        const to = readyStatusOf(item.stage);
        return {
          item: { ...rest, status: to, updatedAt: now, version: item.version + 1 },
          entries: [
            withoutNote({ at: now, actor: reviewer, action: "release" as const, from: "claimed" as const, to, note }),
          ],
        };
      });
    },

    async action(itemIdRaw, reviewerRaw, raw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      const { decision, reasonCodes, note } = input(actionSchema, raw, "action input");
      return mutate(itemId, (item, now) => {
        if (item.stage === "appeal") {
          throw fail(ModerationErrorCode.INVALID_TRANSITION, `${itemId} is under appeal: decide it with resolveAppeal`);
        }
        requireClaimant(item, reviewer);
        const { claim: _done, ...rest } = item;
        const codes = [...new Set(reasonCodes)];
        return {
          item: {
            ...rest,
            status: "actioned",
            decision,
            action: withoutNote({ reviewer, decision, reasonCodes: codes, note, at: now }),
            updatedAt: now,
            version: item.version + 1,
          },
          entries: [
            withoutNote({
              at: now,
              actor: reviewer,
              action: "action" as const,
              from: "claimed" as const,
              to: "actioned" as const,
              reasons: codes,
              decision,
              note,
            }),
          ],
        };
      });
    },

    async appeal(itemIdRaw, raw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const { by, statement } = input(appealSchema, raw, "appeal input");
      return mutate(itemId, (item, now) => {
        if (item.status !== "actioned") {
          const why = item.appeal !== undefined ? "it was appealed already" : "only an actioned item can be appealed";
          throw fail(ModerationErrorCode.INVALID_TRANSITION, `${itemId} is ${item.status}: ${why}`);
        }
        return {
          item: {
            ...item,
            status: "appealed",
            stage: "appeal",
            appeal: { by, statement, at: now },
            updatedAt: now,
            version: item.version + 1,
          },
          entries: [{ at: now, actor: by, action: "appeal", from: "actioned", to: "appealed", note: statement }],
        };
      });
    },

    async resolveAppeal(itemIdRaw, reviewerRaw, raw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      const reviewer = input(reviewerSchema, reviewerRaw, "reviewer");
      const { outcome, decision, reasonCodes, note } = input(resolveSchema, raw, "appeal resolution");
      return mutate(itemId, (item, now) => {
        if (item.stage !== "appeal" || item.appeal === undefined || item.action === undefined) {
          throw fail(ModerationErrorCode.INVALID_TRANSITION, `${itemId} is ${item.status}: it has no appeal to decide`);
        }
        if (item.appeal.resolution !== undefined) {
          throw fail(ModerationErrorCode.INVALID_TRANSITION, `${itemId}'s appeal was decided already`);
        }
        refuseOwnAppeal(item, reviewer);
        requireClaimant(item, reviewer);
        const appealed = item.action.decision;
        let final: Decision;
        if (outcome === "upheld") {
          if (decision !== undefined && decision !== appealed) {
            throw fail(
              ModerationErrorCode.INVALID_INPUT,
              `an upheld appeal keeps the decision ${appealed}; overturn it to decide ${decision}`,
            );
          }
          final = appealed;
        } else {
          if (decision === undefined || decision === appealed) {
            throw fail(
              ModerationErrorCode.INVALID_INPUT,
              `an overturned appeal needs a decision other than the appealed ${appealed}`,
            );
          }
          final = decision;
        }
        const { claim: _done, ...rest } = item;
        const codes = [...new Set(reasonCodes)];
        return {
          item: {
            ...rest,
            status: outcome,
            decision: final,
            appeal: {
              ...item.appeal,
              resolution: withoutNote({ reviewer, outcome, decision: final, reasonCodes: codes, note, at: now }),
            },
            updatedAt: now,
            version: item.version + 1,
          },
          entries: [
            withoutNote({
              at: now,
              actor: reviewer,
              action: "resolve" as const,
              from: "claimed" as const,
              to: outcome,
              reasons: codes,
              decision: final,
              note,
            }),
          ],
        };
      });
    },

    async get(itemIdRaw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      try {
        return await load(itemId);
      } catch (error) {
        if (error instanceof ModerationError && error.code === ModerationErrorCode.NOT_FOUND) return undefined;
        throw error;
      }
    },

    async list(raw = {}) {
      const { status, subject, limit } = input(listSchema, raw, "list query");
      await store.expire(clock());
      return store.list({
        limit,
        ...(status !== undefined && { status }),
        ...(subject !== undefined && { subjectKey: subjectKey(subject) }),
      });
    },

    async audit(itemIdRaw) {
      const itemId = input(itemIdSchema, itemIdRaw, "item id");
      await load(itemId); // records a lease expiry that has passed, so the log is complete
      const log = await store.audit(itemId);
      if (log === undefined) throw fail(ModerationErrorCode.NOT_FOUND, `no review item ${itemId}`);
      return log.map((entry, index) => ({ seq: index + 1, ...entry }));
    },

    async sweep() {
      return (await store.expire(clock())).length;
    },
  };
}
