import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type EngagementEvent, engagementEventSchema } from "@reelkit/engagement";
import { formatMetadata, parseMetadata } from "@reelkit/upload";
import { z } from "zod";
import { asset, isAsset } from "./assets.js";
import { demoUsers, type User } from "./auth.js";
import type { Video } from "./db.js";
import { health, type PackageInfo, readPackages } from "./health.js";
import { HttpError, parseOr400, queryOf, readJson, sendJson, sendText } from "./http.js";
import { serveMedia, VIDEO_ID } from "./media.js";
import { feedPage, healthPage, uploadPage } from "./pages.js";
import type { Platform } from "./platform.js";

export interface ReferenceServer {
  server: Server;
  /** Resolves with the bound address once listening (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ url: string }>;
  close(): Promise<void>;
}

const FEED_PAGE_SIZE = 10;
const MAX_EVENTS_PER_REQUEST = 500;
/** Telemetry requests allowed per client address and minute. */
const EVENTS_PER_MINUTE = 240;

const signInSchema = z.strictObject({ user: z.string().min(1).max(64) });
const feedQuerySchema = z.strictObject({
  cursor: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(50).optional(),
});
const eventsSchema = z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_REQUEST);

/** Token bucket per key (client address): `perMinute` requests, refilled continuously. */
function rateLimiter(perMinute: number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (key: string): boolean => {
    const now = Date.now();
    const bucket = buckets.get(key) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * perMinute);
    bucket.at = now;
    buckets.set(key, bucket);
    if (buckets.size > 10_000) buckets.delete(buckets.keys().next().value ?? "");
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
}

