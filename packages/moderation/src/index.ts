export { isModerationError, ModerationError, ModerationErrorCode } from "./errors.js";
