import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import type { CheckSignal, FrameHash, ModerationCheck } from "../moderation.js";
import { PDQ_MATCH_DISTANCE } from "../pdq/hamming.js";
import type { HashIndex } from "../pdq/index.js";
import type { FailMode, Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { type HashVideoOptions, hashVideo, matchVideos, type VpdqFrame } from "../video/vpdq.js";
import { commonCheckOptions } from "./options.js";

/** A known video to match uploads against (its frames from `hashVideo` or a `.vpdq.txt` file). */
export interface KnownVideo {
  id: string;
  frames: ReadonlyArray<Pick<VpdqFrame, "hash" | "quality">>;
  /** The signal's category for this video. @default the check's `category` */
  category?: string;
  label?: string;
}

export interface MediaMatchCheckOptions<T> {
  /** @default "media" */
  name?: string;
  /** Known images, e.g. `indexHashBank(await loadHashBank(csv))`; each good-quality frame is looked up. */
  index?: HashIndex<T>;
  /** The category of a bank hit. A function gets the matched value (e.g. the bank entry, to read its label). @default "known_media" */
  category?: string | ((value: T) => string);
  /** Known videos, matched the vPDQ way (`matchVideos`). */
  videos?: readonly KnownVideo[];
  /** Frame match distance (inclusive). @default 31 */
  distance?: number;
  /** Frames under this PDQ quality are ignored. @default 50 */
  qualityThreshold?: number;
  /** vPDQ match thresholds for `videos`. @default { query: 80, compared: 0 } */
  matchThreshold?: number | { query: number; compared: number };
  /** How to hash `path` when the input has no frames. @default { fps: 1 } */
  hashOptions?: Omit<HashVideoOptions, "signal">;
  /** @default ["transcoded"] */
  moments?: readonly Moment[];
  timeoutMs?: number;
  failMode?: FailMode;
}

const optionsSchema = z.object({
  ...commonCheckOptions,
  distance: z.int().min(0).max(256).default(PDQ_MATCH_DISTANCE),
  qualityThreshold: z.int().min(0).max(100).default(50),
});

/**
 * A bank hit's score: `1 − distance / 64`, at least 0.5. Near-identical frames (≤ 6) reach 0.9, the
 * default policy's `block` for `known_media`; farther matches (up to 31) are held for a human.
 */
export function bankMatchScore(distance: number): number {
  return Math.max(0.5, 1 - distance / 64);
}

/**
 * Known-media matching after transcoding: every good-quality frame is looked up in a PDQ hash
 * index (a hash bank), and the video is matched against known videos the vPDQ way. Frames come
 * from the input (`frames`), or the check hashes `path` with `hashVideo` (one frame a second by
 * default; the check's timeout applies, so give it a long one).
 *
 * Signals: `media:hash_bank` (best distance, matched frames, values' labels) and
 * `media:video_match` (score 0.5 + half the matched share; an 80 % match is 0.9).
 */
export function createMediaMatchCheck<T>(options: MediaMatchCheckOptions<T>): ModerationCheck {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "media check options");
  if (!options.index && !options.videos?.length) {
    throw new ModerationError(ModerationErrorCode.INVALID_OPTIONS, "media check: give an `index`, `videos` or both");
  }
  const categoryOf = (value: T) =>
    typeof options.category === "function" ? options.category(value) : (options.category ?? "known_media");
  return {
    name: o.name ?? "media",
    moments: options.moments ?? ["transcoded"],
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.failMode !== undefined ? { failMode: o.failMode } : {}),
    async run(context) {
      if (context.moment !== "transcoded") return [];
      let frames: ReadonlyArray<FrameHash> | undefined = context.input.frames;
      if (!frames && context.input.path) {
        frames = (await hashVideo(context.input.path, { fps: 1, ...options.hashOptions, signal: context.signal }))
          .frames;
      }
      const good = (frames ?? []).filter((f) => f.quality >= o.qualityThreshold);
      const signals: CheckSignal[] = [];
      if (options.index && good.length > 0) {
        const byCategory = new Map<string, { best: number; frames: Set<number>; values: Set<T> }>();
        good.forEach((f, i) => {
          for (const hit of options.index?.query(f.hash, o.distance) ?? []) {
            const category = categoryOf(hit.value);
            const cur = byCategory.get(category) ?? { best: 256, frames: new Set<number>(), values: new Set<T>() };
            cur.best = Math.min(cur.best, hit.distance);
            cur.frames.add(i);
            cur.values.add(hit.value);
            byCategory.set(category, cur);
          }
        });
        for (const [category, c] of byCategory) {
          signals.push({
            category,
            score: bankMatchScore(c.best),
            reasonCodes: ["media:hash_bank"],
            evidence: {
              bestDistance: c.best,
              matchedFrames: c.frames.size,
              frames: good.length,
              matches: [...c.values].slice(0, 20),
            },
          });
        }
      }
      for (const video of options.videos ?? []) {
        // matchVideos reads only `hash` and `quality` of each frame.
        const m = matchVideos(good as VpdqFrame[], video.frames as VpdqFrame[], {
          distance: o.distance,
          qualityThreshold: o.qualityThreshold,
          ...(options.matchThreshold !== undefined ? { matchThreshold: options.matchThreshold } : {}),
        });
        if (!m.isMatch) continue;
        signals.push({
          category: video.category ?? (typeof options.category === "string" ? options.category : "known_media"),
          score: 0.5 + m.queryMatchPercent / 200,
          reasonCodes: ["media:video_match"],
          evidence: {
            video: video.id,
            ...(video.label ? { label: video.label } : {}),
            queryMatchPercent: m.queryMatchPercent,
            comparedMatchPercent: m.comparedMatchPercent,
          },
        });
      }
      return signals;
    },
  };
}
