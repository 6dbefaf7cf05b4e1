import { describe, expect, it } from "vitest";
import { isUploadError, UploadError, UploadErrorCode } from "../index.js";

describe("UploadError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new UploadError(UploadErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isUploadError(error)).toBe(true);
    expect(isUploadError(cause)).toBe(false);
    expect(error.name).toBe("UploadError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/upload] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(UploadErrorCode)) expect(key).toBe(value);
  });
});
