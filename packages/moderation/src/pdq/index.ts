// A Hamming-distance index for PDQ hashes: multi-index hashing (Norouzi, Punjani & Fleet, 2014),
// the scheme of Meta's reference `MIH256`. The 256 bits are cut into 16 slots of 16 bits and each
// slot has a table from its 65,536 possible values to the hashes holding that value. Two hashes
// within distance d differ, by pigeonhole, in at most ⌊d/16⌋ bits of at least one slot, so probing
// every slot value within ⌊d/16⌋ bits of the query's (17 values per slot at d = 31) finds every
// candidate; each candidate's full distance then decides. Exact, not approximate: the same answer
// as a linear scan, which the index falls back to when probing would cost more (large d, few hashes).
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { hashToWords, isPdqHash, PDQ_MATCH_DISTANCE, type PdqHash, popcount32, wordsToHash } from "./hamming.js";

/** One hash found by a query. */
export interface HashMatch<T> {
  hash: PdqHash;
  value: T;
  /** Hamming distance to the query, 0–256. */
  distance: number;
  /** Insertion order (0 for the first hash added): stable, and the tie-break of the sort. */
  id: number;
}

/** How a query searched: `mih` probes the slot tables, `linear` compares with every hash. */
export type HashIndexMethod = "auto" | "mih" | "linear";

export interface HashQueryOptions {
  /** `auto` (default) picks whichever is cheaper for this distance and index size. Both are exact. */
  method?: HashIndexMethod;
}

export interface HashIndex<T> {
  /** Number of hashes added. */
  readonly size: number;
  /** Add a hash (either case) with its value; returns its id. Duplicate hashes are kept, each with its value. */
  add(hash: PdqHash, value: T): number;
  /** Add many `{ hash, value }` entries; validates them all before adding any. */
  addAll(entries: Iterable<{ hash: PdqHash; value: T }>): void;
  /** The entry with that id. */
  get(id: number): { hash: PdqHash; value: T } | undefined;
  /**
   * Every hash within `maxDistance` (default 31, inclusive) of `hash`, nearest first (ties by
   * id). Exact: the same set a linear scan returns.
   */
  query(hash: PdqHash, maxDistance?: number, options?: HashQueryOptions): Array<HashMatch<T>>;
}

const SLOTS = 16;
/** Beyond ⌊d/16⌋ = 3 (d ≥ 64) the neighbour lists grow past 2,500 per slot; a scan is cheaper. */
const MAX_SLOT_RADIUS = 3;

/** 16-bit masks with at most r bits set, for r = 0…3 (1, 17, 137, 697 masks). */
const neighbourMasks: Uint16Array[] = (() => {
  const lists: number[][] = [[], [], [], []];
  for (let m = 0; m < 65536; m++) {
    const bits = popcount32(m);
    for (let r = bits; r <= MAX_SLOT_RADIUS; r++) lists[r]?.push(m);
  }
  return lists.map((l) => Uint16Array.from(l));
})();

/** Hamming distance between the 8 words at `at` in `words` and the query's 8 words. */
function distanceAt(words: Uint32Array, at: number, q: Uint32Array): number {
  let d = 0;
  for (let w = 0; w < 8; w++) {
    let v = ((words[at + w] as number) ^ (q[w] as number)) >>> 0;
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    v = (v + (v >>> 4)) & 0x0f0f0f0f;
    d += Math.imul(v, 0x01010101) >>> 24;
  }
  return d;
}

/** Every id in the buckets of `value` and its neighbours (`masks`) for one slot, checked once each. */
function probeSlot(
  offsets: Uint32Array,
  ids: Uint32Array,
  value: number,
  masks: Uint16Array,
  words: Uint32Array,
  query: Uint32Array,
  seen: Uint32Array,
  epoch: number,
  maxDistance: number,
  outIds: number[],
  outDistances: number[],
): void {
  for (let m = 0; m < masks.length; m++) {
    const v = value ^ (masks[m] as number);
    const end = offsets[v + 1] as number;
    for (let at = offsets[v] as number; at < end; at++) {
      const id = ids[at] as number;
      if (seen[id] === epoch) continue;
      seen[id] = epoch;
      const d = distanceAt(words, id * 8, query);
      if (d <= maxDistance) {
        outIds.push(id);
        outDistances.push(d);
      }
    }
  }
}

function scanRange(
  words: Uint32Array,
  query: Uint32Array,
  from: number,
  to: number,
  maxDistance: number,
  outIds: number[],
  outDistances: number[],
): void {
  for (let id = from; id < to; id++) {
    const d = distanceAt(words, id * 8, query);
    if (d <= maxDistance) {
      outIds.push(id);
      outDistances.push(d);
    }
  }
}

function checkDistance(maxDistance: unknown): number {
  if (typeof maxDistance !== "number" || !Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 256) {
    throw new ModerationError(
      ModerationErrorCode.INVALID_INPUT,
      `maxDistance must be an integer 0–256, got ${String(maxDistance)}`,
    );
  }
  return maxDistance;
}

/**
 * An in-memory index for finding PDQ hashes within a Hamming distance of a query. Adds are O(1);
 * the slot tables are rebuilt lazily (a query first scans hashes added since the last rebuild,
 * and rebuilds once they pass an eighth of the index), so bulk loading then querying is cheap and
 * interleaved adds stay correct.
 */
