// The viewer- and creator-facing video API: feed pages, video metadata, telemetry, media and the
// tus endpoint.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type EngagementEvent, engagementEventSchema } from "@reelkit/engagement";
import { formatMetadata, parseMetadata } from "@reelkit/upload";
import { z } from "zod";
import type { User } from "../auth.js";
import { type Video, videoStatuses } from "../db.js";
import { HttpError, sendJson } from "../http.js";
import { serveMedia, VIDEO_ID } from "../media.js";
import type { Platform } from "../platform.js";
import { type RouteModule, route } from "../routes.js";

export const FEED_PAGE_SIZE = 10;
const MAX_EVENTS_PER_REQUEST = 500;
/** Telemetry requests per client address and minute, unless the config sets `EVENTS_PER_MINUTE`. */
export const EVENTS_PER_MINUTE = 240;

export const videoIdSchema = z.string().regex(VIDEO_ID, "not a video id");

export const feedItemSchema = z
  .object({ id: z.string(), src: z.string(), poster: z.string(), creatorId: z.string(), title: z.string() })
  .meta({ id: "FeedItem" });
export const feedPageSchema = z
  .object({ items: z.array(feedItemSchema), cursor: z.string().nullable() })
  .meta({ id: "FeedPage" });
export const videoSchema = z
  .object({
    id: z.string(),
    ownerId: z.string(),
    title: z.string(),
    status: z.enum(videoStatuses),
    error: z.string().nullable(),
    durationMs: z.number().nullable(),
    createdAt: z.number(),
    publishedAt: z.number().nullable(),
  })
  .meta({ id: "Video" });

const feedQuerySchema = z.strictObject({
  cursor: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(50).optional(),
});
const eventsSchema = z
  .array(z.unknown())
  .min(1)
  .max(MAX_EVENTS_PER_REQUEST)
  .meta({
    description: `1 to ${MAX_EVENTS_PER_REQUEST} events, each checked against @reelkit/engagement's engagementEventSchema`,
  });

/** A signed cursor holding the next offset: tampering answers 400. */
const cursorFor = (p: Platform, offset: number) => `${offset}.${p.tokens.sign(`feed:${offset}`)}`;
const offsetOf = (p: Platform, cursor: string | undefined): number => {
  if (cursor === undefined) return 0;
  const [offset = "", signature = ""] = cursor.split(".");
  if (!/^\d{1,9}$/.test(offset) || p.tokens.sign(`feed:${offset}`) !== signature)
    throw new HttpError(400, "invalid cursor");
  return Number(offset);
};

export const feedItem = (video: Video) => ({
  id: video.id,
  src: `/media/${video.id}/master.m3u8`,
  poster: `/media/${video.id}/poster.jpg`,
  creatorId: video.ownerId,
  title: video.title,
});

/** Newest published videos from `offset` (the anonymous feed and the inline first page). */
export async function feedPageOf(p: Platform, offset: number, limit = FEED_PAGE_SIZE) {
  const videos = await p.db.published(limit + 1, offset);
  return {
    items: videos.slice(0, limit).map(feedItem),
    cursor: videos.length > limit ? cursorFor(p, offset + limit) : null,
  };
}

async function rankedPage(p: Platform, userId: string, cursor: string | undefined, limit = FEED_PAGE_SIZE) {
  let page: Awaited<ReturnType<Platform["ranker"]["feed"]>>;
  try {
    page = await p.ranker.feed({ userId, limit, ...(cursor !== undefined ? { cursor } : {}) });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "CURSOR_INVALID" || code === "CURSOR_EXPIRED" || code === "INVALID_INPUT")
      throw new HttpError(400, `invalid cursor (${code})`);
    throw error;
  }
  const videos = await p.db.getVideos(page.items.map((item) => item.videoId));
  return {
    items: videos.filter((v) => v.status === "published").map(feedItem),
    cursor: page.cursor === null || page.cursor === undefined ? null : `r.${page.cursor}`,
  };
}

/** The tus endpoint bound to the signed-in creator: uploads carry their owner and only they reach them. */
async function handleUpload(p: Platform, req: IncomingMessage, res: ServerResponse, rest: string) {
  // The method tus acts on: X-HTTP-Method-Override wins over the request line (as in the upload
  // server), so every rule below must look at it — else an "OPTIONS" could create or delete.
  const override = req.headers["x-http-method-override"];
  const method = (typeof override === "string" ? override : (req.method ?? "")).trim().toUpperCase();
  if (req.method === "OPTIONS" && override === undefined) return p.uploads.handle(req, res); // the preflight/discovery is open
  const user = p.tokens.require(req, "creator");
  if (rest !== "") {
    const info = await p.uploadStore.info(rest);
    if (info === undefined || info.metadata.owner !== user.id) throw new HttpError(404, "upload not found");
  } else if (method === "POST") {
    // The owner is set by the server, never taken from the client.
    const header = req.headers["upload-metadata"];
    let metadata: Record<string, string | null>;
    try {
      metadata = parseMetadata(Array.isArray(header) ? header.join(",") : header);
    } catch {
      throw new HttpError(400, "invalid Upload-Metadata");
    }
    delete metadata.owner;
    req.headers["upload-metadata"] = formatMetadata({ ...metadata, owner: user.id });
    const concat = req.headers["upload-concat"];
    if (typeof concat === "string" && concat.trim().startsWith("final;")) {
      for (const url of concat.trim().slice(6).trim().split(/ +/)) {
        const id = new URL(url, "http://localhost").pathname.split("/").pop() ?? "";
        const part = await p.uploadStore.info(id);
        if (part === undefined || part.metadata.owner !== user.id) throw new HttpError(404, "partial upload not found");
      }
    }
  }
  return p.uploads.handle(req, res);
}

