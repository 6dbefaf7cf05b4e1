import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import { parseInitSegment, parseMediaSegment } from "./mp4.js";
import type { MeasuredRendition, MeasuredSegment } from "./schema.js";

/** Optional facts about the rendition being measured. */
export interface MeasureInfo {
  /** `MeasuredRendition.dir`: the folder relative to the output root. Default: the last component of `dir`. */
  name?: string;
  /** The ffmpeg media playlist inside the folder. Default "index.m3u8". */
  playlist?: string;
}

/** What an ffmpeg media playlist lists: its init segment and its segments, in order. */
export interface FfmpegMediaPlaylist {
  /** `#EXT-X-MAP:URI`. */
  init: string;
  /** Each `#EXTINF` duration (informative only: measurements use the fMP4 sample durations) and URI. */
  segments: Array<{ uri: string; extinf: number }>;
}

const invalid = (message: string): TranscodeError => new TranscodeError(TranscodeErrorCode.INVALID_INPUT, message);

/** A URI we accept from a playlist: a plain relative file path inside the rendition's folder. */
function checkRelativeUri(uri: string, what: string): string {
  const segments = uri.split("/");
  if (
    uri === "" ||
    /^[a-z][a-z0-9+.-]*:/i.test(uri) ||
    /[?#\\]/.test(uri) ||
    uri.startsWith("/") ||
    segments.some((part) => part === "" || part === "." || part === "..")
  ) {
    throw invalid(`${what}: URI ${JSON.stringify(uri)} is not a relative path inside the rendition folder`);
  }
  return uri;
}

/**
 * Parse an ffmpeg-written media playlist: the `#EXT-X-MAP:URI` init segment and each `#EXTINF` + URI pair.
 * Throws INVALID_INPUT on anything a CMAF rendition of ours never has (byte ranges, a missing map or
 * segment list, several maps) or on a URI outside the folder.
 */
export function parseFfmpegMediaPlaylist(text: string, label = "media playlist"): FfmpegMediaPlaylist {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines[0] !== "#EXTM3U") throw invalid(`${label}: does not start with #EXTM3U`);
  let init: string | undefined;
  const segments: FfmpegMediaPlaylist["segments"] = [];
  let extinf: number | undefined;
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    if (line.startsWith("#EXT-X-MAP:")) {
      if (init !== undefined) throw invalid(`${label}: more than one #EXT-X-MAP`);
      if (/(^|,)BYTERANGE=/.test(line.slice(11))) throw invalid(`${label}: #EXT-X-MAP with a BYTERANGE`);
      const uri = /(?:^|,)URI="([^"]*)"/.exec(line.slice(11))?.[1];
      if (uri === undefined) throw invalid(`${label}: #EXT-X-MAP without a URI`);
      init = checkRelativeUri(uri, label);
    } else if (line.startsWith("#EXTINF:")) {
      extinf = Number.parseFloat(line.slice(8));
      if (!Number.isFinite(extinf) || extinf < 0) throw invalid(`${label}: bad ${line}`);
    } else if (line.startsWith("#EXT-X-BYTERANGE")) {
      throw invalid(`${label}: byte-range segments are not supported`);
    } else if (line.startsWith("#")) {
      // other tags and comments
    } else {
      if (extinf === undefined) throw invalid(`${label}: segment ${line} has no #EXTINF`);
      if (init === undefined) throw invalid(`${label}: segment ${line} comes before any #EXT-X-MAP`);
      segments.push({ uri: checkRelativeUri(line, label), extinf });
      extinf = undefined;
    }
  }
  if (init === undefined) throw invalid(`${label}: no #EXT-X-MAP (not a CMAF/fMP4 playlist)`);
  if (segments.length === 0) throw invalid(`${label}: no segments`);
  return { init, segments };
}

async function readRenditionFile(dir: string, uri: string, label: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, ...decodeURIComponent(uri).split("/")));
  } catch (error) {
    throw new TranscodeError(TranscodeErrorCode.INVALID_INPUT, `${label}: cannot read ${uri}`, { cause: error });
  }
}

/**
 * Measure a rendition folder as ffmpeg wrote it: read its media playlist (`index.m3u8`), then its init segment
 * (codec string, timescale, picture size or channels and sample rate) and every media segment (size, duration
 * from the fMP4 sample durations rather than EXTINF, and the byte range of its first sample). For video every
 * segment must start with a sync sample, the IDR its I-frame playlist entry points at; the frame rate is
 * samples over duration. Files are read one at a time. Throws INVALID_INPUT on a missing file, a malformed
 * playlist or MP4, or a track of the other kind.
 */
export async function measureRendition(
  dir: string,
  kind: "video" | "audio",
  info?: MeasureInfo,
): Promise<MeasuredRendition> {
  const name = info?.name ?? basename(dir);
  const playlistName = info?.playlist ?? "index.m3u8";
  const playlistText = (await readRenditionFile(dir, playlistName, name)).toString("utf8");
  const playlist = parseFfmpegMediaPlaylist(playlistText, `${name}/${playlistName}`);

  const initBytes = await readRenditionFile(dir, playlist.init, name);
  const init = parseInitSegment(initBytes, { label: `${name}/${playlist.init}` });
  if (init.kind !== kind) throw invalid(`${name}/${playlist.init}: expected a ${kind} track, found ${init.kind}`);

  const segments: MeasuredSegment[] = [];
  let samples = 0;
  let ticks = 0;
  for (const { uri } of playlist.segments) {
    const label = `${name}/${uri}`;
    const bytes = await readRenditionFile(dir, uri, name);
    const segment = parseMediaSegment(bytes, {
      label,
      trackId: init.trackId,
      ...(init.defaults ? { defaults: init.defaults } : {}),
    });
    if (kind === "video" && !segment.firstSample.sync) {
      throw invalid(`${label}: the first sample is not a sync sample (segments must start on an IDR frame)`);
    }
    if (segment.durationTicks === 0) throw invalid(`${label}: zero duration`);
    samples += segment.sampleCount;
    ticks += segment.durationTicks;
    segments.push({
      uri,
      durationSeconds: segment.durationTicks / init.timescale,
      bytes: bytes.length,
      keyframe: { ...segment.firstSample.range },
    });
  }

  const rendition: MeasuredRendition = {
    kind,
    dir: name,
    codecs: init.codecs,
    init: { uri: playlist.init, bytes: initBytes.length },
    segments,
    timescale: init.timescale,
  };
  if (kind === "video") {
    rendition.width = init.width || init.displayWidth || 0;
    rendition.height = init.height || init.displayHeight || 0;
    if (rendition.width === 0 || rendition.height === 0) throw invalid(`${name}/${playlist.init}: no picture size`);
    // Samples per second of media time; exact for constant-rate video (e.g. 30 or 30000/1001).
    rendition.frameRate = Math.round(((samples * init.timescale) / ticks) * 1e6) / 1e6;
  } else {
    if (init.channels !== undefined) rendition.channels = init.channels;
    if (init.sampleRate !== undefined) rendition.sampleRate = init.sampleRate;
  }
  return rendition;
}
