export { FeedRankerError, FeedRankerErrorCode, isFeedRankerError } from "./errors.js";
