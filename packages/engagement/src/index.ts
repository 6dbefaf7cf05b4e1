export { createMemoryCounterStore } from "./adapters/memory.js";
export type { CounterIncrement, CounterStore, CounterTotals } from "./counters.js";
export { EngagementError, EngagementErrorCode, isEngagementError } from "./errors.js";
export {
  type EngagementEvent,
  type EngagementEventType,
  engagementEventSchema,
  engagementEventTypes,
} from "./schema.js";
