import type { Reach, ReviewSubject } from "./types.js";

/** What a priority function sees: the item's merged report. */
export interface PriorityInput {
  subject: ReviewSubject;
  /** 0 to 1. */
  severity: number;
  reach: Reach;
  reasons: readonly string[];
}

/** Computes an item's priority (higher is reviewed first). Must return a finite number. */
export type PriorityFunction = (input: PriorityInput) => number;

/**
 * The default priority: severity scaled up by reach,
 *
 * `severity × (1 + log10(1 + views) / 2 + log10(1 + velocity))`
 *
 * where `velocity` is views per hour. Unseen content keeps its severity (a critical item with no
 * views scores 1); every tenfold of views adds half of that again and every tenfold of velocity a
 * whole of it, so how fast something spreads weighs more than how far it already went. Severity 0
 * scores 0 whatever the reach. Examples: critical, unseen: 1; low with 1M views at 10k/h: 2;
 * high with 1k views at 10/h: 2.65; critical at 1M views and 10k/h: 8.
 */
export function defaultPriority({ severity, reach }: PriorityInput): number {
  return severity * (1 + Math.log10(1 + reach.views) / 2 + Math.log10(1 + reach.velocity));
}
