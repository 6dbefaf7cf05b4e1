import { describe, expect, it } from "vitest";
import { createMemorySignals, createMemoryState } from "../adapters/memory.js";
import { bloomFalsePositiveRate } from "../bloom.js";
import { FeedRankerErrorCode } from "../errors.js";
import { portsContract } from "./ports.contract.js";

portsContract(
  "memory",
  (options) => createMemorySignals(options),
  () => createMemoryState(),
);

describe("memory adapters", () => {
  it("expire a session's served list after its TTL", async () => {
    let t = 0;
    const st = createMemoryState({}, () => t);
    await st.addServed("s", ["a"], 1000);
    t = 1001;
    expect((await st.served("s")).size).toBe(0);
  });

  it("size the seen filter: 8 KiB per user keeps false positives rare at 2,000 videos", () => {
    expect(bloomFalsePositiveRate(2000, 2 ** 16, 5)).toBeLessThan(0.0005);
    expect(() => createMemoryState({ seenBits: 1 })).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.INVALID_OPTIONS }),
    );
  });
});
