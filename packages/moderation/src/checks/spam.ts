import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import { accountOf, type CheckSignal, type ModerationCheck, textsOf } from "../moderation.js";
import type { FailMode, Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import {
  DuplicateWindow,
  type DuplicateWindowOptions,
  domainMatches,
  extractLinks,
  extractTags,
} from "../text/spam.js";
import { commonCheckOptions, momentsOption } from "./options.js";

export interface SpamCheckOptions {
  /** @default "spam" */
  name?: string;
  /** Domains (and their subdomains) that are never acceptable: score 1, `spam:blocked_domain`. */
  blockDomains?: readonly string[];
  /** Domains (and subdomains) that are fine: not counted as links, never blocked. */
  allowDomains?: readonly string[];
  /** Links (outside `allowDomains`) one text may carry before it counts as spam. @default 2 */
  maxLinks?: number;
  /** Distinct @mentions before a mention flood. @default 5 */
  maxMentions?: number;
  /** Distinct #hashtags before a hashtag flood. @default 10 */
  maxHashtags?: number;
  /** Near-duplicates across recent posts; `false` turns it off. @default {} (see `DuplicateWindow`) */
  duplicates?: DuplicateWindowOptions | false;
  /** Near-duplicates at which the score reaches 0.9 (the default policy's `hold`); one scores 0.5 (`limit`). @default 3 */
  duplicatesToHold?: number;
  /** @default ["publish", "comment"] */
  moments?: readonly Moment[];
  timeoutMs?: number;
  failMode?: FailMode;
}

const domain = z
  .string()
  .transform((d) =>
    d
      .trim()
      .toLowerCase()
      .replace(/^www\./, "")
      .replace(/\.$/, ""),
  )
  .pipe(z.string().regex(/^(?:[a-z0-9-]+\.)+[a-z]{2,}$/, "a domain like example.com"));
const count = z.int().min(0).max(10_000);
const optionsSchema = z.strictObject({
  ...commonCheckOptions,
  blockDomains: z.array(domain).default([]),
  allowDomains: z.array(domain).default([]),
  maxLinks: count.default(2),
  maxMentions: count.default(5),
  maxHashtags: count.default(10),
  duplicates: z
    .union([
      z.literal(false),
      z.strictObject({
        maxEntries: z.int().min(1).max(1_000_000).optional(),
        windowMs: z.int().min(1).optional(),
        similarity: z.number().gt(0).max(1).optional(),
        minLength: z.int().min(1).optional(),
        permutations: z.int().min(8).max(1024).optional(),
      }),
    ])
    .default({}),
  duplicatesToHold: z.int().min(2).max(1000).default(3),
  moments: momentsOption,
});

/** Over `max`: 0.5 at the first one over, rising to 0.9 at twice `max` (+1), capped at 1. */
export function floodScore(n: number, max: number): number {
  if (n <= max) return 0;
  return Math.min(1, 0.5 + (0.4 * (n - max - 1)) / Math.max(1, max));
}

/**
 * Spam signals (category `spam`): blocked domains, too many links, mention and hashtag floods, and
 * near-duplicates of recent posts (the same text from one account or many). The duplicate window
 * lives in this check's memory: one instance per process, bounded by its options.
 */
export function createSpamCheck(
  options: SpamCheckOptions = {},
): ModerationCheck & { readonly window?: DuplicateWindow } {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "spam check options");
  const window = o.duplicates === false ? undefined : new DuplicateWindow(o.duplicates as DuplicateWindowOptions);
  const allowed = (d: string) => o.allowDomains.some((a) => domainMatches(d, a));
  const blocked = (d: string) => !allowed(d) && o.blockDomains.some((b) => domainMatches(d, b));
  return {
    name: o.name ?? "spam",
    moments: o.moments ?? ["publish", "comment"],
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.failMode !== undefined ? { failMode: o.failMode } : {}),
    ...(window ? { window } : {}),
    run(context) {
      const texts = textsOf(context);
      const text = texts.join("\n");
      const signals: CheckSignal[] = [];
      const links = extractLinks(text).filter((l) => !allowed(l.domain));
      const bad = [...new Set(links.filter((l) => blocked(l.domain)).map((l) => l.domain))];
      if (bad.length > 0) {
        signals.push({ category: "spam", score: 1, reasonCodes: ["spam:blocked_domain"], evidence: { domains: bad } });
      }
      const linkScore = floodScore(links.length, o.maxLinks);
      if (linkScore > 0) {
        signals.push({
          category: "spam",
          score: linkScore,
          reasonCodes: ["spam:links"],
          evidence: { links: links.length, domains: [...new Set(links.map((l) => l.domain))] },
        });
      }
      const { mentions, hashtags } = extractTags(text);
      const mentionScore = floodScore(mentions.length, o.maxMentions);
      if (mentionScore > 0) {
        signals.push({
          category: "spam",
          score: mentionScore,
          reasonCodes: ["spam:mention_flood"],
          evidence: { mentions: mentions.length },
        });
      }
      const hashtagScore = floodScore(hashtags.length, o.maxHashtags);
      if (hashtagScore > 0) {
        signals.push({
          category: "spam",
          score: hashtagScore,
          reasonCodes: ["spam:hashtag_flood"],
          evidence: { hashtags: hashtags.length },
        });
      }
      const author = accountOf(context)?.id;
      if (
        window &&
        author !== undefined &&
        texts.length > 0 &&
        (context.moment === "publish" || context.moment === "comment")
      ) {
        // Captions and comments are compared in one window; hashtags are left out (popular ones repeat).
        const body =
          context.moment === "publish" ? [context.input.title, context.input.caption].filter(Boolean).join("\n") : text;
        const hits = window.check({
          id: `${context.subject.kind}:${context.subject.id}`,
          author,
          text: body,
          at: context.at,
        });
        if (hits.length > 0) {
          const authors = new Set(hits.map((h) => h.author));
          signals.push({
            category: "spam",
            score: Math.min(1, 0.5 + (0.4 * (hits.length - 1)) / (o.duplicatesToHold - 1)),
            reasonCodes: [authors.size === 1 && authors.has(author) ? "spam:repeated_post" : "spam:duplicate"],
            evidence: { duplicates: hits.length, of: hits.slice(0, 10).map((h) => h.id), authors: authors.size },
          });
        }
      }
      return signals;
    },
  };
}
