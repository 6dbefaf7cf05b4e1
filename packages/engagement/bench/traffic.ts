// Seeded engagement traffic for the benchmarks: impressions, watch progress, completes, likes and
// unlikes, shares, with 10 % of events re-sent copies of earlier ones (a client retrying).
import { randomUUID } from "node:crypto";
import type { EngagementEvent } from "../src/index.js";

export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export function mixedTraffic(
  count: number,
  random: () => number,
  videoFor: () => string = () => `v${Math.floor(random() * 2000)}`,
): EngagementEvent[] {
  const now = Date.now();
  const events: EngagementEvent[] = [];
  const fresh: EngagementEvent[] = [];
  for (let i = 0; i < count; i++) {
    if (fresh.length > 0 && random() < 0.1) {
      events.push(fresh[Math.floor(random() * fresh.length)] as EngagementEvent);
      continue;
    }
    const r = random();
    const type =
      r < 0.3
        ? "impression"
        : r < 0.6
          ? "watch"
          : r < 0.75
            ? "complete"
            : r < 0.87
              ? "like"
              : r < 0.93
                ? "unlike"
                : "share";
    const event: EngagementEvent = {
      id: randomUUID(),
      type,
      videoId: videoFor(),
      sessionId: `s${Math.floor(random() * 20_000)}`,
      userId: `u${Math.floor(random() * 10_000)}`,
      ts: now - Math.floor(random() * 60_000),
      watchMs: type === "watch" ? 1000 + Math.floor(random() * 2000) : 0,
      positionMs: Math.floor(random() * 15_000),
      durationMs: 15_000,
    };
    fresh.push(event);
    events.push(event);
  }
  return events;
}

/** Cut a list into batches of `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}
