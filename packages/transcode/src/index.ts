export { measureComplexity } from "./complexity.js";
export { encodeArgs, planStoryboard, storyboardVtt } from "./encode.js";
export { isTranscodeError, TranscodeError, TranscodeErrorCode } from "./errors.js";
export { resolveTools } from "./ffmpeg.js";
export { type LadderOptions, planLadder } from "./ladder.js";
export { measureRendition } from "./measure.js";
export { dashManifest, iframePlaylist, masterPlaylist, mediaPlaylist } from "./playlists.js";
export { type ProbeOptions, probe } from "./probe.js";
export {
  createMemoryJobQueue,
  defaultNonRetryableCodes,
  type JobContext,
  type JobError,
  type JobHandler,
  type JobQueue,
  type JobQueueEvents,
  type JobQueueOptions,
  type JobRecord,
  type JobState,
  type ProcessOptions,
  type TranscodeJobSpec,
  transcodeJobSpecSchema,
  type Worker,
} from "./queue.js";
export type {
  AudioRendition,
  HdrTransfer,
  Ladder,
  MeasuredRendition,
  MeasuredSegment,
  MediaInfo,
  Rendition,
  TranscodeResult,
} from "./schema.js";
export { mediaInfoSchema } from "./schema.js";
export {
  type TranscodeEvents,
  type TranscodeJob,
  type TranscodeOptions,
  type TranscodeProgress,
  type TranscodeStage,
  transcode,
} from "./transcode.js";
export { processTranscodes, type TranscodeWorkerOptions } from "./worker.js";
