// Follows, public creator profiles, the creator analytics API and the creator dashboard page.
import type { VideoCounts } from "@reelkit/engagement";
import { z } from "zod";
import type { User } from "../auth.js";
import { creatorsOf, DAY_MS, dayOfIso, isoDay } from "../creator.js";
import { videoStatuses } from "../db.js";
import { HttpError, sendJson, sendText } from "../http.js";
import { studioPage } from "../pages/studio.js";
import { type RouteModule, route } from "../routes.js";
import { videoIdSchema } from "./videos.js";

/** Longest range /me/analytics answers, in days. */
export const MAX_ANALYTICS_DAYS = 366;
/** The default range: the last 28 UTC days, today included. */
export const DEFAULT_ANALYTICS_DAYS = 28;
/** Follow and unfollow requests per user and minute. */
export const FOLLOWS_PER_MINUTE = 60;

const creatorParams = z.object({ id: z.string().min(1).max(128) });
const videoParams = z.object({ id: videoIdSchema });

const isoDate = z
  .string()
  .refine((text) => dayOfIso(text) !== undefined, "a UTC date YYYY-MM-DD")
  .meta({ description: "A UTC day, YYYY-MM-DD (inclusive)", example: "2026-01-31" });

const analyticsQuery = z
  .strictObject({
    from: isoDate.optional().meta({ description: "First UTC day (YYYY-MM-DD); default: 27 days before `to`" }),
    to: isoDate.optional().meta({ description: "Last UTC day (YYYY-MM-DD), inclusive; default: today" }),
  })
  .transform((q, ctx) => {
    const toDay = q.to !== undefined ? (dayOfIso(q.to) as number) : Math.floor(Date.now() / DAY_MS);
    const fromDay = q.from !== undefined ? (dayOfIso(q.from) as number) : toDay - (DEFAULT_ANALYTICS_DAYS - 1);
    if (fromDay > toDay) {
      ctx.addIssue({ code: "custom", message: "from must not be after to", path: ["from"] });
      return z.NEVER;
    }
    if (toDay - fromDay + 1 > MAX_ANALYTICS_DAYS) {
      ctx.addIssue({ code: "custom", message: `a range spans at most ${MAX_ANALYTICS_DAYS} days`, path: ["from"] });
      return z.NEVER;
    }
    return { fromDay, toDay };
  });

const profileSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    followers: z.number().int(),
    publishedVideos: z.number().int().meta({ description: "Published or limited videos" }),
    following: z.boolean().optional().meta({ description: "Whether the signed-in user follows (signed in only)" }),
  })
  .meta({ id: "CreatorProfile" });
const followStateSchema = z
  .object({ creatorId: z.string(), following: z.boolean(), followers: z.number().int() })
  .meta({ id: "FollowState" });

const dayFields = ["impressions", "views", "completions", "likes", "shares", "watchMs"] as const;
const viewsDaySchema = z
  .object({
    date: z.string(),
    impressions: z.number(),
    views: z.number(),
    completions: z.number(),
    likes: z.number(),
    shares: z.number(),
    watchMs: z.number(),
  })
  .meta({ id: "CreatorDay" });
const followerDaySchema = z
  .object({
    date: z.string(),
    gained: z.number().int(),
    lost: z.number().int(),
    total: z.number().int().meta({ description: "Followers at the end of the day" }),
  })
  .meta({ id: "FollowerDay" });
const videoCountsSchema = z
  .object({
    impressions: z.number(),
    views: z.number(),
    uniqueViewers: z.number().meta({ description: "HyperLogLog estimate, about 0.8 % standard error" }),
    watchMs: z.number(),
    averageWatchMs: z.number(),
    completions: z.number(),
    completionRate: z.number(),
    likes: z.number(),
    shares: z.number(),
    skips: z.number(),
  })
  .meta({ id: "VideoCounts", description: "Lifetime counts of one video" });
