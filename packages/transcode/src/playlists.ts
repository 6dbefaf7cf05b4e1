import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import type { MeasuredRendition } from "./schema.js";

// Pure builders of the HLS playlists (RFC 8216, protocol version 7) and the DASH manifest (ISO/IEC 23009-1,
// ISO live profile) from measured renditions. The same CMAF files serve both: HLS names each segment by URI
// and its first IDR by byte range; DASH names them through a SegmentTemplate and a SegmentTimeline.
//
// Bit rates (RFC 8216 §4.1, "Definition of a Playlist"; §4.3.4.2 BANDWIDTH and AVERAGE-BANDWIDTH):
// - the segment bit rate is a segment's size over its EXTINF duration; for a byte-range segment (an I-frame
//   playlist entry) its size is the range's length;
// - the peak segment bit rate of a Media Playlist is the largest bit rate of any contiguous set of segments
//   whose total duration is between 0.5 and 1.5 times the target duration (`peakBitrate`);
// - the average segment bit rate is every segment's bits over the playlist's duration (`averageBitrate`);
//   init segments are not media segments and are not counted;
// - a variant's BANDWIDTH and AVERAGE-BANDWIDTH are the largest sums of those over any playable combination
//   of renditions: the video rung plus the audio rendition that plays with it (Apple's HLS Authoring
//   Specification says the same: a variant's bandwidth includes its audio). An I-frame variant carries no
//   audio: its rates come from its byte ranges alone.
// Every rate is a whole number of bits per second, rounded up.

const invalid = (message: string): TranscodeError => new TranscodeError(TranscodeErrorCode.INVALID_INPUT, message);

/** A playlist entry for the bit-rate formulas: bytes over seconds. */
interface Sized {
  bytes: number;
  seconds: number;
}

const EPSILON = 1e-9;

/** EXTINF values are written with three decimals (RFC 8216 §4.3.2.1: decimal-floating-point). */
const extinf = (seconds: number): string => seconds.toFixed(3);

/**
 * EXT-X-TARGETDURATION (RFC 8216 §4.3.3.1): every EXTINF rounded to the nearest integer must not exceed it.
 * We use the ceiling of the longest EXTINF as written, which satisfies that and also the older, stricter
 * reading (EXTINF ≤ target duration), at least 1.
 */
export function targetDuration(seconds: readonly number[]): number {
  return Math.max(1, ...seconds.map((s) => Math.ceil(Number(extinf(s)))));
}

/**
 * Peak segment bit rate (RFC 8216 §4.1): the largest bit rate of any run of contiguous segments whose total
 * duration is between 0.5 and 1.5 times the target duration. When no run qualifies (a single segment much
 * shorter than the target), the largest single-segment rate. Bits per second, not rounded.
 */
export function peakBitrate(entries: readonly Sized[], target: number): number {
  let peak = 0;
  let qualified = false;
  for (let i = 0; i < entries.length; i++) {
    let bytes = 0;
    let seconds = 0;
    for (let j = i; j < entries.length; j++) {
      const entry = entries[j] as Sized;
      bytes += entry.bytes;
      seconds += entry.seconds;
      if (seconds > 1.5 * target + EPSILON) break;
      if (seconds >= 0.5 * target - EPSILON) {
        qualified = true;
        peak = Math.max(peak, (bytes * 8) / seconds);
      }
    }
  }
  if (qualified) return peak;
  return Math.max(0, ...entries.map((entry) => (entry.bytes * 8) / entry.seconds));
}

/** Average segment bit rate (RFC 8216 §4.1): all segment bits over the playlist duration. */
export function averageBitrate(entries: readonly Sized[]): number {
  let bytes = 0;
  let seconds = 0;
  for (const entry of entries) {
    bytes += entry.bytes;
    seconds += entry.seconds;
  }
  return (bytes * 8) / seconds;
}

/** The media segments of a rendition, and the I-frame entries (byte range + segment duration) of a video one. */
const mediaEntries = (r: MeasuredRendition): Sized[] =>
  r.segments.map((s) => ({ bytes: s.bytes, seconds: s.durationSeconds }));
const iframeEntries = (r: MeasuredRendition): Sized[] =>
  r.segments.map((s) => ({ bytes: s.keyframe.length, seconds: s.durationSeconds }));

/** Peak and average segment bit rates of a rendition's media playlist (or of its I-frame playlist). */
export function renditionBitrates(
  r: MeasuredRendition,
  which: "media" | "iframes" = "media",
): { peak: number; average: number } {
  checkRendition(r);
  const entries = which === "media" ? mediaEntries(r) : iframeEntries(r);
  const target = targetDuration(r.segments.map((s) => s.durationSeconds));
  return { peak: peakBitrate(entries, target), average: averageBitrate(entries) };
}

