import { Catalog } from "../catalog.js";
import { createFeedRanker, type FeedRanker, type FeedRankerOptions } from "../feed.js";
import { backgroundTraffic, Simulator, type SimulatorOptions } from "../simulator.js";

export const SECRET = "test-secret-of-at-least-16-chars";

/** A simulated world, a catalogue of its videos and a ranker with a controllable clock. */
export async function world(
  options: { sim?: SimulatorOptions; ranker?: Partial<FeedRankerOptions>; traffic?: number } = {},
): Promise<{ sim: Simulator; ranker: FeedRanker; clock: { t: number }; catalog: Catalog }> {
  const sim = new Simulator({ users: 60, videos: 1500, creators: 80, ...options.sim });
  const catalog = new Catalog({ ann: { probes: 16 } });
  catalog.upsert(sim.videos.map(({ topic: _t, quality: _q, ...v }) => v));
  const clock = { t: sim.start };
  const ranker = createFeedRanker({ catalog, secret: SECRET, now: () => clock.t, ...options.ranker });
  const traffic = options.traffic ?? 25;
  if (traffic > 0) await ranker.engage(backgroundTraffic(sim, traffic, sim.start - 3_600_000));
  return { sim, ranker, clock, catalog };
}

/** Share of a page's videos on the user's favourite topics. */
export function favouriteShare(sim: Simulator, userId: string, videoIds: readonly string[]): number {
  if (videoIds.length === 0) return 0;
  return videoIds.filter((id) => sim.likes(userId, id)).length / videoIds.length;
}
