import type {} from "@reelkit/player"; // the <reel-feed> element type in page.evaluate
import type { Browser } from "playwright-core";
import { expect } from "vitest";
import type { Tokens } from "../auth.js";

export interface FlowOptions {
  /** The server's URL (no trailing slash). */
  base: string;
  browser: Browser;
  /** The clip the creator uploads. */
  clipPath: string;
  /** Tokens signed with the server's TOKEN_SECRET (fresh viewers for the feed checks). */
  tokens: Tokens;
  /** How long the upload page may wait for `published` (transcode and moderation). */
  pipelineTimeoutMs: number;
  /** How long the video's counts may take to show the view and the like (eventually consistent in scaled mode). */
  countsTimeoutMs: number;
}

export async function creatorViewerModeratorFlow({
  base,
  browser,
  clipPath,
  tokens,
  pipelineTimeoutMs,
  countsTimeoutMs,
}: FlowOptions): Promise<void> {
  const errors: string[] = [];
  const creator = await browser.newPage();
  creator.on("pageerror", (error) => errors.push(String(error)));
  await creator.goto(`${base}/upload`);
  await creator.waitForSelector("body[data-ready]");
  await creator.click("#sign-in");
  await creator.waitForSelector("#who:has-text('Cai Creator')");
  await creator.waitForSelector("body[data-ready]");
  await creator.fill("#title", "Hello from the e2e test");
  await creator.setInputFiles("#file", clipPath);
  await creator.click("#send");
  await creator.waitForSelector("#status[data-state=published]", { timeout: pipelineTimeoutMs });
  const videos = await creator.evaluate(async () => {
    const res = await fetch("/me/videos", {
      headers: { Authorization: `Bearer ${localStorage.getItem("reelkit:token")}` },
    });
    return ((await res.json()) as { videos: Array<{ id: string; title: string; status: string }> }).videos;
  });
  expect(videos).toEqual([expect.objectContaining({ title: "Hello from the e2e test", status: "published" })]);
  const videoId = videos[0]?.id ?? "";
  await creator.close();

  const viewer = await browser.newPage({ viewport: { width: 400, height: 800 } });
  viewer.on("pageerror", (error) => errors.push(String(error)));
  await viewer.goto(`${base}/`);
  await viewer.evaluate(async () => {
    const res = await fetch("/auth/sign-in", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "viewer" }),
    });
    const body = (await res.json()) as { token: string; user: unknown };
    localStorage.setItem("reelkit:token", body.token);
    localStorage.setItem("reelkit:user", JSON.stringify(body.user));
  });
  await viewer.reload();
  // The clip plays in the feed.
  await viewer.waitForFunction(
    (id) => {
      const feed = document.querySelector("reel-feed");
      const current = [...(feed?.shadowRoot?.querySelectorAll("reel-player") ?? [])].find(
        (p) => p.dataset.active !== undefined,
      );
      return feed?.current?.id === id && (current?.video?.currentTime ?? 0) > 3.2;
    },
    videoId,
    { timeout: 30_000 },
  );
  // Double tap likes it; then the telemetry is sent.
  await viewer.mouse.click(200, 400);
  await viewer.mouse.click(200, 400);
  await viewer.waitForTimeout(400);
  await viewer.evaluate(() => document.querySelector("reel-feed")?.telemetry?.flush());
  await expect
    .poll(
      async () => {
        const res = await fetch(`${base}/videos/${videoId}`);
        return ((await res.json()) as { counts: { views: number; likes: number } }).counts;
      },
      { timeout: countsTimeoutMs, interval: 500 },
    )
    .toMatchObject({ views: 1, likes: 1 });

  // The creator's studio (it signs in as the demo creator) shows the view, the like and the curve.
  const studio = await browser.newPage();
  studio.on("pageerror", (error) => errors.push(String(error)));
  await studio.goto(`${base}/studio`);
  await studio.waitForFunction(() => (document.querySelectorAll("#tiles .tile").length ?? 0) > 0, undefined, {
    timeout: 15_000,
  });
  const tiles = await studio.$$eval("#tiles .tile", (items) =>
    Object.fromEntries(
      items.map((li) => [li.querySelector(".label")?.textContent, li.querySelector(".value")?.textContent]),
    ),
  );
  expect(tiles).toMatchObject({ Views: "1", Likes: "1" });
  await studio.waitForSelector("#retention-chart svg[data-points]", { timeout: 15_000 });
  const retention = await studio.$$eval("#retention-chart svg .point", (points) =>
    points.map((p) => Number(p.getAttribute("data-value"))),
  );
  expect(retention.length).toBeGreaterThanOrEqual(10);
  expect(retention[0]).toBeGreaterThan(0); // the viewer started it
  expect(await studio.$eval("#videos", (table) => table.textContent)).toContain("Hello from the e2e test");
  await studio.close();

  // A moderator removes it from the dashboard: it leaves the anonymous and the personalised feeds.
  // A signed-in user who has not seen it yet each time (seen and served videos are filtered anyway).
  const inFeeds = async (userId: string) => {
    const anonymous = (await (await fetch(`${base}/feed?limit=50`)).json()) as { items: Array<{ id: string }> };
    const token = tokens.issue({ id: userId, name: userId, role: "viewer" });
    const ranked = (await (
      await fetch(`${base}/feed?limit=50`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { items: Array<{ id: string }> };
    return {
      anonymous: anonymous.items.some((i) => i.id === videoId),
      ranked: ranked.items.some((i) => i.id === videoId),
    };
  };
  expect(await inFeeds("u-fresh-1")).toEqual({ anonymous: true, ranked: true });
  const moderator = await browser.newPage();
  moderator.on("pageerror", (error) => errors.push(String(error)));
  await moderator.goto(`${base}/moderate`);
  await moderator.waitForSelector("body[data-ready]");
  await moderator.waitForSelector("#who:has-text('Mo Moderator')");
  await moderator.fill("#direct-id", videoId);
  await moderator.selectOption("#direct-action", "remove");
  await moderator.click("#direct button[type=submit]");
  await moderator.waitForFunction(
    (id) => document.querySelector("#audit tbody")?.textContent?.includes(id) ?? false,
    videoId,
    { timeout: 15_000 },
  );
  await moderator.close();
  expect(await inFeeds("u-fresh-2")).toEqual({ anonymous: false, ranked: false });
  expect((await fetch(`${base}/media/${videoId}/master.m3u8`)).status).toBe(404);
  expect((await fetch(`${base}/videos/${videoId}`)).status).toBe(404);
  expect(errors).toEqual([]);
}
