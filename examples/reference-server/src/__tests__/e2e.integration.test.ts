// The browser end-to-end flow (e2e-flow.ts) in embedded mode: the server in this process, on a
// fresh DATA_DIR. The same flow runs against scaled mode in e2e-scaled.integration.test.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { chromiumArgs, chromiumPath } from "../../../../test/browser.js";
import type { Platform } from "../platform.js";
import type { ReferenceServer } from "../server.js";
import { creatorViewerModeratorFlow } from "./e2e-flow.js";
import { makeClip, startTestServer } from "./helpers.js";

let root: string;
let clipPath: string;
let app: ReferenceServer;
let platform: Platform;
let base: string;
let browser: Browser;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-e2e-"));
  clipPath = join(root, "my-clip.mp4");
  await makeClip(clipPath);
  ({ platform, app, base } = await startTestServer(join(root, "data")));
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await platform?.close();
  await rm(root, { recursive: true, force: true });
});

describe("reference server in Chromium (embedded mode)", () => {
  it("a creator uploads a clip, a viewer watches and likes it, the studio shows it, a moderator removes it", async () => {
    await creatorViewerModeratorFlow({
      base,
      browser,
      clipPath,
      tokens: platform.tokens,
      pipelineTimeoutMs: 90_000,
      countsTimeoutMs: 15_000,
    });
  }, 240_000);
});
