import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { CounterStore } from "../counters.js";
import { EngagementErrorCode } from "../errors.js";

/** The behaviour every `CounterStore` adapter must share; the memory adapter defines it. */
export function counterStoreContract(name: string, makeStore: () => CounterStore | Promise<CounterStore>): void {
  describe(`CounterStore contract: ${name}`, () => {
    // Fresh keys per test so adapters backed by a shared server never see each other's data.
    const key = (label: string) => `test:${randomUUID()}:${label}`;

    it("reads an unknown key as empty", async () => {
      const store = await makeStore();
      expect(await store.read([key("none")])).toEqual([{}]);
    });

    it("adds increments of the same field, keeps fields and keys apart", async () => {
      const store = await makeStore();
      const [a, b] = [key("a"), key("b")];
      await store.increment([
        { key: a, field: "views", by: 2 },
        { key: a, field: "views", by: 3 },
        { key: a, field: "likes", by: 1 },
        { key: b, field: "views", by: 7 },
      ]);
      await store.increment([{ key: a, field: "likes", by: -1 }]);
      expect(await store.read([b, a])).toEqual([{ views: 7 }, { views: 5, likes: 0 }]);
    });

    it("spreads a batch over many keys (many Cluster slots) and reads them back in order", async () => {
      const store = await makeStore();
      const keys = Array.from({ length: 50 }, (_, i) => key(`k${i}`));
      await store.increment(keys.map((k, i) => ({ key: k, field: "views", by: i + 1 })));
      expect(await store.read(keys)).toEqual(keys.map((_, i) => ({ views: i + 1 })));
    });

    it("rejects a bad increment with INVALID_INPUT and applies none of the batch", async () => {
      const store = await makeStore();
      const k = key("bad");
      await expect(
        store.increment([
          { key: k, field: "views", by: 1 },
          { key: k, field: "views", by: 0.5 },
        ]),
      ).rejects.toMatchObject({ name: "EngagementError", code: EngagementErrorCode.INVALID_INPUT });
      expect(await store.read([k])).toEqual([{}]);
    });

    it("accepts an empty batch", async () => {
      const store = await makeStore();
      await store.increment([]);
      expect(await store.read([])).toEqual([]);
    });
  });
}
