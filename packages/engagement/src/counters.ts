/** One increment of one named field of a counter hash, e.g. `{ key: "video:v1", field: "views", by: 1 }`. */
export interface CounterIncrement {
  key: string;
  field: string;
  by: number;
}

/** The fields of one counter hash and their totals; a field never incremented is absent. */
export type CounterTotals = Record<string, number>;

/**
 * Port: integer counters grouped in hashes. The memory adapter is the reference implementation;
 * every adapter runs the same contract suite (`__tests__/counter-store.contract.ts`).
 */
export interface CounterStore {
  /** Apply every increment; increments of the same key and field add up. */
  increment(increments: readonly CounterIncrement[]): Promise<void>;
  /** Totals for each key, in the order asked; an unknown key reads as `{}`. */
  read(keys: readonly string[]): Promise<CounterTotals[]>;
}
