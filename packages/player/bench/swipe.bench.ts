// Swipe to first frame in headless Chromium on an emulated 100 ms / 9 Mbit/s network (CDP):
// our <reel-feed> (next item preloaded by a recycled player) against plain hls.js with its
// defaults and nothing loaded before the swipe — the same page server, the same 3-rung
// 720x1280 streams made by @reelkit/transcode. Also the first video after page load.
//
//   npm run bench -- player            (BENCH_SWIPES=15 BENCH_LOADS=5 by default)
import { type Browser, chromium, type Page } from "playwright-core";
import { chromiumArgs, chromiumPath } from "../../../test/browser.js";
import { feedPage, makeStreams, startServer } from "../test/fixtures.js";

const SWIPES = Number(process.env.BENCH_SWIPES ?? 15);
const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const DWELL_MS = Number(process.env.BENCH_DWELL_MS ?? 3000);
const NETWORK = { offline: false, latency: 100, downloadThroughput: 9e6 / 8, uploadThroughput: 9e6 / 8 };

const plainPage = `<!doctype html><html><head><meta charset="utf-8"><title>plain hls.js</title>
<script type="importmap">{"imports":{"hls.js":"/hls.mjs"}}</script>
<style>body{margin:0;background:#111}video{width:360px;height:640px;object-fit:cover}</style></head>
<body><div id="stage"></div><script type="module">
import Hls from "hls.js";
let hls, video, n = 0;
const srcOf = (i) => "/media/" + "abc"[i % 3] + "/master.m3u8?item=plain" + i;
// Plain hls.js as its docs show it: a new instance per video, defaults, play once parsed.
window.play = () => new Promise((resolve) => {
  const started = performance.now();
  hls?.destroy();
  video?.remove();
  video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  document.getElementById("stage").append(video);
  hls = new Hls();
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.loadSource(srcOf(n++));
  // presentationTime: when the frame went to the compositor (as <reel-player> measures it).
  video.requestVideoFrameCallback((_now, frame) => resolve({ sinceRequest: frame.presentationTime - started, sinceNavigation: frame.presentationTime }));
});
window.first = window.play();
</script></body></html>`;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const median = (values: number[]) => quantile(values, 0.5);

async function openPage(browser: Browser, url: string, ours: boolean): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", NETWORK);
  if (ours)
    await page.addInitScript(() => {
      const w = window as unknown as { firstFrames: number[] };
      w.firstFrames = [];
      document.addEventListener("reel-first-frame", (event) =>
        w.firstFrames.push((event as CustomEvent<{ presentedAt: number }>).detail.presentedAt),
      );
    });
  await page.goto(url);
  return page;
}

async function main() {
  const streams = await makeStreams();
  // Like the plain page (which names its first stream in its HTML), ours gets its first feed page
  // rendered into the HTML, as a server-rendered app would do.
  const server = await startServer(streams, {
    page: feedPage(),
    inlineFirstPage: true,
    pages: { "/plain": plainPage },
  });
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
  const results = {
    ours: { load: [] as number[], swipe: [] as number[] },
    plain: { load: [] as number[], swipe: [] as number[] },
  };
  let videos = 0;
  try {
    for (let i = 0; i < LOADS; i++) {
      // First video after page load: navigation start to first presented frame.
      const plain = await openPage(browser, `${server.base}/plain`, false);
      const first = await plain.evaluate(
        () => (window as unknown as { first: Promise<{ sinceNavigation: number }> }).first,
      );
      results.plain.load.push(first.sinceNavigation);
      await plain.close();
      const ours = await openPage(browser, `${server.base}/`, true);
      await ours.waitForFunction(() => (window as unknown as { firstFrames: number[] }).firstFrames.length > 0, null, {
        timeout: 30_000,
      });
      results.ours.load.push(
        await ours.evaluate(() => (window as unknown as { firstFrames: number[] }).firstFrames[0] ?? 0),
      );
      await ours.close();
      process.stderr.write(
        `load ${i + 1}/${LOADS}: plain ${results.plain.load.at(-1)?.toFixed(0)} ms, ours ${results.ours.load.at(-1)?.toFixed(0)} ms\n`,
      );
    }

    const plain = await openPage(browser, `${server.base}/plain`, false);
    await plain.evaluate(() => (window as unknown as { first: Promise<unknown> }).first);
    for (let i = 0; i < SWIPES; i++) {
      await plain.waitForTimeout(DWELL_MS);
      const { sinceRequest } = await plain.evaluate(() =>
        (window as unknown as { play(): Promise<{ sinceRequest: number }> }).play(),
      );
      results.plain.swipe.push(sinceRequest);
    }
    await plain.close();

    const ours = await openPage(browser, `${server.base}/`, true);
    await ours.waitForFunction(() => (window as unknown as { firstFrames: number[] }).firstFrames.length > 0, null, {
      timeout: 30_000,
    });
    for (let i = 0; i < SWIPES; i++) {
      await ours.waitForTimeout(DWELL_MS);
      const elapsed = await ours.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const feed = document.querySelector("reel-feed");
            const started = performance.now();
            document.addEventListener(
              "reel-first-frame",
              (event) => resolve((event as CustomEvent<{ presentedAt: number }>).detail.presentedAt - started),
              { once: true },
            );
            feed?.next();
          }),
      );
      results.ours.swipe.push(elapsed);
    }
    videos = await ours.evaluate(() => {
      const feed = document.querySelector("reel-feed");
      return [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].filter((p) =>
        p.shadowRoot?.querySelector("video"),
      ).length;
    });
    await ours.close();
  } finally {
    await browser.close();
    await server.close();
  }

  const row = (label: string, values: number[]) =>
    `${label.padEnd(34)} median ${median(values).toFixed(0).padStart(5)} ms   p95 ${quantile(values, 0.95).toFixed(0).padStart(5)} ms   (n=${values.length})`;
  process.stderr.write(
    `\nnetwork: 100 ms RTT, 9 Mbit/s; streams 720x1280, 3 rungs, 2 s segments; dwell ${DWELL_MS} ms\n` +
      `${row("swipe -> first frame, reel-feed", results.ours.swipe)}\n` +
      `${row("swipe -> first frame, plain hls.js", results.plain.swipe)}\n` +
      `${row("page load -> first frame, reel-feed", results.ours.load)}\n` +
      `${row("page load -> first frame, plain", results.plain.load)}\n` +
      `video elements in the feed: ${videos}\n`,
  );
  console.log(
    JSON.stringify({
      results: [
        {
          name: "swipe to first frame (median)",
          unit: "ms",
          ours: median(results.ours.swipe),
          peer: "hls.js defaults, no preload",
          peerValue: median(results.plain.swipe),
        },
        {
          name: "swipe to first frame (p95)",
          unit: "ms",
          ours: quantile(results.ours.swipe, 0.95),
          peer: "hls.js defaults, no preload",
          peerValue: quantile(results.plain.swipe, 0.95),
        },
        {
          name: "first video after page load (median)",
          unit: "ms",
          ours: median(results.ours.load),
          peer: "hls.js defaults",
          peerValue: median(results.plain.load),
        },
      ],
    }),
  );
}

await main();