// ----------------------------------------------------------------------------------------------------------
// Validation: a playlist is only as good as what it is built from.

/** A quoted-string (RFC 8216 §4.2) may not contain a double quote, CR or LF; we refuse every control character. */
function quoted(value: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  if (/["\u0000-\u001f\u007f]/.test(value)) throw invalid(`${what} ${JSON.stringify(value)} cannot be quoted`);
  return `"${value}"`;
}

/**
 * A relative URI for a playlist line or URI attribute: a path of RFC 3986 characters (unreserved, sub-delims,
 * ':', '@', '%', '/'; so no quote, space, '#' or '?'), without a scheme, empty, '.' or '..' segments.
 */
function relativeUri(value: string, what: string): string {
  if (
    !/^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]+$/.test(value) ||
    /^[a-z][a-z0-9+.-]*:/i.test(value) ||
    value.startsWith("/") ||
    value.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    throw invalid(`${what} ${JSON.stringify(value)} is not a plain relative URI`);
  }
  return value;
}

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

function checkRendition(r: MeasuredRendition): void {
  const name = `rendition ${JSON.stringify(r.dir)}`;
  relativeUri(r.dir, `${name}: dir`);
  relativeUri(r.init.uri, `${name}: init URI`);
  if (!/^[A-Za-z0-9][A-Za-z0-9.]*$/.test(r.codecs)) throw invalid(`${name}: bad codecs ${JSON.stringify(r.codecs)}`);
  if (r.segments.length === 0) throw invalid(`${name}: no segments`);
  for (const s of r.segments) {
    relativeUri(s.uri, `${name}: segment URI`);
    if (!(Number.isFinite(s.durationSeconds) && s.durationSeconds > 0)) {
      throw invalid(`${name}: segment ${s.uri} has duration ${s.durationSeconds}`);
    }
    if (!isCount(s.bytes) || s.bytes === 0) throw invalid(`${name}: segment ${s.uri} has ${s.bytes} bytes`);
    const { offset, length } = s.keyframe;
    if (!isCount(offset) || !isCount(length) || length === 0 || offset + length > s.bytes) {
      throw invalid(`${name}: segment ${s.uri} keyframe range ${length}@${offset} is outside its ${s.bytes} bytes`);
    }
  }
  if (r.kind === "video") {
    for (const [key, value] of [
      ["width", r.width],
      ["height", r.height],
    ] as const) {
      if (value === undefined || !Number.isSafeInteger(value) || value <= 0) throw invalid(`${name}: bad ${key}`);
    }
    if (r.frameRate === undefined || !(Number.isFinite(r.frameRate) && r.frameRate > 0)) {
      throw invalid(`${name}: bad frameRate`);
    }
  }
  if (r.timescale !== undefined && !(Number.isSafeInteger(r.timescale) && r.timescale > 0)) {
    throw invalid(`${name}: bad timescale`);
  }
}

/** The one audio rendition (or none) and the video rungs, highest first (largest picture, then peak rate). */
function split(renditions: readonly MeasuredRendition[]): { video: MeasuredRendition[]; audio?: MeasuredRendition } {
  for (const r of renditions) checkRendition(r);
  const audios = renditions.filter((r) => r.kind === "audio");
  if (audios.length > 1) throw invalid(`${audios.length} audio renditions; at most one is supported`);
  const rated = renditions
    .filter((r) => r.kind === "video")
    .map((r) => ({ r, area: (r.width ?? 0) * (r.height ?? 0), peak: renditionBitrates(r).peak }));
  if (rated.length === 0) throw invalid("no video rendition");
  const dirs = new Set(renditions.map((r) => r.dir));
  if (dirs.size !== renditions.length) throw invalid("two renditions share a folder");
  const video = rated.sort((a, b) => b.area - a.area || b.peak - a.peak).map(({ r }) => r);
  const audio = audios[0];
  return audio ? { video, audio } : { video };
}

// ----------------------------------------------------------------------------------------------------------
// HLS

/**
 * Our VOD media playlist for a rendition (RFC 8216 §4.3.3): version 7, a target duration that bounds every
 * EXTINF, the init segment through EXT-X-MAP (§4.3.2.5), one EXTINF (three decimals) + URI per segment.
 */
export function mediaPlaylist(r: MeasuredRendition): string {
  checkRendition(r);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${targetDuration(r.segments.map((s) => s.durationSeconds))}`,
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    `#EXT-X-MAP:URI=${quoted(r.init.uri, "init URI")}`,
  ];
  for (const s of r.segments) lines.push(`#EXTINF:${extinf(s.durationSeconds)},`, s.uri);
  lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

/**
 * The I-frame playlist of a video rendition (RFC 8216 §4.3.3.6, Apple HLS Authoring Specification): one
 * entry per segment naming its first sample, the IDR the segment starts with, by EXT-X-BYTERANGE
 * `<length>@<offset>` (§4.3.2.2; the offset is always written, as each range is in another file) from the
 * start of its moof through the end of the sample's data. The EXTINF of an I-frame is the time until the
 * next I-frame of the playlist, here the segment's duration. The init segment comes from EXT-X-MAP, which
 * an I-frames-only playlist may use from version 5.
 */
export function iframePlaylist(r: MeasuredRendition): string {
  checkRendition(r);
  if (r.kind !== "video") throw invalid(`rendition ${JSON.stringify(r.dir)}: I-frame playlists are for video`);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${targetDuration(r.segments.map((s) => s.durationSeconds))}`,
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-I-FRAMES-ONLY",
    `#EXT-X-MAP:URI=${quoted(r.init.uri, "init URI")}`,
  ];
  for (const s of r.segments) {
    lines.push(
      `#EXTINF:${extinf(s.durationSeconds)},`,
      `#EXT-X-BYTERANGE:${s.keyframe.length}@${s.keyframe.offset}`,
      s.uri,
    );
  }
  lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

/** Where the master playlist finds a rendition's playlists, relative to the output root. */
export const mediaPlaylistUri = (r: MeasuredRendition): string => `${r.dir}/index.m3u8`;
export const iframePlaylistUri = (r: MeasuredRendition): string => `${r.dir}/iframes.m3u8`;

/**
 * The master (multivariant) playlist (RFC 8216 §4.3.4): the audio rendition as an EXT-X-MEDIA of group
 * "audio", then per video rung, highest first, an EXT-X-STREAM-INF whose BANDWIDTH / AVERAGE-BANDWIDTH are
 * the rung's peak / average segment bit rates plus the audio's (see the top of this file), CODECS of video
 * and audio, RESOLUTION, FRAME-RATE (three decimals) and CLOSED-CAPTIONS=NONE, and after them one
 * EXT-X-I-FRAME-STREAM-INF per rung with the rates of its I-frame playlist.
 */
export function masterPlaylist(renditions: readonly MeasuredRendition[]): string {
  const { video, audio } = split(renditions);
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
  let audioRates = { peak: 0, average: 0 };
  if (audio) {
    audioRates = renditionBitrates(audio);
    const channels = audio.channels === undefined ? "" : `,CHANNELS="${audio.channels}"`;
    lines.push(
      "",
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",DEFAULT=YES,AUTOSELECT=YES${channels},URI=${quoted(mediaPlaylistUri(audio), "URI")}`,
    );
  }
  lines.push("");
  for (const r of video) {
    const rates = renditionBitrates(r);
    const attributes = [
      `BANDWIDTH=${Math.ceil(rates.peak + audioRates.peak)}`,
      `AVERAGE-BANDWIDTH=${Math.ceil(rates.average + audioRates.average)}`,
      `CODECS=${quoted(audio ? `${r.codecs},${audio.codecs}` : r.codecs, "CODECS")}`,
      `RESOLUTION=${r.width}x${r.height}`,
      `FRAME-RATE=${(r.frameRate as number).toFixed(3)}`,
      ...(audio ? ['AUDIO="audio"'] : []),
      "CLOSED-CAPTIONS=NONE",
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(",")}`, relativeUri(mediaPlaylistUri(r), "variant URI"));
  }
  lines.push("");
  for (const r of video) {
    const rates = renditionBitrates(r, "iframes");
    const attributes = [
      `BANDWIDTH=${Math.ceil(rates.peak)}`,
      `AVERAGE-BANDWIDTH=${Math.ceil(rates.average)}`,
      `CODECS=${quoted(r.codecs, "CODECS")}`,
      `RESOLUTION=${r.width}x${r.height}`,
      `URI=${quoted(iframePlaylistUri(r), "URI")}`,
    ];
    lines.push(`#EXT-X-I-FRAME-STREAM-INF:${attributes.join(",")}`);
  }
  return `${lines.join("\n")}\n`;
}

// ----------------------------------------------------------------------------------------------------------
// DASH

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Escape text for an XML attribute value or element content. */
export function escapeXml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string);
}

