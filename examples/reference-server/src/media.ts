// /media/<videoId>/<file>: the published ladders, straight from DATA_DIR/media. Segments and init
// files never change once published (immutable caching); playlists are cached briefly. ETags,
// conditional requests and Range are supported. No path from the request reaches the file system
// unchecked: the video id and every path segment must match strict patterns.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { HttpError } from "./http.js";

const TYPES: Record<string, string> = {
  ".m3u8": "application/vnd.apple.mpegurl",
  ".m4s": "video/iso.segment",
  ".mp4": "video/mp4",
  ".mpd": "application/dash+xml",
  ".jpg": "image/jpeg",
  ".vtt": "text/vtt",
};
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
export const VIDEO_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** Serve `rest` ("<videoId>/<path>") from `mediaDir` if `isPublic(videoId)`. */
export async function serveMedia(
  req: IncomingMessage,
  res: ServerResponse,
  mediaDir: string,
  rest: string,
  isPublic: (videoId: string) => Promise<boolean>,
): Promise<void> {
  const parts = rest.split("/");
  const [videoId = "", ...path] = parts;
  if (
    !VIDEO_ID.test(videoId) ||
    path.length === 0 ||
    path.length > 3 ||
    !path.every((p) => SEGMENT.test(p) && !p.includes(".."))
  )
    throw new HttpError(404, "not found");
  const type = TYPES[extname(path.at(-1) ?? "")];
  if (type === undefined) throw new HttpError(404, "not found");
  if (!(await isPublic(videoId))) throw new HttpError(404, "not found");
  const root = join(mediaDir, videoId);
  const file = join(root, ...path);
  if (!file.startsWith(root + sep)) throw new HttpError(404, "not found");
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    throw new HttpError(404, "not found");
  }
  if (!info.isFile()) throw new HttpError(404, "not found");
  const etag = `"${info.size.toString(36)}-${Math.trunc(info.mtimeMs).toString(36)}"`;
  const playlist = type === TYPES[".m3u8"] || type === TYPES[".mpd"];
  const headers: Record<string, string> = {
    "content-type": type,
    etag,
    "accept-ranges": "bytes",
    "cache-control": playlist ? "public, max-age=60" : "public, max-age=31536000, immutable",
  };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let start = 0;
  let end = info.size - 1;
  const range = req.headers.range;
  let status = 200;
  if (range !== undefined && info.size > 0) {
    const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (match === null || (match[1] === "" && match[2] === ""))
      throw new HttpError(416, "bad range", { "content-range": `bytes */${info.size}` });
    if (match[1] === "") start = Math.max(0, info.size - Number(match[2]));
    else {
      start = Number(match[1]);
      if (match[2] !== "") end = Math.min(Number(match[2]), info.size - 1);
    }
    if (start > end || start >= info.size)
      throw new HttpError(416, "range not satisfiable", { "content-range": `bytes */${info.size}` });
    status = 206;
    headers["content-range"] = `bytes ${start}-${end}/${info.size}`;
  }
  headers["content-length"] = String(info.size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === "HEAD" || info.size === 0) {
    res.end();
    return;
  }
  await pipeline(createReadStream(file, { start, end }), res).catch(() => {});
}
