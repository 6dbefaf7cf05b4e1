import { describe, expect, it } from "vitest";
import { isTranscodeError, TranscodeError, TranscodeErrorCode } from "../index.js";

describe("TranscodeError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new TranscodeError(TranscodeErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isTranscodeError(error)).toBe(true);
    expect(isTranscodeError(cause)).toBe(false);
    expect(error.name).toBe("TranscodeError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/transcode] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(TranscodeErrorCode)) expect(key).toBe(value);
  });
});
