import type { CounterIncrement, CounterStore, CounterTotals } from "../counters.js";
import { validateIncrements, validateKeys } from "../validate.js";

/** In-process counters: the embedded default and the reference every other adapter is tested against. */
export function createMemoryCounterStore(): CounterStore {
  const hashes = new Map<string, Map<string, number>>();
  return {
    async increment(increments: readonly CounterIncrement[]) {
      validateIncrements(increments);
      for (const { key, field, by } of increments) {
        let hash = hashes.get(key);
        if (hash === undefined) {
          hash = new Map();
          hashes.set(key, hash);
        }
        hash.set(field, (hash.get(field) ?? 0) + by);
      }
    },
    async read(keys: readonly string[]) {
      validateKeys(keys);
      return keys.map((key): CounterTotals => Object.fromEntries(hashes.get(key) ?? []));
    },
  };
}
