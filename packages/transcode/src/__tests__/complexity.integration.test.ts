import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { type ComplexityOptions, complexityFactor, countPackets, measureComplexity } from "../complexity.js";
import { TranscodeError } from "../errors.js";
import { planLadder } from "../ladder.js";
import { probe } from "../probe.js";

const exec = promisify(execFile);
const media = join(sharedDataDir(), "media");
let dir: string;
let staticClip: string;
let noiseClip: string;
let flatClip: string;

/** ffmpeg from lavfi into the temp folder, near-lossless so the source's own coding adds little. */
async function lavfi(source: string, out: string): Promise<string> {
  const path = join(dir, out);
  await exec(
    "ffmpeg",
    ["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", source].concat([
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-crf",
      "12",
      "-pix_fmt",
      "yuv420p",
      path,
    ]),
  );
  return path;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TranscodeError) return error.code;
    throw error;
  }
  throw new Error("expected a TranscodeError, got a result");
}

beforeAll(async () => {
  if (!existsSync(media)) throw new Error(`shared media not found at ${media}: set REELKIT_SHARED_DATA`);
  dir = await mkdtemp(join(tmpdir(), "reelkit-complexity-"));
  staticClip = await lavfi("testsrc=s=640x360:r=30:d=4", "static.mp4");
  flatClip = await lavfi("color=c=gray:s=640x360:r=30:d=4", "flat.mp4");
  noiseClip = await lavfi("nullsrc=s=640x360:r=30:d=3,geq=lum='random(1)*255':cb=128:cr=128", "noise.mp4");
}, 60_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("measureComplexity", () => {
  it("gives static content a lower factor than noise", async () => {
    const still = await measureComplexity(staticClip);
    const flat = await measureComplexity(flatClip);
    const noise = await measureComplexity(noiseClip);
    expect(still.factor).toBeLessThan(1);
    expect(flat.factor).toBe(0.5);
    expect(noise.factor).toBe(2);
    expect(still.bitsPerPixel).toBeLessThan(noise.bitsPerPixel / 10);
    expect(flat.bitsPerPixel).toBeLessThan(still.bitsPerPixel);
    expect(still.sampledSeconds).toBeCloseTo(4, 1);
    expect(noise.sampledSeconds).toBeCloseTo(3, 1);
  });

  it.each(existsSync(media) ? readdirSync(media) : [])("measures %s inside the clamp range", async (file) => {
    const result = await measureComplexity(join(media, file));
    expect(result.factor).toBeGreaterThanOrEqual(0.5);
    expect(result.factor).toBeLessThanOrEqual(2);
    expect(result.bitsPerPixel).toBeGreaterThan(0);
    expect(result.sampledSeconds).toBeGreaterThan(0);
    expect(result.sampledSeconds).toBeLessThanOrEqual(10);
    // The factor feeds the ladder directly.
    const ladder = planLadder(await probe(join(media, file)), { complexity: result.factor });
    expect(ladder.complexityFactor).toBe(result.factor);
  });

  it("samples at most `seconds` and accepts a known MediaInfo", async () => {
    const info = await probe(staticClip);
    const result = await measureComplexity(staticClip, { seconds: 1, info });
    expect(result.sampledSeconds).toBeLessThanOrEqual(1.05);
    expect(result.sampledSeconds).toBeGreaterThan(0.9);
  });

  it("writes nothing next to the source or in its temp folder", async () => {
    const before = await readdir(dir);
    await measureComplexity(staticClip);
    expect(await readdir(dir)).toEqual(before);
  });

  it("passes probe's codes through and rejects bad options", async () => {
    expect(await codeOf(measureComplexity(join(dir, "missing.mp4")))).toBe("INPUT_NOT_FOUND");
    expect(await codeOf(measureComplexity(staticClip, { seconds: 0 }))).toBe("INVALID_OPTIONS");
    expect(await codeOf(measureComplexity(staticClip, { nope: 1 } as ComplexityOptions))).toBe("INVALID_OPTIONS");
  });

  it("says ABORTED when aborted before or during the encode", async () => {
    expect(await codeOf(measureComplexity(noiseClip, { signal: AbortSignal.abort() }))).toBe("ABORTED");
    const controller = new AbortController();
    const info = await probe(noiseClip);
    const running = measureComplexity(noiseClip, { signal: controller.signal, info });
    setTimeout(() => controller.abort(), 20);
    expect(await codeOf(running)).toBe("ABORTED");
  });
});

describe("complexity helpers", () => {
  it("sums framecrc packet sizes", () => {
    const listing = [
      "#tb 0: 1/30",
      "#media_type 0: video",
      "0,          0,          0,        1,    12345, 0x1234abcd",
      "0,          1,          1,        1,      678, 0x00000000, F=0x0",
      "",
    ].join("\n");
    expect(countPackets(listing)).toEqual({ frames: 2, bytes: 13023 });
  });

  it("maps bits per pixel to a clamped factor around the reference", () => {
    expect(complexityFactor(0.2)).toBeCloseTo(1, 5);
    expect(complexityFactor(0.8)).toBeCloseTo(2, 5);
    expect(complexityFactor(0.05)).toBeCloseTo(0.5, 5);
    expect(complexityFactor(10)).toBe(2);
    expect(complexityFactor(0)).toBe(0.5);
  });
});
