import { createRandom } from "../random.js";

/** Users in 4 taste groups of 30 items each; each user rates ~18 of their group's items and 2 random ones. */
export function tasteData(seed = 1, users = 120) {
  const r = createRandom(seed);
  const rows: Array<{ userId: string; itemId: string; timestamp: number }> = [];
  for (let u = 0; u < users; u++) {
    const g = u % 4;
    for (let i = 0; i < 30; i++) {
      if (r() < 0.6)
        rows.push({ userId: `u${u}`, itemId: `g${g}-i${i}`, timestamp: 1_000_000 + Math.floor(r() * 1e6) });
    }
    for (let n = 0; n < 2; n++) {
      rows.push({ userId: `u${u}`, itemId: `g${Math.floor(r() * 4)}-i${Math.floor(r() * 30)}`, timestamp: 2_000_000 });
    }
  }
  // One rating per (user, item).
  const seen = new Set<string>();
  return rows.filter((row) => !seen.has(`${row.userId}|${row.itemId}`) && seen.add(`${row.userId}|${row.itemId}`));
}