const analyticsSchema = z
  .object({
    creatorId: z.string(),
    from: z.string(),
    to: z.string(),
    totals: z.object({
      impressions: z.number(),
      views: z.number(),
      watchMs: z.number(),
      averageWatchMs: z.number(),
      completions: z.number(),
      completionRate: z.number().meta({ description: "completions / views" }),
      likes: z.number(),
      shares: z.number(),
    }),
    followers: z.object({
      total: z.number().int().meta({ description: "At the end of `to`" }),
      gained: z.number().int(),
      lost: z.number().int(),
    }),
    days: z.array(viewsDaySchema).meta({ description: "Every UTC day of the range, oldest first" }),
    followerGrowth: z.array(followerDaySchema),
    videos: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        status: z.enum(videoStatuses),
        durationMs: z.number().nullable(),
        createdAt: z.number(),
        publishedAt: z.number().nullable(),
        counts: videoCountsSchema,
      }),
    ),
  })
  .meta({ id: "CreatorAnalytics" });
const retentionSchema = z
  .object({
    videoId: z.string(),
    title: z.string(),
    durationMs: z.number().nullable(),
    viewers: z.number().int().meta({ description: "Viewers who started playback" }),
    points: z
      .array(z.object({ percent: z.number(), share: z.number() }))
      .meta({ description: "Share of viewers still watching at every 5 % of the duration" }),
  })
  .meta({ id: "Retention" });

const pickCounts = (c: VideoCounts | undefined) => ({
  impressions: c?.impressions ?? 0,
  views: c?.views ?? 0,
  uniqueViewers: c?.uniqueViewers ?? 0,
  watchMs: c?.watchMs ?? 0,
  averageWatchMs: c?.averageWatchMs ?? 0,
  completions: c?.completions ?? 0,
  completionRate: c?.completionRate ?? 0,
  likes: c?.likes ?? 0,
  shares: c?.shares ?? 0,
  skips: c?.skips ?? 0,
});