/** `name="value"` pairs, escaped. */
const attrs = (pairs: ReadonlyArray<readonly [string, string | number]>): string =>
  pairs.map(([key, value]) => `${key}="${escapeXml(value)}"`).join(" ");

/** An xs:duration in seconds with millisecond precision, e.g. PT7.023S. */
const isoDuration = (seconds: number): string => `PT${(Math.ceil(seconds * 1000 - EPSILON) / 1000).toFixed(3)}S`;

/** A DASH FrameRateType (`N` or `N/D`, 23009-1 §5.3.12.2): 30, 30000/1001, else thousandths, reduced. */
export function dashFrameRate(rate: number): string {
  if (Math.abs(rate - Math.round(rate)) < 1e-6) return String(Math.round(rate));
  // NTSC-style rates, N × 1000/1001, also when given rounded (29.97, 59.94, 23.976).
  const ntsc = Math.round(rate * 1.001);
  if (Math.abs(rate - (ntsc * 1000) / 1001) < 1e-3) return `${ntsc * 1000}/1001`;
  let num = Math.round(rate * 1000);
  let den = 1000;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(num, den);
  num /= g;
  den /= g;
  return `${num}/${den}`;
}

/** A literal `$` in a DASH template is written `$$` (23009-1 §5.3.9.4.4). */
const dollar = (text: string): string => text.replaceAll("$", () => "$$");

