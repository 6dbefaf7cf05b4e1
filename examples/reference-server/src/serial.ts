import type { Platform } from "./platform.js";

const queues = new WeakMap<Platform, Map<string, Promise<unknown>>>();

/**
 * Runs `fn` after every earlier call with the same `key` on this platform has settled (one at a
 * time per key, within this process; other processes are not covered).
 */
export async function serialized<T>(platform: Platform, key: string, fn: () => Promise<T>): Promise<T> {
  let map = queues.get(platform);
  if (map === undefined) {
    map = new Map();
    queues.set(platform, map);
  }
  const run = (map.get(key) ?? Promise.resolve()).catch(() => {}).then(fn);
  map.set(key, run);
  try {
    return await run;
  } finally {
    if (map.get(key) === run) map.delete(key);
  }
}
