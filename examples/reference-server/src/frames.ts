// Known-media screening after transcoding. Each transcoded video's frames are PDQ-hashed (vPDQ, one
// frame a second, @reelkit/moderation's hashVideo) and kept beside the upload; a moderator's
// rejection adds the video to a bank of known-bad videos, and every later video is matched against
// that bank the vPDQ way by @reelkit/moderation's media match check (most of its frames must match
// one banned video's, so a re-encode or light edit of a rejected clip is caught while a different
// video of similar content is not).
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createHashIndex,
  createMediaMatchCheck,
  type FrameHash,
  hashVideo,
  type KnownVideo,
  type ModerationCheck,
} from "@reelkit/moderation";
import { z } from "zod";

const ID = /^[A-Za-z0-9_-]{16,64}$/;
const HEX = /^[0-9a-f]{64}$/;

const frameSchema = z.object({ hash: z.string().regex(HEX), quality: z.number().int().min(0).max(100) });
const bankLineSchema = frameSchema.extend({ videoId: z.string().regex(ID), label: z.string().max(200) });
type BankEntry = z.infer<typeof bankLineSchema>;

export interface FrameBank {
  /** The media match check (moment `transcoded`) to give createModeration. */
  readonly check: ModerationCheck;
  /** Hash a rendition and keep its frames for a later ban; answers them for `afterTranscode`. */
  screen(videoId: string, path: string): Promise<FrameHash[]>;
  /** Add a video's kept frames to the bank (idempotent per video); false when none were kept. */
  ban(videoId: string, label: string): Promise<boolean>;
  /** Take a video out of the bank (a moderator approved it after all); false when it was not banned. */
  unban(videoId: string): Promise<boolean>;
  /** Videos whose frames are banked. */
  bannedVideos(): number;
}

export async function openFrameBank(dataDir: string, options: { ffmpegPath?: string } = {}): Promise<FrameBank> {
  const framesDir = join(dataDir, "frames");
  const bankFile = join(dataDir, "moderation", "frame-bank.jsonl");
  await mkdir(framesDir, { recursive: true });
  await mkdir(join(dataDir, "moderation"), { recursive: true });

  // Read by the check on every run, so bans apply at once. (The check wants an index or videos
  // up front; an empty index answers nothing.)
  const known: KnownVideo[] = [];
  const byVideo = new Map<string, KnownVideo>();
  const remember = (entry: BankEntry) => {
    let video = byVideo.get(entry.videoId);
    if (video === undefined) {
      video = { id: entry.videoId, label: entry.label, frames: [] };
      byVideo.set(entry.videoId, video);
      known.push(video);
    }
    (video.frames as Array<{ hash: string; quality: number }>).push({ hash: entry.hash, quality: entry.quality });
  };
  let text = "";
  try {
    text = await readFile(bankFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let parsed: ReturnType<typeof bankLineSchema.safeParse>;
    try {
      parsed = bankLineSchema.safeParse(JSON.parse(line));
    } catch {
      continue; // a torn last line from a crash
    }
    if (!parsed.success) continue;
    remember(parsed.data);
  }

  const framesFile = (videoId: string) => {
    if (!ID.test(videoId)) throw new Error(`invalid video id ${videoId}`);
    return join(framesDir, `${videoId}.json`);
  };

  return {
    check: createMediaMatchCheck<never>({
      index: createHashIndex<never>(),
      videos: known,
      category: "known_media",
      // Hashing is done by `screen` before the hook runs; this bounds a pathological lookup only.
      timeoutMs: 10_000,
    }),
    async screen(videoId, path) {
      const { frames } = await hashVideo(path, {
        fps: 1,
        ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
      });
      const kept = frames.map((f) => ({ hash: f.hash, quality: f.quality, frame: f.frame, timestamp: f.timestamp }));
      const file = framesFile(videoId);
      await writeFile(`${file}.tmp`, JSON.stringify(kept));
      await rename(`${file}.tmp`, file);
      return kept;
    },
    async ban(videoId, label) {
      if (byVideo.has(videoId)) return true;
      let frames: z.infer<typeof frameSchema>[];
      try {
        frames = z.array(frameSchema.loose()).parse(JSON.parse(await readFile(framesFile(videoId), "utf8")));
      } catch {
        return false;
      }
      const entries = frames.map((f) => ({ hash: f.hash, quality: f.quality, videoId, label: label.slice(0, 200) }));
      if (entries.length === 0) return false;
      await appendFile(bankFile, `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`);
      for (const entry of entries) remember(entry);
      return true;
    },
    async unban(videoId) {
      const video = byVideo.get(videoId);
      if (video === undefined) return false;
      byVideo.delete(videoId);
      known.splice(known.indexOf(video), 1);
      // Rewrite the bank without it (temp file + rename: a crash leaves the old or the new bank).
      const lines = known.flatMap((v) =>
        v.frames.map((f) => JSON.stringify({ hash: f.hash, quality: f.quality, videoId: v.id, label: v.label ?? "" })),
      );
      await writeFile(`${bankFile}.tmp`, lines.length > 0 ? `${lines.join("\n")}\n` : "");
      await rename(`${bankFile}.tmp`, bankFile);
      return true;
    },
    bannedVideos: () => known.length,
  };
}