export const creatorRoutes: RouteModule = (app) => {
  // Create the follows table and give the ranker its follows back as soon as the server exists.
  if (app.platform !== undefined) creatorsOf(app.platform);
  const allowFollow = app.limiter("follows", FOLLOWS_PER_MINUTE);
  const followRoute = (method: "PUT" | "DELETE") =>
    route({
      method,
      path: "/creators/{id}/follow",
      tag: "creators",
      access: "viewer",
      summary:
        method === "PUT"
          ? "Follow a creator (idempotent): their videos enter your personalised feed's following source."
          : "Stop following a creator (idempotent).",
      params: creatorParams,
      responses: {
        200: { description: "The follow state after the call", schema: followStateSchema },
        400: { description: "Following yourself" },
        404: { description: "No such creator" },
        429: { description: "Rate limited" },
      },
      async handler({ res, params, user, platform }) {
        const me = user as User;
        if (!(await allowFollow(me.id))) throw new HttpError(429, "too many follow requests", { "retry-after": "5" });
        if (params.id === me.id) throw new HttpError(400, "you cannot follow yourself");
        const creators = creatorsOf(platform);
        if ((await creators.creator(params.id)) === undefined) throw new HttpError(404, "no such creator");
        if (method === "PUT") await creators.follow(me.id, params.id);
        else await creators.unfollow(me.id, params.id);
        sendJson(res, 200, {
          creatorId: params.id,
          following: method === "PUT",
          followers: await creators.followers(params.id),
        });
      },
    });
  return [
    route({
      method: ["GET", "HEAD"],
      path: "/creators/{id}",
      tag: "creators",
      access: "optional",
      summary: "A creator's public profile: name, followers, published videos (and whether you follow, signed in).",
      params: creatorParams,
      responses: {
        200: { description: "The profile", schema: profileSchema },
        404: { description: "No such creator" },
      },
      async handler({ res, params, user, platform }) {
        const creators = creatorsOf(platform);
        const profile = await creators.profile(params.id);
        if (profile === undefined) throw new HttpError(404, "no such creator");
        const following = user !== undefined ? { following: await creators.isFollowing(user.id, params.id) } : {};
        sendJson(res, 200, { ...profile, ...following });
      },
    }),
    followRoute("PUT"),
    followRoute("DELETE"),
    route({
      method: "GET",
      path: "/me/analytics",
      tag: "creators",
      access: "creator",
      summary:
        "The signed-in creator's analytics over UTC days (default: the last 28): totals, views per day, follower growth, every video with its lifetime counts.",
      query: analyticsQuery,
      responses: { 200: { description: "Analytics", schema: analyticsSchema } },
      async handler({ res, query, user, platform }) {
        const me = user as User;
        const { fromDay, toDay } = query;
        const range = { from: fromDay * DAY_MS, to: (toDay + 1) * DAY_MS - 1 };
        const videos = await platform.db.byOwner(me.id);
        let stats = await platform.engagement.creatorStats(me.id, range);
        // Published videos engagement does not link to this creator (a crash between publishing and
        // registering): register them now, so their days count.
        const known = new Set(stats.videos);
        const missing = videos.filter((v) => (v.status === "published" || v.status === "limited") && !known.has(v.id));
        if (missing.length > 0) {
          for (const v of missing)
            await platform.engagement.registerVideo({
              videoId: v.id,
              creatorId: me.id,
              ...(v.durationMs ? { durationMs: v.durationMs } : {}),
            });
          stats = await platform.engagement.creatorStats(me.id, range);
        }
        const [counts, followerGrowth] = await Promise.all([
          videos.length > 0 ? platform.engagement.counts(videos.map((v) => v.id)) : {},
          creatorsOf(platform).growth(me.id, fromDay, toDay),
        ]);
        const byDate = new Map(stats.days.map((d) => [d.date, d]));
        const days = [];
        for (let day = fromDay; day <= toDay; day++) {
          const date = isoDay(day);
          const d = byDate.get(date);
          days.push({ date, ...Object.fromEntries(dayFields.map((f) => [f, d?.[f] ?? 0])) });
        }
        const t = stats.totals;
        sendJson(res, 200, {
          creatorId: me.id,
          from: isoDay(fromDay),
          to: isoDay(toDay),
          totals: {
            impressions: t.impressions,
            views: t.views,
            watchMs: t.watchMs,
            averageWatchMs: t.averageWatchMs,
            completions: t.completions,
            completionRate: t.completionRate,
            likes: t.likes,
            shares: t.shares,
          },
          followers: {
            total: followerGrowth.at(-1)?.total ?? 0,
            gained: followerGrowth.reduce((sum, d) => sum + d.gained, 0),
            lost: followerGrowth.reduce((sum, d) => sum + d.lost, 0),
          },
          days,
          followerGrowth,
          videos: videos.map((v) => ({
            id: v.id,
            title: v.title,
            status: v.status,
            durationMs: v.durationMs,
            createdAt: v.createdAt,
            publishedAt: v.publishedAt,
            counts: pickCounts((counts as Record<string, VideoCounts>)[v.id]),
          })),
        });
      },
    }),
    route({
      method: "GET",
      path: "/me/videos/{id}/retention",
      tag: "creators",
      access: "creator",
      summary: "The retention curve of one of your videos: the share of viewers still watching at every 5 %.",
      params: videoParams,
      responses: {
        200: { description: "The curve", schema: retentionSchema },
        404: { description: "Not your video" },
      },
      async handler({ res, params, user, platform }) {
        const video = await creatorsOf(platform).ownVideo((user as User).id, params.id);
        if (video === undefined) throw new HttpError(404, "no such video");
        const curve = await platform.engagement.retention(video.id);
        sendJson(res, 200, {
          videoId: video.id,
          title: video.title,
          durationMs: video.durationMs,
          viewers: curve.viewers,
          points: curve.points,
        });
      },
    }),
    route({
      method: ["GET", "HEAD"],
      path: "/studio",
      tag: "pages",
      summary: "The creator dashboard: summary tiles, views, follower growth and retention charts, your videos.",
      platform: false,
      responses: { 200: { description: "HTML", type: "text/html; charset=utf-8" } },
      handler: ({ res }) =>
        sendText(res, 200, "text/html; charset=utf-8", studioPage(), { "cache-control": "no-store" }),
    }),
  ];
};
