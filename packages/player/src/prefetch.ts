// Fast start for the first video: while hls.js itself is still downloading, fetch the first
// item's master playlist, the media and audio playlists of the rung it will start on, and their
// init and first segments. hls.js then gets them from memory through `PrefetchLoader`, with the
// real timings (so its bandwidth estimate stays honest). Everything here is best effort: a miss
// or a failure only means hls.js fetches the file itself.
import { bandwidthEstimate, hasMeasuredBandwidth } from "./bandwidth.js";

interface Fetched {
  data: string | ArrayBuffer;
  /** performance.now() at request start, first byte, and end. */
  start: number;
  first: number;
  end: number;
  bytes: number;
}

interface Entry {
  type: "text" | "arraybuffer";
  result: Promise<Fetched>;
}

/** Prefetched files by absolute URL; each is handed out once. */
const cache = new Map<string, Entry>();
/** The start level (index in hls.js's bitrate-ascending order) chosen for a master URL. */
const startLevels = new Map<string, number>();
const MAX_ENTRIES = 32;

function prefetch(url: string, type: "text" | "arraybuffer"): Promise<Fetched> {
  const existing = cache.get(url);
  if (existing?.type === type) return existing.result;
  const start = performance.now();
  const result = fetch(url, { credentials: "same-origin" }).then(async (res) => {
    if (!res.ok) throw new Error(`${res.status}`);
    const first = performance.now();
    const data = type === "text" ? await res.text() : await res.arrayBuffer();
    const bytes = typeof data === "string" ? data.length : data.byteLength;
    return { data, start, first, end: performance.now(), bytes };
  });
  result.catch(() => cache.delete(url));
  cache.set(url, { type, result });
  while (cache.size > MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
  return result;
}

/** A prefetched file for `url` of that response type, removed from the cache; `undefined` on a miss. */
export function takePrefetched(url: string, type: string): Promise<Fetched> | undefined {
  if (cache.size === 0) return undefined;
  const key = new URL(url, location.href).href; // hls.js passes the master URL as given
  const entry = cache.get(key);
  if (entry === undefined || entry.type !== type) return undefined;
  cache.delete(key);
  return entry.result;
}

/** The level `warmStream` prepared for this master URL, if any. */
export function preparedStartLevel(masterUrl: string): number | undefined {
  return startLevels.get(new URL(masterUrl, location.href).href);
}

interface Variant {
  uri: string;
  bandwidth: number;
  height: number;
  audio: string | undefined;
}

const attribute = (line: string, name: string): string | undefined => {
  const match = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`).exec(line);
  return match === null ? undefined : (match[2] ?? match[1]);
};

/** Variants (ascending bitrate, as hls.js orders levels) and default audio URIs of a master playlist. */
export function parseMaster(text: string): { variants: Variant[]; audio: Map<string, string> } {
  const lines = text.split(/\r?\n/);
  const variants: Variant[] = [];
  const audio = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.startsWith("#EXT-X-STREAM-INF:")) {
      const uri = lines.slice(i + 1).find((l) => l.trim() !== "" && !l.startsWith("#"));
      if (uri === undefined) continue;
      const resolution = attribute(line, "RESOLUTION")?.split("x");
      variants.push({
        uri: uri.trim(),
        bandwidth: Number(attribute(line, "BANDWIDTH") ?? 0),
        height: Number(resolution?.[1] ?? 0),
        audio: attribute(line, "AUDIO"),
      });
    } else if (line.startsWith("#EXT-X-MEDIA:") && attribute(line, "TYPE") === "AUDIO") {
      const group = attribute(line, "GROUP-ID");
      const uri = attribute(line, "URI");
      if (group !== undefined && uri !== undefined && (!audio.has(group) || attribute(line, "DEFAULT") === "YES"))
        audio.set(group, uri);
    }
  }
  variants.sort((a, b) => a.bandwidth - b.bandwidth);
  return { variants, audio };
}

/** The init segment and first media segment URIs of a media playlist. */
export function firstSegments(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const uris: string[] = [];
  const map = lines.find((l) => l.startsWith("#EXT-X-MAP:"));
  const mapUri = map === undefined ? undefined : attribute(map, "URI");
  if (mapUri !== undefined && !/BYTERANGE/.test(map ?? "")) uris.push(mapUri);
  const first = lines.find((l) => l.trim() !== "" && !l.startsWith("#"));
  if (first !== undefined && !lines.some((l) => l.startsWith("#EXT-X-BYTERANGE"))) uris.push(first.trim());
  return uris;
}

/**
 * The rung to start on: with no measured bandwidth yet, the lowest (fastest to show); otherwise
 * the highest whose bitrate fits 70% of the estimate and whose height fits the element.
 */
export function chooseStartLevel(variants: Variant[], maxHeight: number): number {
  if (variants.length === 0 || !hasMeasuredBandwidth()) return 0;
  const budget = bandwidthEstimate() * 0.7;
  let chosen = 0;
  variants.forEach((variant, index) => {
    if (variant.bandwidth <= budget && (variant.height === 0 || variant.height <= maxHeight)) chosen = index;
  });
  return chosen;
}

/** Fetch what the first seconds of `masterUrl` need, in parallel with loading hls.js. */
export async function warmStream(masterUrl: string, maxHeight: number): Promise<void> {
  try {
    const master = new URL(masterUrl, location.href).href;
    const { data } = await prefetch(master, "text");
    const { variants, audio } = parseMaster(data as string);
    const level = chooseStartLevel(variants, maxHeight);
    const variant = variants[level];
    if (variant === undefined) return;
    startLevels.set(master, level);
    if (startLevels.size > MAX_ENTRIES) startLevels.delete(startLevels.keys().next().value ?? "");
    const playlists = [new URL(variant.uri, master).href];
    const audioUri = variant.audio === undefined ? undefined : audio.get(variant.audio);
    if (audioUri !== undefined) playlists.push(new URL(audioUri, master).href);
    await Promise.all(
      playlists.map(async (playlist) => {
        const { data: media } = await prefetch(playlist, "text");
        for (const uri of firstSegments(media as string)) void prefetch(new URL(uri, playlist).href, "arraybuffer");
      }),
    );
  } catch {
    // Best effort: hls.js loads whatever is missing.
  }
}
