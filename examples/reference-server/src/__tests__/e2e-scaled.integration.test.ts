// The browser end-to-end flow (e2e-flow.ts) in scaled mode against the real engines: the API, a
// transcoder and the engagement aggregator as processes of their own (scaled-harness.ts), with a
// Redis prefix, Kafka topics and a Cassandra keyspace of this run, removed afterwards. The clip is
// transcoded by the transcoder process; the player's telemetry goes API → Kafka → aggregator →
// Cassandra, so the counts are polled (bounded) until they show; the studio reads the view, the
// like and the retention curve from Cassandra; the moderator's decision goes through the review
// queue in Redis and takes the video out of the ranker's pages (its state in Redis). A missing
// engine fails this test (the harness throws, or the processes do not start), never skips it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumArgs, chromiumPath } from "../../../../test/browser.js";
import { createTokens } from "../auth.js";
import { creatorViewerModeratorFlow } from "./e2e-flow.js";
import { makeClip } from "./helpers.js";
import { createScaledHarness, type ScaledHarness } from "./scaled-harness.js";

const TOKEN_SECRET = "e2e-scaled-token-secret-0123456789abcdef";

let root: string;
let clipPath: string;
let harness: ScaledHarness;
let base: string;
let browser: Browser;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-e2e-scaled-"));
  clipPath = join(root, "my-clip.mp4");
  harness = createScaledHarness({ dataDir: join(root, "data"), env: { TOKEN_SECRET } });
  [base] = await Promise.all([harness.startAll(120_000), makeClip(clipPath)]);
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await harness?.cleanup();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
}, 90_000);

describe("reference server in Chromium (scaled mode)", () => {
  it("a creator uploads a clip, a viewer watches and likes it, the studio shows it, a moderator removes it", async () => {
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { mode: string; status: string };
    expect(ready).toMatchObject({ mode: "scaled", status: "ready" });
    await creatorViewerModeratorFlow({
      base,
      browser,
      clipPath,
      tokens: createTokens(TOKEN_SECRET),
      pipelineTimeoutMs: 120_000,
      countsTimeoutMs: 60_000,
    });
    // The transcoder process ran the job (the API runs no worker in scaled mode), and the counts
    // the studio showed were applied by the aggregator process (the API never applies events).
    expect(harness.processes.get("transcoder")?.lines.some((l) => l.includes('"transcode completed"'))).toBe(true);
    expect(harness.processes.get("aggregator")?.lines.some((l) => l.includes('"events applied"'))).toBe(true);
  }, 240_000);
});
