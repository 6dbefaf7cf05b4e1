// <reel-feed> and <reel-player> in real headless Chromium (playwright-core), on HLS ladders made
// by @reelkit/transcode and served from loopback.
import { engagementEventSchema } from "@reelkit/engagement";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromiumArgs, chromiumPath } from "../../../../test/browser.js";
import { type FixtureServer, makeStreams, type Stream, startServer } from "../../test/fixtures.js";

let streams: Stream[];
let browser: Browser;
let server: FixtureServer | undefined;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  streams = await makeStreams();
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await page?.close();
  await server?.close();
  server = undefined;
});

async function open(options: Parameters<typeof startServer>[1] = {}): Promise<FixtureServer> {
  server = await startServer(streams, options);
  page = await browser.newPage({ viewport: { width: 360, height: 640 } });
  consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  // Every reel-error (they bubble out of the shadow roots), from the first moment.
  await page.addInitScript(() => {
    const errors: unknown[] = [];
    (window as unknown as { reelErrors: unknown[] }).reelErrors = errors;
    document.addEventListener("reel-error", (event) => errors.push((event as CustomEvent).detail));
  });
  await page.goto(`${server.base}/`);
  return server;
}

/** State of the feed as the page sees it. */
const feedState = () =>
  page.evaluate(() => {
    const feed = document.querySelector("reel-feed");
    const players = [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])];
    const current = players.find((p) => p.dataset.active !== undefined);
    const video = current?.video;
    return {
      index: feed?.index ?? -1,
      videos: players.flatMap((p) => [...(p.shadowRoot?.querySelectorAll("video") ?? [])]).length,
      allVideos: document.querySelectorAll("video").length,
      liveHls: (window as unknown as { reel: { hlsInstances: { live: number } } }).reel.hlsInstances.live,
      currentTime: video?.currentTime ?? 0,
      paused: video?.paused ?? true,
      currentSrc: current?.src ?? "",
      state: current?.state ?? "",
      activeCount: players.filter((p) => p.dataset.active !== undefined).length,
    };
  });

async function waitForPlayback(index: number, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    (i) => {
      const feed = document.querySelector("reel-feed");
      const current = [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].find(
        (p) => p.dataset.active !== undefined,
      );
      return feed?.index === i && (current?.video?.currentTime ?? 0) > 0.3;
    },
    index,
    { timeout: timeoutMs },
  );
}

/** A vertical drag on the feed, as a finger (mouse pointer events) would do it. */
async function swipeUp(): Promise<void> {
  await page.mouse.move(180, 500);
  await page.mouse.down();
  for (const y of [450, 380, 300, 220]) await page.mouse.move(180, y);
  await page.mouse.up();
}

