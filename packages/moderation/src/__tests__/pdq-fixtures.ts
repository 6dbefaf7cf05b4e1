// Test helpers for PDQ: Meta's reference vectors from the shared data folder, decoded with a small
// PPM reader or with ffmpeg, and small synthetic images of our own.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDataDir } from "../../../../test/services.js";

export interface Image {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export const pdqDir = () => join(sharedDataDir(), "pdq");
export const imagesDir = () => join(pdqDir(), "images");

/** expected.txt: `hash quality file` per line. */
export function expectedHashes(): Map<string, { hash: string; quality: number }> {
  const out = new Map<string, { hash: string; quality: number }>();
  for (const line of readFileSync(join(pdqDir(), "expected.txt"), "utf8").split("\n")) {
    const [hash, quality, file] = line.trim().split(/\s+/);
    if (hash && quality && file) out.set(file, { hash, quality: Number(quality) });
  }
  return out;
}

/** A binary PPM (P6, maxval 255): header tokens separated by whitespace, `#` comments, then RGB bytes. */
export function readPpm(path: string): Image {
  const data = readFileSync(path);
  const tokens: string[] = [];
  let pos = 0;
  while (tokens.length < 4) {
    while (pos < data.length && /\s/.test(String.fromCharCode(data[pos] as number))) pos++;
    if (data[pos] === 0x23) {
      while (pos < data.length && data[pos] !== 0x0a) pos++;
      continue;
    }
    let token = "";
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos] as number)))
      token += String.fromCharCode(data[pos++] as number);
    tokens.push(token);
  }
  pos++; // the single whitespace byte after maxval
  const [magic, w, h, max] = tokens;
  if (magic !== "P6" || max !== "255") throw new Error(`${path}: not an 8-bit P6 PPM`);
  const width = Number(w);
  const height = Number(h);
  return { rgb: new Uint8Array(data.subarray(pos, pos + width * height * 3)), width, height };
}

/**
 * Decode an image to interleaved RGB with ffmpeg. The integer IDCT and accurate, full-chroma
 * YUV→RGB conversion come closest to libjpeg, which Meta's reference decodes with.
 */
export function decodeImage(path: string): Image {
  const probe = execFileSync(
    "ffprobe",
    ["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path],
    {
      encoding: "utf8",
    },
  );
  const [width, height] = probe.trim().split(",").map(Number) as [number, number];
  const rgb = execFileSync(
    "ffmpeg",
    [
      ...["-v", "error", "-idct", "int", "-i", path],
      ...["-sws_flags", "accurate_rnd+full_chroma_int", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  return { rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), width, height };
}

/**
 * A deterministic, asymmetric test picture: soft blobs and a ramp, so every rotation looks different.
 * Frozen: pdq.test.ts holds Meta's reference output for some of these pictures.
 */
export function syntheticImage(width: number, height: number, seed = 1): Image {
  let s = seed >>> 0;
  const random = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const blobs = Array.from({ length: 7 }, () => ({
    x: random() * width,
    y: random() * height,
    r: (0.08 + random() * 0.25) * Math.min(width, height),
    c: [random() * 255, random() * 255, random() * 255],
  }));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ramp = (x / width) * 60 + (y / height) * 30;
      for (let ch = 0; ch < 3; ch++) {
        let v = ramp;
        for (const b of blobs) {
          const d2 = ((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r);
          v += (b.c[ch] as number) * Math.exp(-d2);
        }
        rgb[(y * width + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { rgb, width, height };
}

/** Deterministic RGB noise (frozen, like syntheticImage). */
export function noiseImage(width: number, height: number, seed: number): Image {
  let s = seed >>> 0;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    rgb[i] = s >>> 24;
  }
  return { rgb, width, height };
}

/** Rotate a quarter turn anticlockwise (the top row becomes the left column, read bottom-up). */
export function rotateAnticlockwise(image: Image): Image {
  const { rgb, width, height } = image;
  const out = new Uint8Array(rgb.length);
  // Output is height wide and width tall; output (x', y') = input (width − 1 − y', x').
  for (let y2 = 0; y2 < width; y2++) {
    for (let x2 = 0; x2 < height; x2++) {
      const from = (x2 * width + (width - 1 - y2)) * 3;
      const to = (y2 * height + x2) * 3;
      out[to] = rgb[from] as number;
      out[to + 1] = rgb[from + 1] as number;
      out[to + 2] = rgb[from + 2] as number;
    }
  }
  return { rgb: out, width: height, height: width };
}

/** Mirror left to right. */
export function mirror(image: Image): Image {
  const { rgb, width, height } = image;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      out.set(rgb.subarray(from, from + 3), to);
    }
  }
  return { rgb: out, width, height };
}
