// The media check hashing files itself (ffmpeg): Meta's vPDQ samples and a generated clip.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { createMediaMatchCheck, createModeration, parseVpdq } from "../index.js";

const vpdqDir = () => join(sharedDataDir(), "vpdq");

describe("afterTranscode with a media check hashing the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "reelkit-media-"));
  let unrelated: string;
  beforeAll(() => {
    unrelated = join(dir, "unrelated.mp4");
    execFileSync("ffmpeg", [
      "-v",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240:rate=10:duration=4",
      "-pix_fmt",
      "yuv420p",
      unrelated,
    ]);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("matches the grey edit of a known video (Meta's reference hashes) and not an unrelated clip", async () => {
    const known = parseVpdq(readFileSync(join(vpdqDir(), "chair-orig-22-sd-bar.vpdq.txt"), "utf8"));
    const moderation = createModeration({
      checks: [createMediaMatchCheck({ videos: [{ id: "chair", frames: known }], timeoutMs: 60_000 })],
    });
    const grey = await moderation.afterTranscode({ id: "v1", path: join(vpdqDir(), "chair-22-sd-grey-bar.mp4") });
    expect(grey.failures).toEqual([]);
    expect(grey).toMatchObject({ decision: "block", reasonCodes: ["media:video_match"] });
    expect(grey.signals[0]?.evidence).toMatchObject({ video: "chair", queryMatchPercent: 100 });
    const other = await moderation.afterTranscode({ id: "v2", path: unrelated });
    expect(other.failures).toEqual([]);
    expect(other.decision).toBe("allow");
  }, 60_000);
});