export function createReferenceServer(
  options: { platform?: Platform; packages?: PackageInfo[] } = {},
): ReferenceServer {
  const startedAt = Date.now();
  const packages = options.packages ?? readPackages();
  const platform = options.platform;
  const allowEvents = rateLimiter(EVENTS_PER_MINUTE);

  const need = (): Platform => {
    if (platform === undefined) throw new HttpError(503, "the platform is not running");
    return platform;
  };

  /** A signed cursor holding the next offset: tampering answers 400. */
  const cursorFor = (p: Platform, offset: number) => `${offset}.${p.tokens.sign(`feed:${offset}`)}`;
  const offsetOf = (p: Platform, cursor: string | undefined): number => {
    if (cursor === undefined) return 0;
    const [offset = "", signature = ""] = cursor.split(".");
    if (!/^\d{1,9}$/.test(offset) || p.tokens.sign(`feed:${offset}`) !== signature)
      throw new HttpError(400, "invalid cursor");
    return Number(offset);
  };
  const feedItem = (video: Video) => ({
    id: video.id,
    src: `/media/${video.id}/master.m3u8`,
    poster: `/media/${video.id}/poster.jpg`,
    creatorId: video.ownerId,
    title: video.title,
  });
  const feedPageOf = async (p: Platform, offset: number, limit = FEED_PAGE_SIZE) => {
    const videos = await p.db.published(limit + 1, offset);
    return {
      items: videos.slice(0, limit).map(feedItem),
      cursor: videos.length > limit ? cursorFor(p, offset + limit) : null,
    };
  };

  const rankedPage = async (p: Platform, userId: string, cursor: string | undefined, limit = FEED_PAGE_SIZE) => {
    let page: Awaited<ReturnType<Platform["ranker"]["feed"]>>;
    try {
      page = await p.ranker.feed({ userId, limit, ...(cursor !== undefined ? { cursor } : {}) });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "CURSOR_INVALID" || code === "CURSOR_EXPIRED" || code === "INVALID_INPUT")
        throw new HttpError(400, `invalid cursor (${code})`);
      throw error;
    }
    const videos = await Promise.all(page.items.map((item) => p.db.getVideo(item.videoId)));
    return {
      items: videos.filter((v): v is Video => v?.status === "published").map(feedItem),
      cursor: page.cursor === null || page.cursor === undefined ? null : `r.${page.cursor}`,
    };
  };

  /** The tus endpoint bound to the signed-in creator: uploads carry their owner and only they reach them. */
  const handleUpload = async (req: IncomingMessage, res: ServerResponse, rest: string) => {
    const p = need();
    if (req.method === "OPTIONS") return p.uploads.handle(req, res); // the preflight/discovery is open
    const user = p.tokens.require(req, "creator");
    if (rest !== "") {
      const info = await p.uploadStore.info(rest);
      if (info === undefined || info.metadata.owner !== user.id) throw new HttpError(404, "upload not found");
    } else if (req.method === "POST") {
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
          if (part === undefined || part.metadata.owner !== user.id)
            throw new HttpError(404, "partial upload not found");
        }
      }
    }
    return p.uploads.handle(req, res);
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> => {
    const { pathname } = url;
    const method = req.method ?? "GET";
    if (pathname === "/uploads" || pathname.startsWith("/uploads/")) {
      await handleUpload(req, res, pathname.slice("/uploads/".length));
      return "/uploads";
    }
    if (pathname.startsWith("/media/")) {
      if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "method not allowed", { allow: "GET, HEAD" });
      const p = need();
      await serveMedia(req, res, p.mediaDir, pathname.slice("/media/".length), (id) => p.isPublic(id));
      return "/media";
    }
    const only = (...methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(405, "method not allowed", { allow: methods.join(", ") });
    };
    if (pathname.startsWith("/videos/")) {
      only("GET", "HEAD");
      const p = need();
      const id = pathname.slice("/videos/".length);
      if (!VIDEO_ID.test(id)) throw new HttpError(404, "no such video");
      const video = await p.db.getVideo(id);
      const user = p.tokens.userOf(req);
      const visible =
        video !== undefined &&
        (video.status === "published" ||
          video.status === "limited" ||
          user?.id === video.ownerId ||
          user?.role === "moderator" ||
          user?.role === "admin");
      if (!visible || video === undefined) throw new HttpError(404, "no such video");
      const counts = (await p.engagement.counts([id]))[id];
      sendJson(res, 200, { ...video, ...(visible ? { counts } : {}), src: `/media/${id}/master.m3u8` });
      return "/videos/:id";
    }
    switch (pathname) {
      case "/": {
        only("GET", "HEAD");
        const first = platform ? await feedPageOf(platform, 0) : { items: [], cursor: null };
        sendText(res, 200, "text/html; charset=utf-8", feedPage(first), { "cache-control": "no-store" });
        return "/";
      }
      case "/upload":
        only("GET", "HEAD");
        sendText(res, 200, "text/html; charset=utf-8", uploadPage(), { "cache-control": "no-store" });
        return "/upload";
      case "/status":
        only("GET", "HEAD");
        sendText(res, 200, "text/html; charset=utf-8", healthPage(health(packages, startedAt)), {
          "cache-control": "no-store",
        });
        return "/status";
      case "/healthz":
        only("GET", "HEAD");
        sendJson(res, 200, health(packages, startedAt));
        return "/healthz";
      case "/metrics":
        only("GET");
        sendText(res, 200, "text/plain; version=0.0.4", need().metrics.render(), { "cache-control": "no-store" });
        return "/metrics";
      case "/auth/sign-in": {
        only("POST");
        const p = need();
        const { user: wanted } = await readJson(req, signInSchema, 4096);
        const user = demoUsers.find((u) => u.id === wanted || u.role === wanted);
        if (user === undefined) throw new HttpError(400, `unknown demo user ${wanted}`);
        sendJson(res, 200, { token: p.tokens.issue(user), user });
        return "/auth/sign-in";
      }
      case "/feed": {
        only("GET", "HEAD");
        const p = need();
        const query = parseOr400(feedQuerySchema, queryOf(url), "query");
        const user = p.tokens.userOf(req);
        // Signed-in viewers get @reelkit/feed-ranker's personalised pages ("r." cursors); anonymous
        // ones (and offset cursors from an inline first page) the newest published videos.
        if (user !== undefined && (query.cursor === undefined || query.cursor.startsWith("r."))) {
          sendJson(res, 200, await rankedPage(p, user.id, query.cursor?.slice(2), query.limit));
          return "/feed";
        }
        sendJson(res, 200, await feedPageOf(p, offsetOf(p, query.cursor), query.limit));
        return "/feed";
      }
      case "/events": {
        only("POST");
        const p = need();
        const client = req.socket.remoteAddress ?? "unknown";
        if (!allowEvents(client)) throw new HttpError(429, "too many telemetry requests", { "retry-after": "5" });
        const user: User | undefined = p.tokens.userOf(req);
        const raw = await readJson(req, eventsSchema, 1024 * 1024);
        const problems: string[] = [];
        raw.forEach((event, index) => {
          const parsed = engagementEventSchema.safeParse(event);
          if (!parsed.success) problems.push(`event ${index}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
          else if (parsed.data.userId !== undefined && parsed.data.userId !== user?.id)
            problems.push(`event ${index}: userId must be the signed-in user`);
        });
        if (problems.length > 0) throw new HttpError(400, problems.slice(0, 10).join(" | "));
        const result = await p.engagement.record(raw);
        p.metrics.inc("reelkit_events_accepted_total", {}, result.accepted);
        if (user !== undefined)
          await p.rankerEngage(user.id, raw as EngagementEvent[]).catch((error: unknown) => console.error(error));
        sendJson(res, 202, result);
        return "/events";
      }
      case "/me/videos": {
        only("GET");
        const p = need();
        const user = p.tokens.require(req, "creator");
        sendJson(res, 200, { videos: await p.db.byOwner(user.id) });
        return "/me/videos";
      }
    }
    if (pathname.startsWith("/assets/")) {
      only("GET", "HEAD");
      const name = pathname.slice("/assets/".length);
      if (!isAsset(name)) throw new HttpError(404, "no such asset");
      sendText(res, 200, "text/javascript; charset=utf-8", await asset(name), {
        "cache-control": "public, max-age=300",
      });
      return "/assets";
    }
    throw new HttpError(404, `no route for ${pathname}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { error: "invalid request target" });
      return;
    }
    void route(req, res, url).then(
      (name) => platform?.metrics.inc("reelkit_http_requests_total", { route: name, status: String(res.statusCode) }),
      (error: unknown) => {
        const http = error instanceof HttpError ? error : new HttpError(500, "internal error");
        if (http.status === 500) console.error(error);
        platform?.metrics.inc("reelkit_http_requests_total", { route: "error", status: String(http.status) });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        sendJson(res, http.status, { error: http.message }, http.headers);
      },
    );
  };

  const server = createServer(handle);
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          const boundPort = typeof address === "object" && address !== null ? address.port : port;
          resolve({ url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}` });
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
