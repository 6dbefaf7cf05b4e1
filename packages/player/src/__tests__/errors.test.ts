import { describe, expect, it } from "vitest";
import { isPlayerError, PlayerError, PlayerErrorCode } from "../index.js";

describe("PlayerError", () => {
  it("carries a stable code, the package prefix and the cause", () => {
    const cause = new Error("root cause");
    const error = new PlayerError(PlayerErrorCode.INVALID_OPTIONS, "bad option", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isPlayerError(error)).toBe(true);
    expect(isPlayerError(cause)).toBe(false);
    expect(error.name).toBe("PlayerError");
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.message).toBe("[@reelkit/player] bad option");
    expect(error.cause).toBe(cause);
  });

  it("exposes every code as its own string value", () => {
    for (const [key, value] of Object.entries(PlayerErrorCode)) expect(key).toBe(value);
  });
});