describe("<reel-feed> in Chromium", () => {
  it("renders the first frame: time advances and the picture is not blank", async () => {
    const fixture = await open();
    await waitForPlayback(0);
    // The first item's files were prefetched while hls.js loaded, and hls.js used those copies:
    // each was requested once.
    const firstItem = fixture.requests.filter((r) => r.path.startsWith("/media/a/")).map((r) => r.path);
    for (const path of ["/media/a/master.m3u8", "/media/a/360p/index.m3u8", "/media/a/360p/seg_000.m4s"])
      expect(firstItem.filter((p) => p === path)).toEqual([path]);
    const first = await feedState();
    await page.waitForTimeout(500);
    const later = await feedState();
    expect(later.currentTime).toBeGreaterThan(first.currentTime);
    expect(later.paused).toBe(false);
    // The frame has content: many distinct colours drawn from the video itself...
    const colours = await page.evaluate(() => {
      const feed = document.querySelector("reel-feed");
      const current = [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].find(
        (p) => p.dataset.active !== undefined,
      );
      const video = current?.video as HTMLVideoElement;
      const canvas = document.createElement("canvas");
      canvas.width = 90;
      canvas.height = 160;
      const context = canvas.getContext("2d") as CanvasRenderingContext2D;
      context.drawImage(video, 0, 0, 90, 160);
      const pixels = context.getImageData(0, 0, 90, 160).data;
      const seen = new Set<number>();
      for (let i = 0; i < pixels.length; i += 4)
        seen.add(((pixels[i] ?? 0) >> 4) * 256 + ((pixels[i + 1] ?? 0) >> 4) * 16 + ((pixels[i + 2] ?? 0) >> 4));
      return seen.size;
    });
    expect(colours).toBeGreaterThan(20);
    // ...and a screenshot of the feed is far richer than one of a blank box of the same size.
    const shot = await page.locator("reel-feed").screenshot();
    await page.evaluate(() => {
      const blank = document.createElement("div");
      blank.id = "blank";
      blank.style.cssText = "position:fixed;inset:0;width:360px;height:640px;background:#000;z-index:9";
      document.body.append(blank);
    });
    const blank = await page.locator("#blank").screenshot();
    expect(shot.length).toBeGreaterThan(blank.length * 5);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it("preloads the next item's playlist and first segment, and a swipe plays it", async () => {
    const fixture = await open();
    await waitForPlayback(0);
    // Item 1 is stream b: its master, a media playlist and a first media segment load before the swipe.
    await page.waitForFunction(() => true);
    const deadline = Date.now() + 10_000;
    const fetched = () => fixture.requests.filter((r) => r.path.startsWith("/media/b/")).map((r) => r.path);
    while (Date.now() < deadline && !fetched().some((p) => /seg_0+\.m4s$/.test(p))) await page.waitForTimeout(100);
    const before = fetched();
    expect(before).toContain("/media/b/master.m3u8");
    expect(before.some((p) => /\/index\.m3u8$/.test(p))).toBe(true);
    expect(before.some((p) => /init.*\.mp4$/.test(p))).toBe(true);
    expect(before.some((p) => /seg_0+\.m4s$/.test(p))).toBe(true);
    // Preloading stops at the first segment: no second segment of item 1 yet.
    expect(before.filter((p) => /seg_0*1\.m4s$/.test(p) && !p.includes("/audio/"))).toEqual([]);

    await swipeUp();
    await waitForPlayback(1);
    const state = await feedState();
    expect(state.currentSrc).toContain("/media/b/");
    expect(state.activeCount).toBe(1);
    // Swipe back with the keyboard.
    await page.locator("reel-feed").focus();
    await page.keyboard.press("ArrowUp");
    await waitForPlayback(0);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it("sends telemetry batches in the shape @reelkit/engagement validates", async () => {
    const fixture = await open();
    await waitForPlayback(0);
    await page.waitForTimeout(1200);
    // Double tap likes (user-id is set on the page).
    await page.mouse.click(180, 320);
    await page.mouse.click(180, 320);
    await page.waitForTimeout(400);
    await page.locator("reel-feed").focus();
    await page.keyboard.press("ArrowDown");
    await waitForPlayback(1);
    await page.keyboard.press("ArrowDown");
    await waitForPlayback(2);
    await page.evaluate(() => document.querySelector("reel-feed")?.telemetry?.flush());
    await expect.poll(() => fixture.batches.flat().length, { timeout: 5000 }).toBeGreaterThan(5);
    const events = fixture.batches.flat();
    for (const event of events) expect(engagementEventSchema.safeParse(event).error).toBeUndefined();
    const typed = events as Array<{ type: string; videoId: string; sessionId: string; watchMs?: number }>;
    expect(new Set(typed.map((e) => e.sessionId)).size).toBe(1);
    const of = (videoId: string) => typed.filter((e) => e.videoId === videoId).map((e) => e.type);
    expect(of("v0")).toEqual(expect.arrayContaining(["impression", "view", "like", "skip"]));
    expect(of("v1")).toEqual(expect.arrayContaining(["impression", "view", "skip"]));
    expect(of("v2")).toEqual(expect.arrayContaining(["impression"]));
    const skip0 = typed.find((e) => e.videoId === "v0" && e.type === "skip");
    expect(skip0?.watchMs).toBeGreaterThan(1000);
    expect(new Set(typed.map((e) => (e as { id?: string }).id)).size).toBe(typed.length);
  }, 60_000);

  it("keeps three video elements and at most three hls.js instances after 100 swipes", async () => {
    await open();
    await waitForPlayback(0);
    await page.locator("reel-feed").focus();
    for (let i = 1; i <= 100; i++) {
      await page.keyboard.press("ArrowDown");
      await page.waitForFunction((n) => document.querySelector("reel-feed")?.index === n, i, { timeout: 10_000 });
      await page.waitForTimeout(40);
    }
    await waitForPlayback(100);
    const state = await feedState();
    expect(state.videos).toBe(3);
    expect(state.allVideos).toBe(0); // none leaked into the light DOM
    expect(state.liveHls).toBeLessThanOrEqual(3);
    expect(state.activeCount).toBe(1);
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it("shows the error state for a broken stream and moves on", async () => {
    await open({ brokenAt: [1] });
    await waitForPlayback(0);
    await page.locator("reel-feed").focus();
    await page.keyboard.press("ArrowDown");
    await page.waitForFunction(() => {
      const feed = document.querySelector("reel-feed");
      return [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].some(
        (p) => p.dataset.state === "error" && p.dataset.active !== undefined,
      );
    });
    const message = await page.evaluate(() => {
      const feed = document.querySelector("reel-feed");
      const broken = [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].find(
        (p) => p.dataset.state === "error",
      );
      const box = broken?.shadowRoot?.querySelector("[part=error]") as HTMLElement;
      return { text: box.textContent, visible: getComputedStyle(box).display !== "none" };
    });
    expect(message.visible).toBe(true);
    expect(message.text).toMatch(/can.t be played/);
    // The feed moves on by itself to item 2.
    await waitForPlayback(2, 10_000);
    const errors = await page.evaluate(() => (window as unknown as { reelErrors: unknown[] }).reelErrors);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors)
      expect(error).toMatchObject({ code: "NETWORK_ERROR", fatal: true, src: "/media/missing-1/master.m3u8" });
    // Apart from the broken item's 404s, nothing went wrong.
    expect(consoleErrors.filter((m) => !m.includes("404"))).toEqual([]);
  }, 60_000);
});
