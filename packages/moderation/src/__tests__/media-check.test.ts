import { describe, expect, it } from "vitest";
import {
  bankMatchScore,
  createHashIndex,
  createMediaMatchCheck,
  createModeration,
  indexHashBank,
  isModerationError,
  ModerationErrorCode,
  parseHashBank,
} from "../index.js";

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}
const next = seeded(99);
const randomHash = () => Array.from({ length: 8 }, () => next().toString(16).padStart(8, "0")).join("");
/** Flip the first `bits` bits of a hash (distance exactly `bits`). */
function flip(hash: string, bits: number): string {
  const digits = [...hash].map((c) => Number.parseInt(c, 16));
  for (let b = 0; b < bits; b++) digits[b >> 2] = (digits[b >> 2] as number) ^ (1 << (b & 3));
  return digits.map((d) => d.toString(16)).join("");
}

describe("createMediaMatchCheck", () => {
  const known = randomHash();
  const bank = parseHashBank(`hash,label\n${known},terror:video-17\n${randomHash()},csam:img-3\n`);

  it("looks every good frame up in a hash bank: near-identical blocks, farther matches hold, others allow", async () => {
    const moderation = createModeration({
      checks: [
        createMediaMatchCheck({
          index: indexHashBank(bank),
          category: (entry) => (entry.label.startsWith("csam") ? "child_safety" : "known_media"),
        }),
      ],
    });
    const frames = (...hashes: string[]) =>
      hashes.map((hash, frame) => ({ hash, quality: 90, frame, timestamp: frame }));
    const near = await moderation.afterTranscode({
      id: "v1",
      frames: frames(randomHash(), flip(known, 4), randomHash()),
    });
    expect(near.decision).toBe("block");
    expect(near.reasonCodes).toEqual(["media:hash_bank"]);
    expect(near.signals[0]).toMatchObject({
      category: "known_media",
      score: bankMatchScore(4),
      evidence: { bestDistance: 4, matchedFrames: 1, frames: 3 },
    });
    const matches = near.signals[0]?.evidence?.matches as Array<{ label: string }> | undefined;
    expect(matches?.map((m) => m.label)).toEqual(["terror:video-17"]);

    const far = await moderation.afterTranscode({ id: "v2", frames: frames(flip(known, 30)) });
    expect(far.decision).toBe("hold");
    expect((await moderation.afterTranscode({ id: "v3", frames: frames(flip(known, 32)) })).decision).toBe("allow");
    // a low-quality frame is not trusted
    expect((await moderation.afterTranscode({ id: "v4", frames: [{ hash: known, quality: 10 }] })).decision).toBe(
      "allow",
    );
    expect([bankMatchScore(0), bankMatchScore(6), bankMatchScore(31)].map((s) => s >= 0.9)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("matches known videos the vPDQ way", async () => {
    const original = Array.from({ length: 20 }, (_, i) => ({
      hash: randomHash(),
      quality: 100,
      frame: i,
      timestamp: i,
    }));
    const index = createHashIndex<string>();
    const moderation = createModeration({
      checks: [
        createMediaMatchCheck({
          index,
          videos: [{ id: "known-1", frames: original, label: "viral hoax", category: "misinformation" }],
        }),
      ],
      policy: { thresholds: { misinformation: { limit: 0.5, hold: 0.95 } } },
    });
    // a re-encode: every frame a few bits off
    const reencoded = original.map((f) => ({ ...f, hash: flip(f.hash, 6) }));
    const d = await moderation.afterTranscode({ id: "v9", frames: reencoded });
    expect(d).toMatchObject({ decision: "hold", reasonCodes: ["media:video_match"] });
    expect(d.signals[0]).toMatchObject({
      category: "misinformation",
      score: 1,
      evidence: { video: "known-1", label: "viral hoax", queryMatchPercent: 100, comparedMatchPercent: 100 },
    });
    // a clip: half the frames plus as many unrelated ones → 50 % of the upload is known: under vPDQ's 80 %
    const mixed = [
      ...reencoded.slice(0, 10),
      ...Array.from({ length: 10 }, () => ({ hash: randomHash(), quality: 100 })),
    ];
    expect((await moderation.afterTranscode({ id: "v10", frames: mixed })).decision).toBe("allow");
  });

  it("fails (closed) when the file cannot be hashed, and needs an index or videos", async () => {
    const moderation = createModeration({
      checks: [createMediaMatchCheck({ index: createHashIndex(), hashOptions: { ffmpegPath: "/nonexistent/ffmpeg" } })],
    });
    const d = await moderation.afterTranscode({ id: "v", path: "/nonexistent/video.mp4" });
    expect(d.decision).toBe("hold");
    expect(d.failures[0]?.check).toBe("media");
    expect(["INVALID_INPUT", "FFMPEG_MISSING"]).toContain(d.failures[0]?.code);
    let code: string | undefined;
    try {
      createMediaMatchCheck({});
    } catch (error) {
      code = isModerationError(error) ? error.code : "other";
    }
    expect(code).toBe(ModerationErrorCode.INVALID_OPTIONS);
  });
});
