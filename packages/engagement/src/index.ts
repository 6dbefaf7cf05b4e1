export { createMemoryStore, type MemoryStoreOptions } from "./adapters/memory-store.js";
export {
  type CreatorStats,
  createEngagement,
  type Engagement,
  type EngagementOptions,
  type RecordResult,
  type Retention,
  type SessionStats,
  type VideoCounts,
} from "./engagement.js";
export { EngagementError, EngagementErrorCode, isEngagementError } from "./errors.js";
export { HyperLogLog } from "./hll.js";
export {
  type CounterField,
  type Counters,
  counterFields,
  type NormalizedEvent,
  type PairState,
  retentionPoints,
  type SessionState,
  type SessionTotals,
} from "./rules.js";
export {
  type EngagementEvent,
  type EngagementEventType,
  engagementEventSchema,
  engagementEventTypes,
} from "./schema.js";
export type { ApplyContext, EngagementStore, StoredCounts, TrendingWindow, VideoRecord } from "./store.js";
