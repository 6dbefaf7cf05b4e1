// Follows, creator profiles, the creator analytics API and the studio page, over HTTP against a real
// platform (PGlite, engagement with its journal, the feed ranker). Videos are created published
// directly (no transcoding); telemetry goes through POST /events like the player's.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumArgs, chromiumPath } from "../../../../test/browser.js";
import { DAY_MS, isoDay } from "../creator.js";
import type { Platform } from "../platform.js";
import type { ReferenceServer } from "../server.js";
import { bearer, signInAt, startTestServer } from "./helpers.js";

let root: string;
let platform: Platform;
let app: ReferenceServer;
let base: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-creator-"));
  ({ platform, app, base } = await startTestServer(join(root, "data")));
});

afterAll(async () => {
  await app?.close();
  await platform?.close();
  await rm(root, { recursive: true, force: true });
});

const newId = () => randomUUID().replaceAll("-", "");

/** A published video, as the pipeline leaves one: a row, in the catalogue, registered with engagement. */
async function publish(ownerId: string, title: string, durationMs = 10_000, createdAt = Date.now()) {
  const id = newId();
  await platform.db.createVideo({ id, ownerId, title, status: "uploaded" });
  await platform.db.setStatus(id, "published", { durationMs });
  platform.catalog.upsert([{ videoId: id, creatorId: ownerId, createdAt, durationMs }]);
  await platform.engagement.registerVideo({ videoId: id, creatorId: ownerId, durationMs });
  return id;
}

const tokens = new Map<string, string>();
async function signIn(user: string): Promise<string> {
  const token = tokens.get(user) ?? (await signInAt(base, user));
  tokens.set(user, token);
  return token;
}
const call = (method: string, path: string, token?: string) =>
  fetch(`${base}${path}`, { method, headers: token ? bearer(token) : {} });
