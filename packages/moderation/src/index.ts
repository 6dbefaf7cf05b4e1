export { isModerationError, ModerationError, ModerationErrorCode } from "./errors.js";
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
