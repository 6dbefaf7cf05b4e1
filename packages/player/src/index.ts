export { isPlayerError, PlayerError, PlayerErrorCode } from "./errors.js";
