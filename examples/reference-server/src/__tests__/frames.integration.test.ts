// Known-media screening with real ffmpeg and PDQ: an edit of a banned clip is caught, a
// different clip passes, and the bank survives a reopen.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModeration } from "@reelkit/moderation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { openFrameBank } from "../frames.js";

// Meta's vPDQ samples: an original, an edit of it (grey bar), and a different video of similar content.
let root: string;
const clip = (name: string) => join(sharedDataDir(), "vpdq", name);
const ids = { original: "frames-original-000001", copy: "frames-reupload-000002", other: "frames-different-00003" };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-frames-"));
});

afterAll(() => rm(root, { recursive: true, force: true }));

describe("frame bank", () => {
  it("catches a re-upload of a banned clip and lets a different clip through", async () => {
    const dataDir = join(root, "data");
    const bank = await openFrameBank(dataDir);
    const moderation = createModeration({ checks: [bank.check] });
    const frames = await bank.screen(ids.original, clip("chair-orig-22-sd-bar.mp4"));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    // Nothing banned yet: the original itself passes.
    expect((await moderation.afterTranscode({ id: ids.original, frames })).decision).toBe("allow");
    expect(await bank.ban(ids.original, "rejected by a moderator")).toBe(true);
    expect(bank.bannedVideos()).toBe(1);

    const copy = await moderation.afterTranscode({
      id: ids.copy,
      frames: await bank.screen(ids.copy, clip("chair-22-sd-grey-bar.mp4")),
    });
    expect(["block", "hold"]).toContain(copy.decision);
    expect(copy.reasonCodes).toContain("media:video_match");
    const other = await moderation.afterTranscode({
      id: ids.other,
      frames: await bank.screen(ids.other, clip("chair-19-sd-bar.mp4")),
    });
    expect(other.decision).toBe("allow");

    // Reopened from disk, the bank still knows the clip.
    const reopened = await openFrameBank(dataDir);
    expect(reopened.bannedVideos()).toBe(1);
    const again = createModeration({ checks: [reopened.check] });
    expect(
      (
        await again.afterTranscode({
          id: ids.copy,
          frames: await reopened.screen(ids.copy, clip("chair-22-sd-grey-bar.mp4")),
        })
      ).decision,
    ).not.toBe("allow");

    // Approved after all: unbanned, on disk too.
    expect(await reopened.unban(ids.original)).toBe(true);
    expect(await reopened.unban(ids.original)).toBe(false);
    const copyFrames = await reopened.screen(ids.copy, clip("chair-22-sd-grey-bar.mp4"));
    expect((await again.afterTranscode({ id: ids.copy, frames: copyFrames })).decision).toBe("allow");
    expect((await openFrameBank(dataDir)).bannedVideos()).toBe(0);
  }, 60_000);

  it("cannot ban a video it never screened", async () => {
    const bank = await openFrameBank(join(root, "data-2"));
    expect(await bank.ban("never-screened-0000001", "x")).toBe(false);
    expect(bank.bannedVideos()).toBe(0);
  });
});
