export { isModerationError, ModerationError, ModerationErrorCode } from "./errors.js";
export {
  type HashBank,
  type HashBankEntry,
  type HashBankOptions,
  indexHashBank,
  loadHashBank,
  parseHashBank,
} from "./pdq/bank.js";
export {
  hammingDistance,
  isPdqHash,
  PDQ_HASH_BITS,
  PDQ_MATCH_DISTANCE,
  type PdqHash,
  pdqHashSchema,
} from "./pdq/hamming.js";
export {
  createHashIndex,
  type HashIndex,
  type HashIndexMethod,
  type HashMatch,
  type HashQueryOptions,
} from "./pdq/index.js";
export {
  type PdqDihedralResult,
  type PdqDihedralVariant,
  type PdqFloatResult,
  type PdqMatchResult,
  type PdqResult,
  pdqDihedralVariants,
  pdqFloat,
  pdqHash,
  pdqHashDihedral,
  pdqMatch,
} from "./pdq/pdq.js";
export { createMemoryReviewStore } from "./queue/memory-store.js";
export { defaultPriority, type PriorityFunction, type PriorityInput } from "./queue/priority.js";
export {
  type ActionInput,
  type AppealInput,
  type ClaimOptions,
  createReviewQueue,
  type EnqueueInput,
  type EnqueueResult,
  type ListQuery,
  type ResolveAppealInput,
  type ReviewQueue,
  type ReviewQueueOptions,
} from "./queue/review-queue.js";
export type { ReviewStore, StoreClaimRequest, StoreListQuery } from "./queue/store.js";
export {
  type AppealOutcome,
  type AppealResolution,
  type AuditAction,
  type AuditEntry,
  type AuditRecord,
  type Decision,
  decisions,
  type Reach,
  type ReviewAction,
  type ReviewAppeal,
  type ReviewClaim,
  type ReviewItem,
  type ReviewStage,
  type ReviewStatus,
  type ReviewSubject,
  reviewStatuses,
  type SeverityLevel,
  type SubjectKind,
  severityLevels,
} from "./queue/types.js";
export {
  dedupeFrames,
  formatVpdq,
  type HashVideoOptions,
  hashVideo,
  matchVideos,
  parseVpdq,
  type VideoHash,
  type VideoMatch,
  type VideoMatchOptions,
  type VpdqFrame,
} from "./video/vpdq.js";
