import { createRandom, getOrCreate, shuffle } from "../random.js";
import type { Interaction } from "./data.js";

export interface Split {
  train: Interaction[];
  valid: Interaction[];
  test: Interaction[];
}

export type Protocol = "recbole" | "temporal";

function byUser(interactions: Interaction[]): Map<string, Interaction[]> {
  const users = new Map<string, Interaction[]>();
  for (const row of interactions) {
    getOrCreate(users, row.userId, () => [] as Interaction[]).push(row);
  }
  return users;
}

/** RecBole's ratio counts: valid and test get floor(ratio × n) each (at least one when n is small). */
function ratioCounts(n: number, ratios: [number, number, number]): [number, number, number] {
  const cnt = ratios.map((r) => Math.floor(r * n)) as [number, number, number];
  cnt[0] = n - cnt[1] - cnt[2];
  for (let i = 1; i < 3; i++) {
    if (cnt[0] <= 1) break;
    const share = (ratios[3 - i] as number) * n;
    if (share > 0 && share < 1) {
      cnt[3 - i] = (cnt[3 - i] as number) + 1;
      cnt[0] -= 1;
    }
  }
  return cnt;
}

/**
 * RecBole's random-order split: each user's interactions shuffled with a fixed seed, then cut
 * 80/10/10 (train/valid/test).
 */
export function randomSplit(
  interactions: Interaction[],
  seed = 2020,
  ratios: [number, number, number] = [0.8, 0.1, 0.1],
): Split {
  const random = createRandom(seed);
  const split: Split = { train: [], valid: [], test: [] };
  const users = [...byUser(interactions).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [, rows] of users) {
    const order = shuffle([...rows], random);
    const [nTrain, nValid] = ratioCounts(order.length, ratios);
    split.train.push(...order.slice(0, nTrain));
    split.valid.push(...order.slice(nTrain, nTrain + nValid));
    split.test.push(...order.slice(nTrain + nValid));
  }
  return split;
}

/** Leave-last-out by time: each user's last interaction is the test, the one before it validation. */
export function temporalSplit(interactions: Interaction[]): Split {
  const split: Split = { train: [], valid: [], test: [] };
  for (const rows of byUser(interactions).values()) {
    const order = [...rows].sort((a, b) => a.timestamp - b.timestamp);
    if (order.length < 3) {
      split.train.push(...order);
      continue;
    }
    split.train.push(...order.slice(0, -2));
    split.valid.push(order[order.length - 2] as Interaction);
    split.test.push(order[order.length - 1] as Interaction);
  }
  return split;
}

export function splitBy(protocol: Protocol, interactions: Interaction[], seed = 2020): Split {
  return protocol === "recbole" ? randomSplit(interactions, seed) : temporalSplit(interactions);
}
