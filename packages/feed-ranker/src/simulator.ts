import { z } from "zod";
import { FeedRankerErrorCode } from "./errors.js";
import { createRandom, gaussian, type Random } from "./random.js";
import type { EngagementEvent, VideoInput } from "./types.js";
import { parseWith } from "./validate.js";

const simulatorSchema = z.strictObject({
  seed: z.number().int().default(42),
  users: z.number().int().min(0).max(1_000_000).default(200),
  creators: z.number().int().min(1).max(1_000_000).default(100),
  videos: z.number().int().min(0).max(10_000_000).default(2000),
  topics: z.number().int().min(1).max(1000).default(12),
  /** Each user loves this many topics. */
  interestsPerUser: z.number().int().min(1).default(2),
  /** Embedding dimension (0: videos carry no embedding). */
  dim: z.number().int().min(0).max(512).default(16),
  /** Upload times spread over this window before `start`. */
  uploadWindowMs: z
    .number()
    .int()
    .positive()
    .default(7 * 86_400_000),
  start: z
    .number()
    .int()
    .default(Date.UTC(2026, 0, 1)),
});
export type SimulatorOptions = z.input<typeof simulatorSchema>;

export interface SimulatedUser {
  userId: string;
  /** Latent interest per topic, 0..1. */
  interests: number[];
  favourites: string[];
}

export interface SimulatedVideo extends VideoInput {
  topic: number;
  /** Latent quality 0..1: how watchable, whatever the viewer's taste. */
  quality: number;
}

/**
 * A deterministic short-video world: users with latent topic interests, creators with a home
 * topic, videos with a topic, a quality and an embedding near their topic, and watch behaviour
 * driven by interest × quality. Same seed, same world, same reactions.
 */
export class Simulator {
  readonly users: SimulatedUser[] = [];
  readonly videos: SimulatedVideo[] = [];
  readonly topicNames: string[];
  readonly start: number;
  private readonly byId = new Map<string, SimulatedVideo>();
  private readonly userById = new Map<string, SimulatedUser>();
  private readonly random: Random;

  constructor(options: SimulatorOptions = {}) {
    const o = parseWith(simulatorSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "simulator options");
    this.random = createRandom(o.seed);
    this.start = o.start;
    const r = this.random;
    this.topicNames = Array.from({ length: o.topics }, (_, t) => `topic-${t}`);
    const centroids = this.topicNames.map(() => Array.from({ length: o.dim }, () => gaussian(r)));
    const creatorTopic = Array.from({ length: o.creators }, () => Math.floor(r() * o.topics));
    for (let i = 0; i < o.videos; i++) {
      const creator = Math.floor(r() * o.creators);
      // Most videos are on the creator's home topic.
      const topic = r() < 0.8 ? (creatorTopic[creator] as number) : Math.floor(r() * o.topics);
      const centroid = centroids[topic] as number[];
      const video: SimulatedVideo = {
        videoId: `v${i}`,
        creatorId: `c${creator}`,
        topics: [this.topicNames[topic] as string],
        createdAt: o.start - Math.floor(r() * o.uploadWindowMs),
        durationMs: 5_000 + Math.floor(r() * 55_000),
        moderation: "approved",
        topic,
        quality: 0.3 + 0.7 * r(),
        ...(o.dim > 0 && { embedding: centroid.map((c) => c + 0.5 * gaussian(r)) }),
      };
      this.videos.push(video);
      this.byId.set(video.videoId, video);
    }
    for (let u = 0; u < o.users; u++) {
      const interests = this.topicNames.map(() => 0.05 * r());
      const favourites: string[] = [];
      while (favourites.length < Math.min(o.interestsPerUser, o.topics)) {
        const t = Math.floor(r() * o.topics);
        if ((interests[t] as number) >= 0.5) continue;
        interests[t] = 0.7 + 0.3 * r();
        favourites.push(this.topicNames[t] as string);
      }
      const user = { userId: `u${u}`, interests, favourites };
      this.users.push(user);
      this.userById.set(user.userId, user);
    }
  }

  video(videoId: string): SimulatedVideo | undefined {
    return this.byId.get(videoId);
  }

  user(userId: string): SimulatedUser | undefined {
    return this.userById.get(userId);
  }

  /** Probability the user completes the video. */
  completion(userId: string, videoId: string): number {
    const user = this.userById.get(userId);
    const video = this.byId.get(videoId);
    if (user === undefined || video === undefined) return 0;
    const z = 6 * ((user.interests[video.topic] as number) * 0.8 + video.quality * 0.4 - 0.6);
    return 1 / (1 + Math.exp(-z));
  }

  /** Whether the video is on one of the user's favourite topics. */
  likes(userId: string, videoId: string): boolean {
    const video = this.byId.get(videoId);
    return (
      video !== undefined &&
      (this.userById.get(userId)?.favourites.includes(this.topicNames[video.topic] as string) ?? false)
    );
  }

  /** The events one impression produces: impression, then complete or a partial view/skip, maybe like/share/hide. */
  watch(userId: string, videoId: string, ts: number): EngagementEvent[] {
    const video = this.byId.get(videoId);
    if (video === undefined) return [];
    const r = this.random;
    const p = this.completion(userId, videoId);
    const events: EngagementEvent[] = [{ userId, videoId, type: "impression", ts }];
    const duration = video.durationMs as number;
    if (r() < p) {
      events.push({ userId, videoId, type: "complete", watchMs: duration, ts: ts + duration });
      if (r() < p * 0.5) events.push({ userId, videoId, type: "like", ts: ts + duration });
      if (r() < p * 0.1) events.push({ userId, videoId, type: "share", ts: ts + duration });
    } else {
      const watched = Math.floor(duration * r() * p);
      events.push({ userId, videoId, type: watched < 2000 ? "skip" : "view", watchMs: watched, ts: ts + watched });
      if (r() < (1 - p) * 0.05) events.push({ userId, videoId, type: "hide", ts: ts + watched });
    }
    return events;
  }
}

/** Background traffic: every simulated user watches `perUser` random videos (warms signals). */
export function backgroundTraffic(sim: Simulator, perUser: number, ts: number, seed = 3): EngagementEvent[] {
  const r = createRandom(seed);
  const events: EngagementEvent[] = [];
  for (const user of sim.users) {
    for (let k = 0; k < perUser; k++) {
      // Users mostly find videos of their own topics (a search/explore stand-in) and some at random.
      let video = sim.videos[Math.floor(r() * sim.videos.length)];
      for (
        let tries = 0;
        tries < 20 && video !== undefined && r() < 0.8 && !sim.likes(user.userId, video.videoId);
        tries++
      ) {
        video = sim.videos[Math.floor(r() * sim.videos.length)];
      }
      if (video !== undefined) events.push(...sim.watch(user.userId, video.videoId, ts + k * 1000));
    }
  }
  return events;
}
