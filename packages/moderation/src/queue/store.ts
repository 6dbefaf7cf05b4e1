import {
  type AuditRecord,
  type ReviewItem,
  type ReviewStage,
  type ReviewStatus,
  type ReviewSubject,
  systemActor,
} from "./types.js";

/** A claim request as the queue hands it to a store: everything already validated and computed. */
export interface StoreClaimRequest {
  reviewer: string;
  /** Most items to claim (0 only sweeps expired leases). */
  limit: number;
  /** The queue's clock: leases with `expiresAt <= now` have expired. */
  now: number;
  /** The new leases' end. */
  expiresAt: number;
}

/** What a store lists: items in queue order (priority high to low, then id). */
export interface StoreListQuery {
  status?: ReviewStatus;
  /** `subjectKey(subject)`: every item, open or closed, of one subject. */
  subjectKey?: string;
  limit: number;
}

/**
 * Port: where review items and their audit logs live. The queue (`createReviewQueue`) owns the
 * rules; a store keeps items, indexes and logs consistent and makes each change atomic:
 *
 * - `update` is a compare-and-set on `version`, and appends its audit entries in the same step.
 * - `claim` picks and leases ready items (`queued` or `appealed`) in queue order, all at once, so two
 *   claims — from any number of processes — never get the same item. It first returns every
 *   expired lease to the queue (`expiredItem`), auditing each.
 *
 * Derived indexes follow the item: ready items by priority (`isReady`), leases by `expiresAt`,
 * the open item of each subject (`isOpen`), items by status and by subject. The memory store is
 * the reference; one contract suite (`__tests__/review-queue.contract.ts`) runs on every store.
 */
export interface ReviewStore {
  /** The item, or `undefined`. */
  get(id: string): Promise<ReviewItem | undefined>;
  /**
   * Insert a new item (version 1) with its first audit entry, unless its subject already has an
   * open item: then change nothing and resolve that item's id. Resolves `undefined` when inserted.
   */
  insert(item: ReviewItem, entry: AuditRecord): Promise<string | undefined>;
  /**
   * Replace the item if its stored version is still `expectedVersion` (the new item carries
   * `expectedVersion + 1`), appending `entries` to its log. Resolves `false`, changing nothing, otherwise.
   */
  update(item: ReviewItem, expectedVersion: number, entries: readonly AuditRecord[]): Promise<boolean>;
  /**
   * Atomically: expire every lease with `expiresAt <= now`, then lease up to `limit` ready items in
   * queue order to `reviewer` (`claimedItem`), skipping items `excludedReviewer` keeps from them.
   */
  claim(request: StoreClaimRequest): Promise<{ claimed: ReviewItem[]; expired: string[] }>;
  /** Expire every lease with `expiresAt <= now` (as `claim` does); resolves the items' ids. */
  expire(now: number): Promise<string[]>;
  list(query: StoreListQuery): Promise<ReviewItem[]>;
  /** The item's log in order, or `undefined` when there is no such item. */
  audit(id: string): Promise<AuditRecord[] | undefined>;
}

/** The key one subject is indexed under. */
export function subjectKey(subject: ReviewSubject): string {
  return `${subject.kind}:${subject.id}`;
}

/** Ready items wait in the queue and can be claimed. */
export function isReady(status: ReviewStatus): boolean {
  return status === "queued" || status === "appealed";
}

/** An open item takes new reports of its subject: waiting for, or in, its first review. */
export function isOpen(item: Pick<ReviewItem, "stage" | "status">): boolean {
  return item.stage === "review" && (item.status === "queued" || item.status === "claimed");
}

/** The status a claimed item returns to when its lease ends without a decision. */
export function readyStatusOf(stage: ReviewStage): ReviewStatus {
  return stage === "appeal" ? "appealed" : "queued";
}

/** The reviewer who may not claim the item: whoever made the decision under appeal. */
export function excludedReviewer(item: ReviewItem): string | undefined {
  return item.stage === "appeal" ? item.action?.reviewer : undefined;
}

/** Queue order: higher priority first, then the lower id (ids grow with enqueue time). */
export function compareQueueOrder(a: Pick<ReviewItem, "priority" | "id">, b: Pick<ReviewItem, "priority" | "id">) {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The item leased to `reviewer`, and its audit entry. */
export function claimedItem(
  item: ReviewItem,
  reviewer: string,
  now: number,
  expiresAt: number,
): { item: ReviewItem; entry: AuditRecord } {
  const { expiredClaim: _ended, ...rest } = item;
  return {
    item: {
      ...rest,
      status: "claimed",
      claim: { reviewer, claimedAt: now, expiresAt },
      updatedAt: now,
      version: item.version + 1,
    },
    entry: { at: now, actor: reviewer, action: "claim", from: item.status, to: "claimed", expiresAt },
  };
}

/** A claimed item whose lease expired, back in the queue, and the audit entry (actor `system`). */
export function expiredItem(item: ReviewItem, now: number): { item: ReviewItem; entry: AuditRecord } {
  const { claim, ...rest } = item;
  const to = readyStatusOf(item.stage);
  const reviewer = claim?.reviewer ?? "";
  const expiresAt = claim?.expiresAt ?? now;
  return {
    item: { ...rest, status: to, expiredClaim: { reviewer, expiresAt }, updatedAt: now, version: item.version + 1 },
    entry: { at: now, actor: systemActor, action: "expire", from: "claimed", to, reviewer, expiresAt },
  };
}

/** Whether the item holds a lease that has expired at `now`. */
export function leaseExpired(item: ReviewItem, now: number): boolean {
  return item.status === "claimed" && item.claim !== undefined && item.claim.expiresAt <= now;
}
