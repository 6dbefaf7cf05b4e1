// Shared by the browser tests and the benchmark: HLS ladders made by @reelkit/transcode from
// ffmpeg test sources, the player bundled with esbuild (hls.js left as its own module, as in an
// app), and a loopback server for the page, the streams, a paged feed and the telemetry endpoint.
import { execFile } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { planLadder, probe, transcode } from "@reelkit/transcode";
import { build } from "esbuild";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = join(packageDir, "..", "..");

export interface Stream {
  name: string;
  /** Folder holding master.m3u8 and the renditions. */
  dir: string;
}

/** Colours and tones tell the clips apart on screen and on the wire. */
const CLIPS = [
  { name: "a", video: "testsrc2=size=720x1280:rate=30", tone: 440 },
  { name: "b", video: "smptebars=size=720x1280:rate=30", tone: 550 },
  { name: "c", video: "mandelbrot=size=720x1280:rate=30", tone: 660 },
] as const;
/** Bump when the recipe changes: streams are cached between runs under the user's cache. */
const RECIPE = "v1-720x1280-6s-720-540-360";

/**
 * Three 6 s, 3-rung (720/540/360) ladders with a separate AAC rendition, made once and cached in
 * ~/.cache/reelkit/player-streams (outside the repository).
 */
export async function makeStreams(): Promise<Stream[]> {
  const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "reelkit", "player-streams", RECIPE);
  await mkdir(cacheRoot, { recursive: true });
  const ffmpeg = process.env.FFMPEG_PATH ?? "ffmpeg";
  const streams: Stream[] = [];
  for (const clip of CLIPS) {
    const dir = join(cacheRoot, clip.name);
    if (!existsSync(join(dir, "master.m3u8"))) {
      const source = join(cacheRoot, `${clip.name}.source.mp4`);
      await promisify(execFile)(ffmpeg, [
        ...["-v", "error", "-nostdin", "-y"],
        ...["-f", "lavfi", "-i", clip.video, "-f", "lavfi", "-i", `sine=frequency=${clip.tone}:sample_rate=48000`],
        ...["-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p"],
        ...["-c:a", "aac", "-b:a", "128k", "-shortest", source],
      ]);
      const plan = planLadder(await probe(source), { rungs: [720, 540, 360] });
      await transcode(source, dir, { plan, preset: "ultrafast", force: true });
      await rm(source, { force: true });
    }
    streams.push({ name: clip.name, dir });
  }
  return streams;
}

