export { isTranscodeError, TranscodeError, TranscodeErrorCode } from "./errors.js";