export function createHashIndex<T = undefined>(
  options: { entries?: Iterable<{ hash: PdqHash; value: T }> } = {},
): HashIndex<T> {
  let words = new Uint32Array(8 * 1024);
  const values: T[] = [];
  let size = 0;

  // Slot tables over ids [0, indexed): per slot, CSR offsets (65,537) and ids sorted by slot value.
  let indexed = 0;
  let offsets: Uint32Array[] = [];
  let slotIds: Uint32Array[] = [];
  let seen = new Uint32Array(0);
  let epoch = 0;
  const queryWords = new Uint32Array(8);

  function add(hash: PdqHash, value: T): number {
    if ((size + 1) * 8 > words.length) {
      const grown = new Uint32Array(words.length * 2);
      grown.set(words);
      words = grown;
    }
    hashToWords(hash, words, size * 8); // validates: throws INVALID_INPUT before anything is added
    values.push(value);
    return size++;
  }

  function rebuild(): void {
    const n = size;
    offsets = [];
    slotIds = [];
    const counts = new Uint32Array(65537);
    for (let s = 0; s < SLOTS; s++) {
      const word = s >> 1;
      const shift = (s & 1) * 16;
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        const v = ((words[i * 8 + word] as number) >>> shift) & 0xffff;
        counts[v + 1] = (counts[v + 1] as number) + 1;
      }
      for (let v = 0; v < 65536; v++) counts[v + 1] = (counts[v + 1] as number) + (counts[v] as number);
      const start = counts.slice();
      const sorted = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const v = ((words[i * 8 + word] as number) >>> shift) & 0xffff;
        const at = start[v] as number;
        sorted[at] = i;
        start[v] = at + 1;
      }
      offsets.push(counts.slice());
      slotIds.push(sorted);
    }
    indexed = n;
    seen = new Uint32Array(n);
    epoch = 0;
  }

  function found(ids: number[], distances: number[], out: Array<HashMatch<T>>): void {
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k] as number;
      out.push({ hash: wordsToHash(words, id * 8), value: values[id] as T, distance: distances[k] as number, id });
    }
  }

  function probe(maxDistance: number, out: Array<HashMatch<T>>): void {
    const masks = neighbourMasks[Math.floor(maxDistance / SLOTS)] as Uint16Array;
    epoch++;
    if (epoch === 0xffffffff) {
      seen.fill(0);
      epoch = 1;
    }
    const ids: number[] = [];
    const distances: number[] = [];
    for (let s = 0; s < SLOTS; s++) {
      const value = ((queryWords[s >> 1] as number) >>> ((s & 1) * 16)) & 0xffff;
      probeSlot(
        offsets[s] as Uint32Array,
        slotIds[s] as Uint32Array,
        value,
        masks,
        words,
        queryWords,
        seen,
        epoch,
        maxDistance,
        ids,
        distances,
      );
    }
    found(ids, distances, out);
  }

  function scan(from: number, to: number, maxDistance: number, out: Array<HashMatch<T>>): void {
    const ids: number[] = [];
    const distances: number[] = [];
    scanRange(words, queryWords, from, to, maxDistance, ids, distances);
    found(ids, distances, out);
  }

  const index: HashIndex<T> = {
    get size() {
      return size;
    },
    add,
    addAll(entries) {
      const list = Array.from(entries);
      list.forEach((e, i) => {
        if (!e || typeof e !== "object" || !isPdqHash(e.hash)) {
          throw new ModerationError(
            ModerationErrorCode.INVALID_INPUT,
            `entry ${i} has no valid PDQ hash; nothing was added`,
          );
        }
      });
      for (const e of list) add(e.hash, e.value);
    },
    get(id) {
      if (!Number.isInteger(id) || id < 0 || id >= size) return undefined;
      return { hash: wordsToHash(words, id * 8), value: values[id] as T };
    },
    query(hash, maxDistance = PDQ_MATCH_DISTANCE, queryOptions = {}) {
      hashToWords(hash, queryWords);
      const d = checkDistance(maxDistance);
      const method = queryOptions.method ?? "auto";
      if (method !== "auto" && method !== "mih" && method !== "linear") {
        throw new ModerationError(
          ModerationErrorCode.INVALID_INPUT,
          `method must be "auto", "mih" or "linear", got ${String(method)}`,
        );
      }
      const out: Array<HashMatch<T>> = [];
      const radius = Math.floor(d / SLOTS);
      const probes = SLOTS * (neighbourMasks[radius]?.length ?? Number.POSITIVE_INFINITY);
      // Probing costs a table lookup per probe plus the candidates it turns up (n / 65,536 per probe
      // on uniform hashes); a scan costs one distance per hash.
      const mihCost = probes * (2 + size / 65536);
      const useMih = radius <= MAX_SLOT_RADIUS && (method === "mih" || (method === "auto" && mihCost < size));
      if (!useMih) {
        if (method === "mih") {
          throw new ModerationError(
            ModerationErrorCode.INVALID_INPUT,
            `method "mih" supports maxDistance up to ${SLOTS * (MAX_SLOT_RADIUS + 1) - 1}, got ${d}`,
          );
        }
        scan(0, size, d, out);
      } else {
        if (size - indexed > Math.max(1024, indexed >> 3)) rebuild();
        if (indexed > 0) probe(d, out);
        scan(indexed, size, d, out); // added since the last rebuild
      }
      out.sort((a, b) => a.distance - b.distance || a.id - b.id);
      return out;
    },
  };
  if (options.entries !== undefined) index.addAll(options.entries);
  return index;
}