/** The player as the page loads it: one ES module, `hls.js` imported through the import map. */
export async function bundlePlayer(): Promise<string> {
  const result = await build({
    entryPoints: [join(packageDir, "src", "index.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    external: ["hls.js"],
    conditions: ["@reelkit/source"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
}

export interface FixtureServer {
  base: string;
  requests: LoggedRequest[];
  /** Every telemetry batch received, in order. */
  batches: unknown[][];
  /** Ids of feed items whose stream is broken (the playlist answers 404). */
  broken: Set<string>;
  close(): Promise<void>;
}

export interface FeedOptions {
  /** Items per page. @default 5 */
  pageSize?: number;
  /** Total items before `cursor: null`. @default 1000 */
  total?: number;
  /** 0-based item positions whose stream is broken. */
  brokenAt?: number[];
  /** The HTML served at `/` (default: `feedPage()`). */
  page?: string;
  /** Render the feed's first page into `/` (what a server-rendered app does), saving a round trip. */
  inlineFirstPage?: boolean;
  /** More pages by path, e.g. `{ "/plain": "<!doctype html>…" }`. */
  pages?: Record<string, string>;
}

const TYPES: Record<string, string> = {
  ".m3u8": "application/vnd.apple.mpegurl",
  ".m4s": "video/iso.segment",
  ".mp4": "video/mp4",
  ".jpg": "image/jpeg",
  ".vtt": "text/vtt",
  ".mpd": "application/dash+xml",
};

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const feedPage = (attributes = "") => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reel-feed test</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<script type="importmap">{"imports":{"hls.js":"/hls.mjs"}}</script>
<style>html,body{margin:0;height:100%;background:#111}reel-feed{width:360px;height:640px}</style>
</head><body>
<reel-feed src="/feed" events="/events" user-id="viewer-1" ${attributes}><!--first-page--></reel-feed>
<script type="module">
  import * as reel from "/player.js";
  window.reel = reel;
  reel.defineReelElements();
</script>
</body></html>`;

/** Serve the page, the player, hls.js, the streams, `/feed` and `/events` on 127.0.0.1. */
export async function startServer(streams: Stream[], options: FeedOptions = {}): Promise<FixtureServer> {
  // Served gzipped and minified, as any real deployment would (both pages load the same hls.js).
  const player = gzipSync(await bundlePlayer());
  const hls = gzipSync(await readFile(join(repoRoot, "node_modules", "hls.js", "dist", "hls.min.mjs")));
  const pageSize = options.pageSize ?? 5;
  const total = options.total ?? 1000;
  const brokenAt = new Set(options.brokenAt ?? []);
  const requests: LoggedRequest[] = [];
  const batches: unknown[][] = [];
  const broken = new Set<string>();
  const started = Date.now();
  const pageAt = (from: number) => {
    const items = [];
    for (let i = from; i < Math.min(from + pageSize, total); i++) {
      const stream = streams[i % streams.length] as Stream;
      const id = `v${i}`;
      if (brokenAt.has(i)) broken.add(id);
      items.push({
        id,
        src: brokenAt.has(i) ? `/media/missing-${i}/master.m3u8` : `/media/${stream.name}/master.m3u8?item=${id}`,
        poster: `/media/${stream.name}/poster.jpg`,
        creatorId: `creator-${i % 4}`,
        title: `Clip ${i}`,
      });
    }
    return { items, cursor: from + pageSize < total ? String(from + pageSize) : null };
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      requests.push({ at: Date.now() - started, method: req.method ?? "", path: url.pathname });
      if (url.pathname === "/") {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        const html = options.page ?? feedPage();
        const inline = `<script type="application/json">${JSON.stringify(pageAt(0))}</script>`;
        res.end(options.inlineFirstPage ? html.replace("<!--first-page-->", inline) : html);
        return;
      }
      const extra = options.pages?.[url.pathname];
      if (extra !== undefined) {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(extra);
        return;
      }
      if (url.pathname === "/favicon.ico") {
        res.writeHead(204);
        res.end();
        return;
      }
      if (url.pathname === "/player.js" || url.pathname === "/hls.mjs") {
        res.writeHead(200, {
          "Content-Type": "text/javascript",
          "Content-Encoding": "gzip",
          "Cache-Control": "no-store",
        });
        res.end(url.pathname === "/player.js" ? player : hls);
        return;
      }
      if (url.pathname === "/feed") {
        res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end(JSON.stringify(pageAt(Number(url.searchParams.get("cursor") ?? 0))));
        return;
      }
      if (url.pathname === "/events" && req.method === "POST") {
        batches.push(JSON.parse(await body(req)) as unknown[]);
        res.writeHead(204);
        res.end();
        return;
      }
      const media = /^\/media\/([a-z]+)\/(.+)$/.exec(url.pathname);
      const stream = streams.find((s) => s.name === media?.[1]);
      if (media && stream) {
        const file = normalize(join(stream.dir, media[2] ?? ""));
        if (file.startsWith(stream.dir) && existsSync(file) && (await stat(file)).isFile()) {
          res.writeHead(200, {
            "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
            "Content-Length": (await stat(file)).size,
          });
          createReadStream(file).pipe(res);
          return;
        }
      }
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
    })().catch(() => {
      res.destroy();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    batches,
    broken,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}
