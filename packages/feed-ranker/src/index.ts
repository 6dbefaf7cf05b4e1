export { createMemorySignals, createMemoryState } from "./adapters/memory.js";
export { AnnIndex, type AnnOptions } from "./ann.js";
export { bloomFalsePositiveRate } from "./bloom.js";
export { Catalog, type CatalogVideo } from "./catalog.js";
export { type CursorPayload, decodeCursor, encodeCursor } from "./cursor.js";
export { EmbeddingModel, type EmbeddingOptions } from "./embeddings.js";
export { FeedRankerError, FeedRankerErrorCode, isFeedRankerError } from "./errors.js";
export {
  type BuiltInSource,
  createFeedRanker,
  diversify,
  type FeedItem,
  type FeedPage,
  type FeedRanker,
  type FeedRankerOptions,
  type FeedRequest,
  type ScorerCandidate,
  type SourceContext,
  type SourceFetch,
  type SourceOptions,
  type UserScorer,
} from "./feed.js";
export { type FeatureName, featureNames, type Objective, objectives } from "./heads.js";
export { type HistoryEntry, ItemModel, type ItemModelOptions, topK } from "./item-model.js";
export type { SignalsOptions, StateOptions } from "./signals-common.js";
export * from "./simulator.js";
export type {
  Affinity,
  EngagementEvent,
  EngagementType,
  ModerationStatus,
  Scored,
  Signal,
  SignalsPort,
  StatePort,
  Video,
  VideoInput,
  VideoStats,
} from "./types.js";
export { interestOf, signalWeight } from "./types.js";
