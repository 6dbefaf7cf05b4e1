import {
  claimedItem,
  compareQueueOrder,
  excludedReviewer,
  expiredItem,
  isOpen,
  isReady,
  type ReviewStore,
  subjectKey,
} from "./store.js";
import type { AuditRecord, ReviewItem, ReviewStatus } from "./types.js";

/** Ids in queue order (priority high to low, then id), kept sorted as items come and go. */
class ReadyIndex {
  private readonly order: Array<{ id: string; priority: number }> = [];
  private readonly priorities = new Map<string, number>();

  /** Position of the first entry not before `key`. */
  private position(key: { id: string; priority: number }): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareQueueOrder(this.order[mid] as { id: string; priority: number }, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  set(id: string, priority: number): void {
    if (this.priorities.get(id) === priority) return;
    this.delete(id);
    this.order.splice(this.position({ id, priority }), 0, { id, priority });
    this.priorities.set(id, priority);
  }

  delete(id: string): void {
    const priority = this.priorities.get(id);
    if (priority === undefined) return;
    this.order.splice(this.position({ id, priority }), 1);
    this.priorities.delete(id);
  }

  /** The id at a position in queue order. */
  at(position: number): string | undefined {
    return this.order[position]?.id;
  }
}

/**
 * The in-process review store: the default of `createReviewQueue` and the reference behaviour for
 * every other store. State lives in this process only and is lost when it exits; use the Redis
 * store (`@reelkit/moderation/redis`) to share a queue between processes or keep it across restarts.
 */
export function createMemoryReviewStore(): ReviewStore {
  const items = new Map<string, ReviewItem>();
  const logs = new Map<string, AuditRecord[]>();
  const ready = new ReadyIndex();
  const leases = new Map<string, number>();
  const open = new Map<string, string>();
  const bySubject = new Map<string, Set<string>>();
  const byStatus = new Map<ReviewStatus, Set<string>>();

  /** Store `next` (a copy) and bring every index in line with it. */
  function put(next: ReviewItem, previous: ReviewItem | undefined, entries: readonly AuditRecord[]): void {
    const { id } = next;
    const key = subjectKey(next.subject);
    items.set(id, structuredClone(next));
    if (previous !== undefined) byStatus.get(previous.status)?.delete(id);
    let status = byStatus.get(next.status);
    if (status === undefined) {
      status = new Set();
      byStatus.set(next.status, status);
    }
    status.add(id);
    if (isReady(next.status)) ready.set(id, next.priority);
    else ready.delete(id);
    if (next.status === "claimed" && next.claim !== undefined) leases.set(id, next.claim.expiresAt);
    else leases.delete(id);
    if (isOpen(next)) open.set(key, id);
    else if (open.get(key) === id) open.delete(key);
    let subjects = bySubject.get(key);
    if (subjects === undefined) {
      subjects = new Set();
      bySubject.set(key, subjects);
    }
    subjects.add(id);
    let log = logs.get(id);
    if (log === undefined) {
      log = [];
      logs.set(id, log);
    }
    for (const entry of entries) log.push(structuredClone(entry));
  }

  function expireDue(now: number): string[] {
    const due = [...leases].filter(([, expiresAt]) => expiresAt <= now).map(([id]) => id);
    for (const id of due) {
      const item = items.get(id) as ReviewItem;
      const { item: next, entry } = expiredItem(item, now);
      put(next, item, [entry]);
    }
    return due;
  }

  return {
    async get(id) {
      const item = items.get(id);
      return item === undefined ? undefined : structuredClone(item);
    },

    async insert(item, entry) {
      const existing = open.get(subjectKey(item.subject));
      if (existing !== undefined) return existing;
      if (items.has(item.id)) throw new Error(`review item ${item.id} already exists`);
      put(item, undefined, [entry]);
      return undefined;
    },

    async update(item, expectedVersion, entries) {
      const current = items.get(item.id);
      if (current === undefined || current.version !== expectedVersion) return false;
      put(item, current, entries);
      return true;
    },

    async claim({ reviewer, limit, now, expiresAt }) {
      // No await from here to the end: the whole claim is one step for every other caller.
      const expired = expireDue(now);
      const claimed: ReviewItem[] = [];
      // Claimed items leave the ready index; skipped ones stay at the front.
      let skipped = 0;
      while (claimed.length < limit) {
        const id = ready.at(skipped);
        if (id === undefined) break;
        const item = items.get(id) as ReviewItem;
        if (excludedReviewer(item) === reviewer) {
          skipped += 1;
          continue;
        }
        const { item: next, entry } = claimedItem(item, reviewer, now, expiresAt);
        put(next, item, [entry]);
        claimed.push(structuredClone(next));
      }
      return { claimed, expired };
    },

    async expire(now) {
      return expireDue(now);
    },

    async list({ status, subjectKey: key, limit }) {
      let ids: Iterable<string>;
      if (key !== undefined) ids = bySubject.get(key) ?? [];
      else if (status !== undefined) ids = byStatus.get(status) ?? [];
      else ids = items.keys();
      const found: ReviewItem[] = [];
      for (const id of ids) {
        const item = items.get(id) as ReviewItem;
        if (status === undefined || item.status === status) found.push(item);
      }
      return found
        .sort(compareQueueOrder)
        .slice(0, limit)
        .map((item) => structuredClone(item));
    },

    async audit(id) {
      const log = logs.get(id);
      return log === undefined ? undefined : structuredClone(log);
    },
  };
}