const tusMethods = ["OPTIONS", "HEAD", "GET", "POST", "PATCH", "DELETE"] as const;

export const videoRoutes: RouteModule = (app) => {
  const allowEvents = app.limiter("events", app.platform?.config.EVENTS_PER_MINUTE ?? EVENTS_PER_MINUTE);
  return [
    route({
      method: ["GET", "HEAD"],
      path: "/feed",
      tag: "feed",
      access: "optional",
      summary:
        "A feed page: personalised by @reelkit/feed-ranker when signed in (`r.` cursors), newest first when anonymous.",
      query: feedQuerySchema,
      responses: { 200: { description: "A page <reel-feed> reads", schema: feedPageSchema } },
      async handler({ res, query, user, platform }) {
        if (user !== undefined && (query.cursor === undefined || query.cursor.startsWith("r."))) {
          sendJson(res, 200, await rankedPage(platform, user.id, query.cursor?.slice(2), query.limit));
          return;
        }
        sendJson(res, 200, await feedPageOf(platform, offsetOf(platform, query.cursor), query.limit));
      },
    }),
    route({
      method: "POST",
      path: "/events",
      tag: "feed",
      access: "optional",
      summary: "Player telemetry into @reelkit/engagement (anonymous allowed with a sessionId; rate-limited).",
      body: eventsSchema,
      bodyLimit: 1024 * 1024,
      responses: {
        202: {
          description: "Recorded (duplicates by event id are counted once)",
          schema: z.object({ accepted: z.number(), duplicates: z.number() }).loose(),
        },
        429: { description: "Rate limited" },
      },
      // Checked before the body is read: a refused client costs no parsing.
      async beforeBody({ req }) {
        const client = req.socket.remoteAddress ?? "unknown";
        if (!(await allowEvents(client)))
          throw new HttpError(429, "too many telemetry requests", { "retry-after": "5" });
      },
      async handler({ res, body, user, platform }) {
        const problems: string[] = [];
        body.forEach((event, index) => {
          const parsed = engagementEventSchema.safeParse(event);
          if (!parsed.success) problems.push(`event ${index}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
          else if (parsed.data.userId !== undefined && parsed.data.userId !== user?.id)
            problems.push(`event ${index}: userId must be the signed-in user`);
        });
        if (problems.length > 0) throw new HttpError(400, problems.slice(0, 10).join(" | "));
        // A video's creator is the server's fact (registered at publishing), never the client's:
        // a creatorId in an event would attach the video's counters to that creator's analytics.
        const events = body.map((event) => {
          if (typeof event !== "object" || event === null || !("creatorId" in event)) return event;
          const { creatorId: _, ...rest } = event as Record<string, unknown>;
          return rest;
        });
        const result = await platform.engagement.record(events);
        platform.metrics.inc("reelkit_events_accepted_total", {}, result.accepted);
        if (user !== undefined)
          await platform
            .rankerEngage(user.id, events as EngagementEvent[])
            .catch((error: unknown) => console.error(error));
        sendJson(res, 202, result);
      },
    }),
    route({
      method: ["GET", "HEAD"],
      path: "/videos/{id}",
      tag: "videos",
      access: "optional",
      summary: "A video's metadata and counts (published or limited; its owner and moderators see every status).",
      responses: {
        200: { description: "The video", schema: videoSchema.loose() },
        404: { description: "Not visible" },
      },
      async handler({ res, params, user, platform }) {
        const id = params.id;
        if (!VIDEO_ID.test(id)) throw new HttpError(404, "no such video");
        const video = await platform.db.getVideo(id);
        const visible =
          video !== undefined &&
          (video.status === "published" ||
            video.status === "limited" ||
            user?.id === video.ownerId ||
            user?.role === "moderator" ||
            user?.role === "admin");
        if (!visible || video === undefined) throw new HttpError(404, "no such video");
        const counts = (await platform.engagement.counts([id]))[id];
        sendJson(res, 200, { ...video, counts, src: `/media/${id}/master.m3u8` });
      },
    }),
    route({
      method: "GET",
      path: "/me/videos",
      tag: "videos",
      access: "creator",
      summary: "The signed-in creator's videos, every status, newest first.",
      responses: { 200: { description: "Videos", schema: z.object({ videos: z.array(videoSchema) }) } },
      async handler({ res, user, platform }) {
        sendJson(res, 200, { videos: await platform.db.byOwner((user as User).id) });
      },
    }),
    route({
      method: ["GET", "HEAD"],
      path: "/media/{rest*}",
      tag: "media",
      summary:
        "Published media: /media/{videoId}/{file} (playlists, segments, poster); immutable segments, ETag, Range.",
      responses: {
        200: { description: "The file" },
        206: { description: "A range" },
        404: { description: "Not published" },
      },
      async handler({ req, res, params, platform }) {
        await serveMedia(req, res, platform.mediaDir, params.rest, (id) => platform.isPublic(id));
      },
    }),
    ...["/uploads", "/uploads/{rest*}"].map((path) =>
      route({
        method: tusMethods,
        path,
        tag: "uploads",
        summary:
          "tus 1.0 resumable uploads (@reelkit/upload), bound to the signed-in creator; OPTIONS is open. Completed uploads start transcoding.",
        responses: { 401: { description: "No valid token" }, 404: { description: "Not this user's upload" } },
        handler: ({ req, res, params, platform }) => handleUpload(platform, req, res, params.rest ?? ""),
      }),
    ),
  ];
};
