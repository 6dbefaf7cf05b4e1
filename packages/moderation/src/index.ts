export { type AccountCheckOptions, createAccountCheck } from "./checks/account.js";
export {
  type BehaviourCheckOptions,
  type BurstDetector,
  type BurstDetectorOptions,
  type BurstResult,
  burstScore,
  createBehaviourCheck,
  createBurstDetector,
  type EngagementEvent,
} from "./checks/behaviour.js";
export {
  createHttpClassifierCheck,
  type HttpClassifierCheck,
  type HttpClassifierOptions,
  openAiCategoryMap,
  parseOpenAiModeration,
} from "./checks/classifier.js";
export { bankMatchScore, createMediaMatchCheck, type KnownVideo, type MediaMatchCheckOptions } from "./checks/media.js";
export { createReportCheck, type ReportCheckOptions } from "./checks/reports.js";
export { createSpamCheck, floodScore, type SpamCheckOptions } from "./checks/spam.js";
export { createTextCheck, type TextCheckOptions } from "./checks/text.js";
export { isModerationError, ModerationError, ModerationErrorCode } from "./errors.js";
export {
  type AccountSignals,
  accountOf,
  type CheckContext,
  type CheckSignal,
  type CommentInput,
  createModeration,
  type EngagementInput,
  type FrameHash,
  type Moderation,
  type ModerationCheck,
  type ModerationDecision,
  type ModerationEvents,
  type ModerationListener,
  type ModerationOptions,
  type MomentInputs,
  type PublishInput,
  type ReportInput,
  type SourceSignals,
  type TranscodedInput,
  textsOf,
} from "./moderation.js";
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
export {
  type CategoryThresholds,
  type CheckFailure,
  categorySchema,
  createPolicy,
  decisionFor,
  defaultCategoryThresholds,
  defaultThresholds,
  type FailMode,
  type Moment,
  mostSevere,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  type PolicyResult,
  reasonCodeSchema,
  type Signal,
} from "./policy/policy.js";
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
export { defaultTermLists } from "./text/default-terms.js";
export { normalizeText, normalizeWords } from "./text/normalize.js";
export {
  type DuplicateHit,
  DuplicateWindow,
  type DuplicateWindowOptions,
  domainMatches,
  extractLinks,
  extractTags,
  type FoundLink,
  minHash,
  minHashSimilarity,
} from "./text/spam.js";
export {
  createTermMatcher,
  type TermCategory,
  type TermEntry,
  type TermLists,
  type TermMatch,
  type TermMatcher,
} from "./text/terms.js";
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
