/**
 * Fold `<day>:<field>` → value entries (how the backend stores keep per-day totals) into totals per
 * day for days `fromDay`..`toDay`, oldest first. Fields outside `zero()`'s are ignored.
 */
export function totalsByDay<T extends { [K in keyof T]: number }>(
  entries: Iterable<readonly [name: string, value: number]>,
  fromDay: number,
  toDay: number,
  zero: () => T,
): Array<{ day: number; totals: T }> {
  const byDay = new Map<number, T>();
  for (const [name, value] of entries) {
    const cut = name.indexOf(":");
    const day = Number(name.slice(0, cut));
    const field = name.slice(cut + 1);
    if (!(day >= fromDay && day <= toDay)) continue;
    const totals = byDay.get(day) ?? zero();
    if (!(field in totals)) continue;
    const sums = totals as Record<string, number>;
    sums[field] = (sums[field] ?? 0) + value;
    byDay.set(day, totals);
  }
  return [...byDay].sort(([a], [b]) => a - b).map(([day, totals]) => ({ day, totals }));
}
