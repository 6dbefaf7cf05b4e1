import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import { type CheckSignal, type ModerationCheck, textsOf } from "../moderation.js";
import type { FailMode, Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { defaultTermLists } from "../text/default-terms.js";
import { createTermMatcher, type TermLists } from "../text/terms.js";
import { commonCheckOptions, momentsOption } from "./options.js";

export interface TextCheckOptions {
  /** @default "text" */
  name?: string;
  /** Term lists by category. @default defaultTermLists */
  lists?: TermLists;
  /** @default ["publish", "comment", "report"] */
  moments?: readonly Moment[];
  timeoutMs?: number;
  failMode?: FailMode;
}

const optionsSchema = z.strictObject({
  ...commonCheckOptions,
  lists: z.record(z.string(), z.unknown()).optional(),
  moments: momentsOption,
});

/**
 * Term lists against the moment's texts (title, caption, hashtags; comment; report text), after
 * normalisation. One signal per category with a match: the highest term score, reason code
 * `text:<category>`, evidence `{ terms, matches }`.
 */
export function createTextCheck(options: TextCheckOptions = {}): ModerationCheck {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "text check options");
  const matcher = createTermMatcher(options.lists ?? defaultTermLists);
  return {
    name: o.name ?? "text",
    moments: o.moments ?? ["publish", "comment", "report"],
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.failMode !== undefined ? { failMode: o.failMode } : {}),
    run(context) {
      const found = new Map<string, { score: number; terms: Set<string>; matches: Set<string> }>();
      for (const text of textsOf(context)) {
        for (const [category, { score, matches }] of matcher.scores(text)) {
          const cur = found.get(category) ?? { score: 0, terms: new Set<string>(), matches: new Set<string>() };
          cur.score = Math.max(cur.score, score);
          for (const m of matches) {
            cur.terms.add(m.term);
            cur.matches.add(m.match);
          }
          found.set(category, cur);
        }
      }
      const signals: CheckSignal[] = [];
      for (const [category, f] of found) {
        signals.push({
          category,
          score: f.score,
          reasonCodes: [`text:${category}`],
          evidence: { terms: [...f.terms], matches: [...f.matches] },
        });
      }
      return signals;
    },
  };
}
