import { describe, expect, it } from "vitest";
import { isModerationError, ModerationError, ModerationErrorCode } from "../index.js";

describe("ModerationError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new ModerationError(ModerationErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isModerationError(error)).toBe(true);
    expect(isModerationError(cause)).toBe(false);
    expect(error.name).toBe("ModerationError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/moderation] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(ModerationErrorCode)) expect(key).toBe(value);
  });
});