const json = async <T = Record<string, unknown>>(res: Response | Promise<Response>, status = 200): Promise<T> => {
  const r = await res;
  const body = await r.json();
  expect(r.status, JSON.stringify(body)).toBe(status);
  return body as T;
};
async function sendEvents(events: object[], token?: string) {
  const res = await fetch(`${base}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? bearer(token) : {}) },
    body: JSON.stringify(events),
  });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(202);
  expect(body).toMatchObject({ rejected: [] });
}

interface Analytics {
  from: string;
  to: string;
  totals: Record<string, number>;
  followers: { total: number; gained: number; lost: number };
  days: Array<{ date: string; views: number; watchMs: number; completions: number; likes: number }>;
  followerGrowth: Array<{ date: string; gained: number; lost: number; total: number }>;
  videos: Array<{ id: string; status: string; counts: Record<string, number> }>;
}

const today = () => isoDay(Math.floor(Date.now() / DAY_MS));

describe("follows", () => {
  it("follows and unfollows idempotently, counted on the public profile", async () => {
    const viewer = await signIn("viewer");
    await publish("u-creator-2", "Dee's first");
    const profile = () => json(call("GET", "/creators/u-creator-2"));
    expect(await profile()).toEqual({ id: "u-creator-2", name: "Dee Director", followers: 0, publishedVideos: 1 });

    expect(await json(call("PUT", "/creators/u-creator-2/follow", viewer))).toEqual({
      creatorId: "u-creator-2",
      following: true,
      followers: 1,
    });
    expect(await json(call("PUT", "/creators/u-creator-2/follow", viewer))).toMatchObject({ followers: 1 });
    expect(await profile()).toMatchObject({ followers: 1 });
    expect(await json(call("GET", "/creators/u-creator-2", viewer))).toMatchObject({ followers: 1, following: true });
    await json(call("PUT", "/creators/u-creator-2/follow", await signIn("admin")));
    expect(await profile()).toMatchObject({ followers: 2 });

    expect(await json(call("DELETE", "/creators/u-creator-2/follow", viewer))).toEqual({
      creatorId: "u-creator-2",
      following: false,
      followers: 1,
    });
    expect(await json(call("DELETE", "/creators/u-creator-2/follow", viewer))).toMatchObject({ followers: 1 });
    expect(await json(call("GET", "/creators/u-creator-2", viewer))).toMatchObject({ following: false });
    await json(call("DELETE", "/creators/u-creator-2/follow", await signIn("admin")));
    expect(await profile()).toMatchObject({ followers: 0 });
  });

  it("keeps the ranker in step with the table when a follow and an unfollow race", async () => {
    // The ranker's follow is slowed down so that, unserialised, the unfollow's ranker call would
    // land first and leave the ranker following while the table says not.
    const follow = platform.ranker.follow.bind(platform.ranker);
    const unfollow = platform.ranker.unfollow.bind(platform.ranker);
    const ranker = new Map<string, boolean>();
    platform.ranker.follow = async (user, creator) => {
      await new Promise((r) => setTimeout(r, 40));
      ranker.set(`${user}>${creator}`, true);
      await follow(user, creator);
    };
    platform.ranker.unfollow = async (user, creator) => {
      ranker.set(`${user}>${creator}`, false);
      await unfollow(user, creator);
    };
    try {
      const viewer = await signIn("viewer");
      for (let round = 0; round < 5; round++) {
        const [a, b] = await Promise.all([
          call("PUT", "/creators/u-creator-2/follow", viewer),
          call("DELETE", "/creators/u-creator-2/follow", viewer),
        ]);
        expect([a.status, b.status]).toEqual([200, 200]);
        const table = ((await json(call("GET", "/creators/u-creator-2", viewer))) as { following: boolean }).following;
        expect(ranker.get("u-viewer>u-creator-2")).toBe(table);
      }
    } finally {
      platform.ranker.follow = follow;
      platform.ranker.unfollow = unfollow;
      await call("DELETE", "/creators/u-creator-2/follow", await signIn("viewer"));
    }
  });

  it("refuses following yourself, unknown creators, and anonymous or forged callers", async () => {
    const creator = await signIn("creator");
    expect(await json(call("PUT", "/creators/u-creator/follow", creator), 400)).toMatchObject({
      error: expect.stringMatching(/yourself/),
    });
    await json(call("PUT", "/creators/u-nobody/follow", creator), 404);
    await json(call("PUT", "/creators/u-viewer/follow", creator), 404); // viewers do not publish
    await json(call("DELETE", "/creators/u-nobody/follow", creator), 404);
    await json(call("GET", "/creators/u-nobody"), 404);
    await json(call("PUT", "/creators/u-creator-2/follow"), 401);
    await json(call("PUT", "/creators/u-creator-2/follow", `${creator.split(".")[0]}.forged`), 401);
    await json(call("GET", "/creators/u-creator-2", "not-a-token"), 401);
  });

  it("serves a followed creator's video in the follower's feed, and stops after unfollowing", async () => {
    // Enough newer videos that the "fresh" source (200 candidates) no longer reaches an old clip:
    // only the "following" source can bring it.
    const now = Date.now();
    const filler = Array.from({ length: 230 }, (_, i) => ({
      videoId: `filler-${String(i).padStart(12, "0")}`,
      creatorId: "u-filler",
      createdAt: now - 1000 * i,
      durationMs: 10_000,
    }));
    platform.catalog.upsert(filler);
    const old = await publish("u-creator-2", "Dee's classic", 10_000, now - 90 * DAY_MS);
    const follower = await signIn("u-moderator");
    // Some history, so the follower is not a cold start (whose source samples the whole catalogue).
    await platform.ranker.engage([{ userId: "u-moderator", videoId: "filler-000000000000", type: "like" }]);
    const feed = async () =>
      (await json<{ items: Array<{ id: string }> }>(call("GET", "/feed?limit=50", follower))).items.map((i) => i.id);

    expect(await feed()).not.toContain(old);
    await json(call("PUT", "/creators/u-creator-2/follow", follower));
    expect(await feed()).toContain(old);
    await json(call("DELETE", "/creators/u-creator-2/follow", follower));
    // The ranker cannot unfollow: the server drops what only its following source proposed.
    expect(await feed()).not.toContain(old);
    await json(call("PUT", "/creators/u-creator-2/follow", follower));
    expect(await feed()).toContain(old);
  });
});

describe("creator analytics", () => {
  let videoId = "";

  it("shows telemetry sent to POST /events at once: views per day, watch time, completion, likes, retention", async () => {
    videoId = await publish("u-creator", "Cai's clip", 10_000);
    const second = await publish("u-creator", "Cai's other clip", 20_000);
    const viewer = await signIn("viewer");
    const ts = Date.now();
    const event = (sessionId: string, type: string, extra: object = {}) => ({
      id: randomUUID(),
      type,
      videoId,
      sessionId,
      ts,
      ...extra,
    });
    // A signed-in viewer watches 40 % and likes it; an anonymous one watches it all.
    await sendEvents(
      [
        event("s-1", "impression"),
        event("s-1", "view"),
        event("s-1", "watch", { watchMs: 4000, positionMs: 4000, durationMs: 10_000 }),
        event("s-1", "like", { userId: "u-viewer" }),
      ],
      viewer,
    );
    await sendEvents([
      event("s-2", "impression"),
      event("s-2", "view"),
      event("s-2", "watch", { watchMs: 6000, positionMs: 6000, durationMs: 10_000 }),
      event("s-2", "complete", { watchMs: 4000, positionMs: 10_000, durationMs: 10_000 }),
    ]);

    const creator = await signIn("creator");
    const a = await json<Analytics>(call("GET", "/me/analytics", creator));
    expect(a.to).toBe(today());
    expect(a.days).toHaveLength(28);
    expect(a.days[0]?.date).toBe(a.from);
    expect(a.totals).toMatchObject({
      views: 2,
      impressions: 2,
      completions: 1,
      completionRate: 0.5,
      watchMs: 14_000,
      averageWatchMs: 7000,
      likes: 1,
      shares: 0,
    });
    expect(a.totals).not.toHaveProperty("comments");
    expect(a.days.at(-1)).toMatchObject({ date: today(), views: 2, watchMs: 14_000, completions: 1, likes: 1 });
    expect(a.days.slice(0, -1).every((d) => d.views === 0)).toBe(true);
    const mine = new Map(a.videos.map((v) => [v.id, v]));
    expect(mine.get(videoId)).toMatchObject({
      status: "published",
      counts: { views: 2, uniqueViewers: 2, likes: 1, completionRate: 0.5, watchMs: 14_000 },
    });
    expect(mine.get(second)?.counts).toMatchObject({ views: 0 });

    const curve = await json<{ viewers: number; points: Array<{ percent: number; share: number }> }>(
      call("GET", `/me/videos/${videoId}/retention`, creator),
    );
    expect(curve.viewers).toBe(2);
    expect(curve.points).toHaveLength(21);
    const share = (percent: number) => curve.points.find((p) => p.percent === percent)?.share;
    expect(share(0)).toBe(1);
    expect(share(40)).toBe(1); // both reached 40 %
    expect(share(45)).toBe(0.5); // one stopped there
    expect(share(100)).toBe(0.5);

    // More telemetry shows on the next read, with no batch to wait for.
    await sendEvents([
      event("s-3", "watch", { watchMs: 3000, positionMs: 3000, durationMs: 10_000 }),
      event("s-3", "share"),
    ]);
    const b = await json<Analytics>(call("GET", "/me/analytics", creator));
    expect(b.totals).toMatchObject({ views: 3, shares: 1, watchMs: 17_000 });
  });

  it("computes follower growth per day: gained, lost, total", async () => {
    const day = Math.floor(Date.now() / DAY_MS);
    // History from earlier days, written as the follow routes would have.
    await platform.db.sql.query(
      "insert into creator_follows (follower_id, creator_id, followed_at, unfollowed_at) values ($1, 'u-creator', $2, $3), ($4, 'u-creator', $5, null), ($6, 'u-creator', $7, null)",
      [
        "u-old-1",
        (day - 40) * DAY_MS, // before the range: counted in the starting total
        (day - 3) * DAY_MS + 5000, // lost three days ago
        "u-old-2",
        (day - 5) * DAY_MS + 1000,
        "u-old-3",
        (day - 3) * DAY_MS + 9000,
      ],
    );
    for (const user of ["viewer", "admin", "u-creator-2"])
      await json(call("PUT", "/creators/u-creator/follow", await signIn(user)));
    await json(call("DELETE", "/creators/u-creator/follow", await signIn("admin")));

    const a = await json<Analytics>(call("GET", "/me/analytics", await signIn("creator")));
    const growth = new Map(a.followerGrowth.map((d) => [d.date, d]));
    expect(a.followerGrowth).toHaveLength(28);
    expect(a.followerGrowth[0]).toMatchObject({ gained: 0, lost: 0, total: 1 });
    expect(growth.get(isoDay(day - 5))).toMatchObject({ gained: 1, lost: 0, total: 2 });
    expect(growth.get(isoDay(day - 3))).toMatchObject({ gained: 1, lost: 1, total: 2 });
    expect(growth.get(isoDay(day))).toMatchObject({ gained: 3, lost: 1, total: 4 });
    expect(a.followers).toEqual({ total: 4, gained: 5, lost: 2 });
    expect(await json(call("GET", "/creators/u-creator"))).toMatchObject({ followers: 4, publishedVideos: 2 });

    // A past range ends with that day's total.
    const past = await json<Analytics>(
      call("GET", `/me/analytics?from=${isoDay(day - 6)}&to=${isoDay(day - 4)}`, await signIn("creator")),
    );
    expect(past.followerGrowth.map((d) => d.total)).toEqual([1, 2, 2]);
    expect(past.followers).toEqual({ total: 2, gained: 1, lost: 0 });
    expect(past.days.map((d) => d.views)).toEqual([0, 0, 0]);
  });

  it("keeps retention to the video's owner", async () => {
    const path = `/me/videos/${videoId}/retention`;
    await json(call("GET", path, await signIn("u-creator-2")), 404);
    await json(call("GET", path, await signIn("viewer")), 403);
    await json(call("GET", path), 401);
    await json(call("GET", `/me/videos/${newId()}/retention`, await signIn("creator")), 404);
    await json(call("GET", "/me/videos/not%20an%20id/retention", await signIn("creator")), 400);
  });

  it("refuses anonymous, forged and under-privileged callers, and malformed ranges", async () => {
    const creator = await signIn("creator");
    await json(call("GET", "/me/analytics"), 401);
    await json(call("GET", "/me/analytics", `${creator.split(".")[0]}.forged`), 401);
    await json(call("GET", "/me/analytics", await signIn("viewer")), 403);
    for (const query of [
      "from=yesterday",
      "from=2026-13-01",
      "from=2026-02-30",
      "to=2026-1-5",
      "from=2026-03-02&to=2026-03-01",
      "from=2024-01-01&to=2026-01-01",
      "from=2026-01-01&days=3",
    ]) {
      const body = await json<{ error: string }>(call("GET", `/me/analytics?${query}`, creator), 400);
      expect(body.error).toMatch(/invalid query/);
    }
    const custom = await json<Analytics>(call("GET", "/me/analytics?from=2026-03-01&to=2026-03-01", creator));
    expect(custom).toMatchObject({ from: "2026-03-01", to: "2026-03-01" });
    expect(custom.days).toHaveLength(1);
  });

  it("documents the routes and their schemas in /openapi.json", async () => {
    const doc = await json<{ paths: Record<string, Record<string, { parameters: Array<{ name: string }> }>> }>(
      call("GET", "/openapi.json"),
    );
    expect(doc.paths["/me/analytics"]?.get?.parameters.map((p) => p.name)).toEqual(["from", "to"]);
    const text = JSON.stringify(doc);
    for (const id of ["CreatorAnalytics", "FollowerDay", "Retention", "CreatorProfile", "FollowState"])
      expect(text).toContain(id);
    expect(Object.keys(doc.paths["/creators/{id}/follow"] ?? {})).toEqual(["put", "delete"]);
    expect(doc.paths["/me/videos/{id}/retention"]).toBeDefined();
  });
});

describe("studio page", () => {
  it("renders the dashboard's containers for anyone", async () => {
    const res = await fetch(`${base}/studio`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    for (const id of ["tiles", "views-chart", "followers-chart", "retention-chart", "retention-video", "videos"])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('href="/studio"');
    expect(html).toContain("/me/analytics");
  });

  describe("in Chromium", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: chromiumArgs });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it("signs in as the demo creator and draws the charts from the data", async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      page.on("console", (message) => {
        // The browser's own favicon request is not the page's doing.
        if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico"))
          errors.push(`${message.text()} ${message.location().url}`);
      });
      await page.goto(`${base}/studio`);
      await page.waitForSelector("body[data-ready]");
      expect(await page.textContent("#studio-status")).toMatch(/^Showing/);
      expect(await page.textContent("#who")).toContain("Cai Creator");
      // Tiles: three views (two of the first clip, one of the third session), four followers.
      const tiles = await page.$$eval("#tiles .tile", (list) => list.map((t) => t.textContent ?? ""));
      expect(tiles.find((t) => t.startsWith("Views"))).toMatch(/^Views3/);
      expect(tiles.find((t) => t.startsWith("Followers"))).toMatch(/^Followers4/);
      // Views: one bar per day, today's holding the views; its accessible summary says so.
      const views = await page.$eval("#views-chart svg", (svg) => ({
        role: svg.getAttribute("role"),
        label: svg.getAttribute("aria-label") ?? "",
        bars: [...svg.querySelectorAll("g[data-series=Views] rect.bar")].map((r) =>
          Number(r.getAttribute("data-value")),
        ),
        title: svg.querySelector("title")?.textContent,
      }));
      expect(views.role).toBe("img");
      expect(views.label).toContain("3 views over 28 days");
      expect(views.bars).toHaveLength(28);
      expect(views.bars.at(-1)).toBe(3);
      expect(views.title).toMatch(/^Views per day/);
      // Follower growth: the total line ends at 4; the data table has a row per day.
      const totals = await page.$$eval("#followers-chart g[data-series=Total] circle", (dots) =>
        dots.map((d) => Number(d.getAttribute("data-value"))),
      );
      expect(totals.at(-1)).toBe(4);
      expect(await page.$$eval("#followers-chart details tbody tr", (rows) => rows.length)).toBe(28);
      // Retention of the selected video: 21 points, the curve from the telemetry.
      await page.selectOption(
        "#retention-video",
        videoIdOf(await page.$$eval("#videos tbody tr", rowsOf), "Cai's clip"),
      );
      await page.waitForFunction(() =>
        document.querySelector("#retention-chart svg")?.getAttribute("aria-label")?.includes("Cai's clip"),
      );
      const shares = await page.$$eval("#retention-chart circle.point", (dots) =>
        dots.map((d) => Number(d.getAttribute("data-value"))),
      );
      expect(shares).toHaveLength(21);
      expect(shares[0]).toBe(1);
      expect(shares[20]).toBeCloseTo(1 / 3);
      // The videos table lists both clips with their status.
      const rows = await page.$$eval("#videos tbody tr", rowsOf);
      expect(rows.map((r) => r.cells[1])).toEqual(["published", "published"]);
      expect(errors).toEqual([]);
      await page.close();
    });
  });
});

function rowsOf(rows: Element[]) {
  return rows.map((row) => ({
    id: row.getAttribute("data-video-id") ?? "",
    cells: [...row.querySelectorAll("td")].map((td) => td.textContent ?? ""),
  }));
}
const videoIdOf = (rows: Array<{ id: string; cells: string[] }>, title: string) =>
  rows.find((r) => r.cells[0] === title)?.id ?? "";
