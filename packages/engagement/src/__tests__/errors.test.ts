import { describe, expect, it } from "vitest";
import { EngagementError, EngagementErrorCode, isEngagementError } from "../index.js";

describe("EngagementError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new EngagementError(EngagementErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isEngagementError(error)).toBe(true);
    expect(isEngagementError(cause)).toBe(false);
    expect(error.name).toBe("EngagementError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/engagement] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(EngagementErrorCode)) expect(key).toBe(value);
  });
});