/**
 * The DASH `media` template for a rendition: its segment URIs must be one name with a number counting up by
 * one from the first (ffmpeg's `seg_%03d.m4s`), becoming `<dir>/seg_$Number%03d$.m4s` with that
 * startNumber. A literal `$` is doubled (23009-1 §5.3.9.4.4).
 */
export function segmentTemplate(r: MeasuredRendition): { media: string; startNumber: number } {
  const first = r.segments[0]?.uri ?? "";
  // The last run of digits before the extension: seg_000.m4s -> "seg_", "000", ".m4s".
  const match = /^(.*?)(\d+)((?:\.[A-Za-z0-9]+)?)$/.exec(first);
  const fail = () =>
    invalid(`rendition ${JSON.stringify(r.dir)}: segment names are not numbered consecutively (DASH needs $Number$)`);
  if (!match) throw fail();
  const [, prefix = "", digits = "", suffix = ""] = match;
  const startNumber = Number(digits);
  const width = digits.length;
  r.segments.forEach((s, i) => {
    if (s.uri !== `${prefix}${String(startNumber + i).padStart(width, "0")}${suffix}`) throw fail();
  });
  const format = width > 1 ? `%0${width}d` : "";
  return { media: `${dollar(`${r.dir}/${prefix}`)}$Number${format}$${dollar(suffix)}`, startNumber };
}

/** Ticks per second for a rendition's SegmentTimeline: its init's, else its sample rate (audio) or 90 kHz. */
const timescaleOf = (r: MeasuredRendition): number =>
  r.timescale ?? (r.kind === "audio" && r.sampleRate ? r.sampleRate : 90_000);

/** `<S>` elements of a SegmentTimeline: durations in ticks, runs of equal durations folded into `r`. */
function segmentTimeline(r: MeasuredRendition, timescale: number): string[] {
  const durations = r.segments.map((s) => Math.round(s.durationSeconds * timescale));
  const runs: Array<{ d: number; r: number }> = [];
  for (const d of durations) {
    const last = runs[runs.length - 1];
    if (last && last.d === d) last.r++;
    else runs.push({ d, r: 0 });
  }
  return runs.map((run, i) => {
    const t = i === 0 ? ' t="0"' : "";
    return `<S${t} d="${run.d}"${run.r > 0 ? ` r="${run.r}"` : ""}/>`;
  });
}

/**
 * The smallest buffer, in seconds, that makes `bandwidth` a valid DASH @bandwidth for these segments
 * (23009-1 §5.3.5.2: delivered at @bandwidth from any SAP, here any segment start, playout never stalls
 * once @minBufferTime × @bandwidth bits have arrived). Counting whole segments, from segment j on,
 * segment k has arrived at (b_j + … + b_k) / bandwidth and plays at minBufferTime + d_j + … + d_(k-1).
 */
export function requiredBufferSeconds(entries: readonly Sized[], bandwidth: number): number {
  let need = 0;
  for (let j = 0; j < entries.length; j++) {
    let bits = 0;
    let played = 0;
    for (let k = j; k < entries.length; k++) {
      const entry = entries[k] as Sized;
      bits += entry.bytes * 8;
      need = Math.max(need, bits / bandwidth - played);
      played += entry.seconds;
    }
  }
  return need;
}

