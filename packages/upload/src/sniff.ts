// Container sniffing: recognise a video file from its first bytes, before the rest is uploaded.

/** Container families recognised by the sniffer. */
export const videoContainers = ["mp4", "matroska", "mpegts"] as const;
/**
 * `mp4`: ISO BMFF / QuickTime (MP4, MOV, M4V, 3GP, HEIF…): an `ftyp` box at offset 4 with a known
 * major brand. `matroska`: WebM and MKV (EBML magic `1A 45 DF A3`). `mpegts`: MPEG transport stream
 * (sync byte 0x47 at every 188-byte packet start in the bytes sniffed).
 */
export type VideoContainer = (typeof videoContainers)[number];

/** Bytes that must be durably stored before an upload is sniffed (fewer if the whole upload is shorter). */
export const SNIFF_MIN_BYTES = 12;
/** Most bytes read for sniffing (four MPEG-TS packets). */
export const SNIFF_MAX_BYTES = 188 * 4;

const FTYP_BRANDS = new Set([
  "isom",
  "iso2",
  "iso3",
  "iso4",
  "iso5",
  "iso6",
  "iso8",
  "iso9",
  "mp41",
  "mp42",
  "mp71",
  "avc1",
  "qt  ",
  "M4V ",
  "M4VH",
  "M4VP",
  "M4A ",
  "3gp4",
  "3gp5",
  "3gp6",
  "3gp7",
  "3gp8",
  "3gp9",
  "3g2a",
  "3g2b",
  "3g2c",
  "hvc1",
  "hev1",
  "heic",
  "heix",
  "heim",
  "heis",
  "hevc",
  "hevx",
  "mif1",
  "msf1",
  "av01",
  "avif",
  "dash",
  "f4v ",
  "MSNV",
  "XAVC",
  "NDAS",
  "mmp4",
  "CAEP",
  "crx ",
]);

/** Which container `head` (the first bytes of a file) starts, or `undefined` when none is recognised. */
export function sniffContainer(head: Uint8Array): VideoContainer | undefined {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length >= 12 && bytes.toString("latin1", 4, 8) === "ftyp") {
    const size = bytes.readUInt32BE(0);
    if ((size === 1 || size >= 16) && FTYP_BRANDS.has(bytes.toString("latin1", 8, 12))) return "mp4";
  }
  if (bytes.length >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3)
    return "matroska";
  if (bytes.length >= 4 && bytes[0] === 0x47) {
    // Transport error indicator clear, adaptation field control not the reserved 00.
    const plausible = (at: number) =>
      bytes[at] === 0x47 && ((bytes[at + 1] ?? 0) & 0x80) === 0 && ((bytes[at + 3] ?? 0x10) & 0x30) !== 0;
    let ok = true;
    for (let at = 0; at + 4 <= bytes.length; at += 188) ok &&= plausible(at);
    if (ok) return "mpegts";
  }
  return undefined;
}
