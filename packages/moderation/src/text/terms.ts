import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import { categorySchema } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { normalizeText } from "./normalize.js";

/**
 * One entry of a term list. `term` is lower-case Latin, written plainly (no leetspeak), and may
 * contain spaces for a phrase. A leading or trailing `*` lets the match start or end inside a
 * word: `"fuck*"` matches `fucking`, `"*fuck*"` also `motherfucker`; without `*` the term must be a
 * whole word (`"ass"` matches `ass`, never `assess` or `classic`).
 */
export interface TermEntry {
  term: string;
  /** How bad a match is, 0–1; the category's signal has the highest score of its matches. @default 0.6 */
  score?: number;
}

/** A category's terms and the words that contain them but are fine. */
export interface TermCategory {
  terms: ReadonlyArray<string | TermEntry>;
  /**
   * Innocent words a `*` term would otherwise hit, e.g. `cocktail` for `"*cock*"`. Compared with the
   * whole word that holds the match, normalised; a trailing `*` allows any ending (`"cocktail*"`).
   */
  allow?: readonly string[];
}

/** Term lists by category (`profanity`, `sexual`, `hate`, … or your own names). */
export type TermLists = Readonly<Record<string, TermCategory>>;

/** One match in normalised text. */
export interface TermMatch {
  category: string;
  /** The term as listed. */
  term: string;
  score: number;
  /** The normalised word(s) that matched. */
  match: string;
  /** Offset of the match in the normalised text. */
  index: number;
}

export interface TermMatcher {
  /** Every non-allowlisted match in `text` (normalised first), in order of position. */
  match(text: string): TermMatch[];
  /** Highest score per category with matches. */
  scores(text: string): Map<string, { score: number; matches: TermMatch[] }>;
}

const termPattern = /^\*?[a-z0-9]+(?: [a-z0-9]+)*\*?$/;
const termSchema = z.union([
  z.string().regex(termPattern, "a term is lower-case a–z / 0–9 words, optionally starting or ending with *"),
  z.strictObject({
    term: z.string().regex(termPattern, "a term is lower-case a–z / 0–9 words, optionally starting or ending with *"),
    score: z.number().min(0).max(1).optional(),
  }),
]);
const allowPattern = /^[a-z0-9]+(?: [a-z0-9]+)*\*?$/;
const listsSchema = z.record(
  categorySchema,
  z.strictObject({
    terms: z.array(termSchema).min(1),
    allow: z
      .array(z.string().regex(allowPattern, "an allowlist entry is lower-case words, optionally ending with *"))
      .optional(),
  }),
);

/** `l` and `i` (and so `1`) are confusable: compare them as one letter on both sides. */
const fold = (s: string) => s.replace(/l/g, "i");

interface Compiled {
  category: string;
  term: string;
  score: number;
  regex: RegExp;
}

function compileTerm(category: string, term: string, score: number): Compiled {
  const open = term.startsWith("*");
  const close = term.endsWith("*");
  const body = fold(term.replace(/^\*|\*$/g, ""));
  // Stretched letters: a doubled letter matches two or more ("ass" needs two s); a single letter
  // matches one or three and more ("fuuuck"), never two, since doubling a letter makes other words
  // ("asses" must not match "assess").
  let source = "";
  for (const run of body.match(/(.)\1*/g) ?? []) {
    const c = run[0] as string;
    if (c === " ") source += " ";
    else source += run.length === 1 ? `${c}(?:${c}{2,})?` : `${c}{${run.length},}`;
  }
  if (!open) source = `(?<![\\p{L}\\p{N}])${source}`;
  if (!close) source = `${source}(?![\\p{L}\\p{N}])`;
  return { category, term, score, regex: new RegExp(source, "gu") };
}

function wordAround(text: string, start: number, end: number): string {
  let s = start;
  let e = end;
  while (s > 0 && text[s - 1] !== " ") s--;
  while (e < text.length && text[e] !== " ") e++;
  return text.slice(s, e);
}

/**
 * Compile term lists into a matcher over normalised text (see `normalizeText`). Matching is
 * word-boundary aware, tolerant of stretched letters (`fuuuck`), treats `l`/`i`/`1` alike, and skips a
 * match whose word is on the category's allowlist.
 *
 * @throws ModerationError `INVALID_OPTIONS` for a malformed list.
 */
export function createTermMatcher(lists: TermLists): TermMatcher {
  const parsed = parseWith(listsSchema, lists, ModerationErrorCode.INVALID_OPTIONS, "term lists");
  const compiled: Compiled[] = [];
  const allows = new Map<string, { exact: Set<string>; prefixes: string[] }>();
  for (const [category, { terms, allow = [] }] of Object.entries(parsed)) {
    for (const t of terms) {
      const entry = typeof t === "string" ? { term: t } : t;
      compiled.push(compileTerm(category, entry.term, entry.score ?? 0.6));
    }
    allows.set(category, {
      exact: new Set(allow.filter((a) => !a.endsWith("*")).map((a) => fold(a))),
      prefixes: allow.filter((a) => a.endsWith("*")).map((a) => fold(a.slice(0, -1))),
    });
  }
  const allowed = (category: string, word: string) => {
    const a = allows.get(category);
    if (!a) return false;
    return a.exact.has(word) || a.prefixes.some((p) => word.startsWith(p));
  };

  const match = (text: string): TermMatch[] => {
    const plain = normalizeText(text);
    const normalized = fold(plain); // same length as `plain`: offsets carry over
    const out: TermMatch[] = [];
    for (const c of compiled) {
      c.regex.lastIndex = 0;
      for (let m = c.regex.exec(normalized); m !== null; m = c.regex.exec(normalized)) {
        const end = m.index + m[0].length;
        // Phrases may span words: the allowlist is checked against the word(s) holding the match.
        if (!allowed(c.category, wordAround(normalized, m.index, end))) {
          out.push({
            category: c.category,
            term: c.term,
            score: c.score,
            match: plain.slice(m.index, end),
            index: m.index,
          });
        }
        c.regex.lastIndex = m.index + 1;
      }
    }
    return out.sort((a, b) => a.index - b.index || a.category.localeCompare(b.category));
  };

  return {
    match,
    scores(text) {
      const by = new Map<string, { score: number; matches: TermMatch[] }>();
      for (const m of match(text)) {
        const cur = by.get(m.category);
        if (cur) {
          cur.score = Math.max(cur.score, m.score);
          cur.matches.push(m);
        } else by.set(m.category, { score: m.score, matches: [m] });
      }
      return by;
    },
  };
}