/**
 * The DASH manifest (`manifest.mpd`, ISO/IEC 23009-1 ISO live profile, static) over the same CMAF files:
 * a video AdaptationSet with one Representation per rung, highest first, and an audio AdaptationSet; each
 * Representation with a SegmentTemplate (`initialization`, `media` with $Number$, `startNumber`,
 * `timescale` from the init) and a SegmentTimeline of the measured durations.
 *
 * @bandwidth is the Representation's HLS peak segment bit rate (RFC 8216 §4.1, as for BANDWIDTH, without
 * audio: DASH rates each Representation alone), and @minBufferTime is the smallest buffer that makes every
 * Representation's @bandwidth valid under 23009-1's definition (`requiredBufferSeconds`), and at least the
 * longest segment: about one segment.
 */
export function dashManifest(renditions: readonly MeasuredRendition[], durationMs: number): string {
  if (!(Number.isFinite(durationMs) && durationMs > 0)) throw invalid(`durationMs must be positive, got ${durationMs}`);
  const { video, audio } = split(renditions);
  const all = audio ? [...video, audio] : video;
  const bandwidth = new Map(all.map((r) => [r, Math.ceil(renditionBitrates(r).peak)]));
  const minBuffer = Math.max(
    ...all.map((r) => requiredBufferSeconds(mediaEntries(r), bandwidth.get(r) as number)),
    ...all.flatMap((r) => r.segments.map((s) => s.durationSeconds)),
  );

  const representation = (r: MeasuredRendition, extra: ReadonlyArray<readonly [string, string | number]>): string[] => {
    const timescale = timescaleOf(r);
    const { media, startNumber } = segmentTemplate(r);
    const template = attrs([
      ["timescale", timescale],
      ["initialization", dollar(`${r.dir}/${r.init.uri}`)],
      ["media", media],
      ["startNumber", startNumber],
    ]);
    const lines = [`      <Representation ${attrs([["id", r.dir], ...extra])}>`];
    if (r.kind === "audio" && r.channels !== undefined) {
      lines.push(
        `        <AudioChannelConfiguration ${attrs([
          ["schemeIdUri", "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"],
          ["value", r.channels],
        ])}/>`,
      );
    }
    lines.push(
      `        <SegmentTemplate ${template}>`,
      "          <SegmentTimeline>",
      ...segmentTimeline(r, timescale).map((s) => `            ${s}`),
      "          </SegmentTimeline>",
      "        </SegmentTemplate>",
      "      </Representation>",
    );
    return lines;
  };

  const maxWidth = Math.max(...video.map((r) => r.width as number));
  const maxHeight = Math.max(...video.map((r) => r.height as number));
  const maxFrameRate = video.reduce((a, r) => ((r.frameRate as number) > (a.frameRate as number) ? r : a));
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD ${attrs([
      ["xmlns", "urn:mpeg:dash:schema:mpd:2011"],
      ["profiles", "urn:mpeg:dash:profile:isoff-live:2011"],
      ["type", "static"],
      ["mediaPresentationDuration", isoDuration(durationMs / 1000)],
      ["minBufferTime", isoDuration(minBuffer)],
    ])}>`,
    `  <Period ${attrs([
      ["id", "0"],
      ["start", "PT0S"],
    ])}>`,
    `    <AdaptationSet ${attrs([
      ["id", "0"],
      ["contentType", "video"],
      ["mimeType", "video/mp4"],
      ["segmentAlignment", "true"],
      ["startWithSAP", "1"],
      ["maxWidth", maxWidth],
      ["maxHeight", maxHeight],
      ["maxFrameRate", dashFrameRate(maxFrameRate.frameRate as number)],
    ])}>`,
  ];
  for (const r of video) {
    lines.push(
      ...representation(r, [
        ["bandwidth", bandwidth.get(r) as number],
        ["codecs", r.codecs],
        ["width", r.width as number],
        ["height", r.height as number],
        ["frameRate", dashFrameRate(r.frameRate as number)],
        ["sar", "1:1"],
      ]),
    );
  }
  lines.push("    </AdaptationSet>");
  if (audio) {
    lines.push(
      `    <AdaptationSet ${attrs([
        ["id", "1"],
        ["contentType", "audio"],
        ["mimeType", "audio/mp4"],
        ["segmentAlignment", "true"],
        ["startWithSAP", "1"],
      ])}>`,
      ...representation(audio, [
        ["bandwidth", bandwidth.get(audio) as number],
        ["codecs", audio.codecs],
        ...(audio.sampleRate === undefined ? [] : [["audioSamplingRate", audio.sampleRate] as const]),
      ]),
      "    </AdaptationSet>",
    );
  }
  lines.push("  </Period>", "</MPD>");
  return `${lines.join("\n")}\n`;
}
