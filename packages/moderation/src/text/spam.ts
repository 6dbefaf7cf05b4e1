import { normalizeText } from "./normalize.js";

/**
 * Obfuscated dots people use to keep a link from being linked or filtered: `example[.]com`,
 * `example(dot)com`, `example [dot] com`, `example dot com` (a bare " dot " only before a common top-level domain).
 */
const OBFUSCATED_DOT =
  /\s*[[({]\s*(?:\.|dot)\s*[\])}]\s*|(?<=[a-z0-9])\s+dot\s+(?=(?:com|net|org|io|co|me|info|biz|xyz|shop|app|link|click|top|site|online|store|live|ru|tk|gg|tv|ly|to|us|uk|de)\b)/gi;
// A host name with a letter-only top-level domain, optionally after a scheme and before a path.
const LINK =
  /(?:\b[a-z][a-z0-9+.-]*:\/\/)?(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])(?::\d{1,5})?(?:[/?#][^\s<>"]*)?/gi;

/** One link found in text. */
export interface FoundLink {
  /** As written (after de-obfuscation). */
  text: string;
  /** Lower-case host name, without a trailing dot or `www.`. */
  domain: string;
}

/** Links in `text`: URLs with a scheme and bare host names (`example.com/x`), de-obfuscated first. */
export function extractLinks(text: string): FoundLink[] {
  const plain = text.normalize("NFKC").replace(OBFUSCATED_DOT, ".");
  const out: FoundLink[] = [];
  for (const m of plain.matchAll(LINK)) {
    const host = (m[1] as string).toLowerCase().replace(/^www\./, "");
    // "e.g" or "a.m" are not links: require a TLD of two letters and a name of two characters.
    if (!host.includes(".") || host.split(".").some((part) => part === "")) continue;
    out.push({ text: m[0], domain: host });
  }
  return out;
}

/** Whether `domain` is `listed` or a subdomain of it (`a.evil.com` is under `evil.com`). */
export function domainMatches(domain: string, listed: string): boolean {
  return domain === listed || domain.endsWith(`.${listed}`);
}

/** `@mentions` and `#hashtags` in `text` (distinct, lower-case, without the sign). */
export function extractTags(text: string): { mentions: string[]; hashtags: string[] } {
  const plain = text.normalize("NFKC");
  const mentions = new Set<string>();
  const hashtags = new Set<string>();
  for (const m of plain.matchAll(/(?<![\p{L}\p{N}_])([@#])([\p{L}\p{N}_][\p{L}\p{N}_.]*)/gu)) {
    const name = (m[2] as string).replace(/\.+$/, "").toLowerCase();
    (m[1] === "@" ? mentions : hashtags).add(name);
  }
  return { mentions: [...mentions], hashtags: [...hashtags] };
}

// ---------------------------------------------------------------------------------------------
// Near-duplicates: MinHash over character shingles of normalised text.

const FNV_OFFSET = 0x811c9dc5;
function fnv1a(s: string, seed: number): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
function mix(h: number, seed: number): number {
  let x = (h ^ seed) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** A MinHash signature: `k` minimums of seeded hashes over the text's shingles. */
export function minHash(normalized: string, k = 64, shingle = 5): Uint32Array {
  const sig = new Uint32Array(k).fill(0xffffffff);
  const text = normalized.length < shingle ? normalized.padEnd(shingle, " ") : normalized;
  const seen = new Set<number>();
  for (let i = 0; i + shingle <= text.length; i++) {
    const base = fnv1a(text.slice(i, i + shingle), 0);
    if (seen.has(base)) continue;
    seen.add(base);
    for (let j = 0; j < k; j++) {
      const h = mix(base, Math.imul(j + 1, 0x9e3779b9) >>> 0);
      if (h < (sig[j] as number)) sig[j] = h;
    }
  }
  return sig;
}

/** Estimated Jaccard similarity of two signatures' shingle sets (share of equal minimums). */
export function minHashSimilarity(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

export interface DuplicateWindowOptions {
  /** Posts remembered (the oldest is forgotten first). @default 5000 */
  maxEntries?: number;
  /** Posts older than this are forgotten. @default 3_600_000 (1 h) */
  windowMs?: number;
  /** Estimated Jaccard similarity at which two posts are near-duplicates. @default 0.7 */
  similarity?: number;
  /** Texts shorter than this after normalisation are neither compared nor remembered ("lol", "nice"). @default 20 */
  minLength?: number;
  /** MinHash size. @default 64 */
  permutations?: number;
}

export interface DuplicateHit {
  id: string;
  author: string;
  similarity: number;
  at: number;
}

/**
 * A bounded window of recent posts for near-duplicate detection: `check` compares a new post with
 * every remembered one (MinHash over 5-character shingles of normalised text) and then remembers it.
 * Memory is `maxEntries × permutations × 4` bytes plus the ids.
 */
export class DuplicateWindow {
  private readonly entries: Array<{ id: string; author: string; at: number; sig: Uint32Array }> = [];
  private readonly maxEntries: number;
  private readonly windowMs: number;
  private readonly similarity: number;
  private readonly minLength: number;
  private readonly permutations: number;

  constructor(options: DuplicateWindowOptions = {}) {
    this.maxEntries = options.maxEntries ?? 5000;
    this.windowMs = options.windowMs ?? 3_600_000;
    this.similarity = options.similarity ?? 0.7;
    this.minLength = options.minLength ?? 20;
    this.permutations = options.permutations ?? 64;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Near-duplicates of `text` among remembered posts within the window; then remembers the post. */
  check(post: { id: string; author: string; text: string; at: number }): DuplicateHit[] {
    // Drop what fell out of the window (entries are in arrival order).
    while (this.entries.length > 0 && (this.entries[0] as { at: number }).at <= post.at - this.windowMs)
      this.entries.shift();
    const normalized = normalizeText(post.text);
    if (normalized.length < this.minLength) return [];
    const sig = minHash(normalized, this.permutations);
    const hits: DuplicateHit[] = [];
    for (const e of this.entries) {
      if (e.id === post.id) continue;
      const similarity = minHashSimilarity(sig, e.sig);
      if (similarity >= this.similarity) hits.push({ id: e.id, author: e.author, similarity, at: e.at });
    }
    this.entries.push({ id: post.id, author: post.author, at: post.at, sig });
    if (this.entries.length > this.maxEntries) this.entries.shift();
    return hits;
  }
}
