import { describe, expect, it } from "vitest";
import { FeedRankerError, FeedRankerErrorCode, isFeedRankerError } from "../index.js";

describe("FeedRankerError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new FeedRankerError(FeedRankerErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isFeedRankerError(error)).toBe(true);
    expect(isFeedRankerError(cause)).toBe(false);
    expect(error.name).toBe("FeedRankerError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/feed-ranker] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(FeedRankerErrorCode)) expect(key).toBe(value);
  });
});
