import { afterEach, describe, expect, it, vi } from "vitest";
import { bandwidthEstimate, DEFAULT_ESTIMATE_BPS, recordBandwidth, resetBandwidth } from "../bandwidth.js";

function fakeStorage(): Storage {
  const map = new Map<string, string>();
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
    clear: () => map.clear(),
    key: () => null,
    get length() {
      return map.size;
    },
  };
}

afterEach(() => {
  resetBandwidth();
  vi.unstubAllGlobals();
});

describe("bandwidth estimate", () => {
  it("starts from the default and carries a measured estimate to the next video", () => {
    expect(bandwidthEstimate()).toBe(DEFAULT_ESTIMATE_BPS);
    recordBandwidth(5_400_000.4);
    expect(bandwidthEstimate()).toBe(5_400_000);
    recordBandwidth(Number.NaN);
    recordBandwidth(-1);
    expect(bandwidthEstimate()).toBe(5_400_000);
  });

  it("survives a new session through localStorage, and ignores stale entries", () => {
    const storage = fakeStorage();
    vi.stubGlobal("localStorage", storage);
    recordBandwidth(7_000_000);
    resetBandwidth(); // a new page: memory gone...
    storage.setItem("reelkit:bandwidth", `7000000:${Date.now()}`);
    expect(bandwidthEstimate()).toBe(7_000_000); // ...the stored estimate is used
    resetBandwidth();
    storage.setItem("reelkit:bandwidth", `7000000:${Date.now() - 2 * 86_400_000}`);
    expect(bandwidthEstimate()).toBe(DEFAULT_ESTIMATE_BPS);
  });
});
