import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { type CheckContext, type CheckSignal, type ModerationCheck, textsOf } from "../moderation.js";
import { categorySchema, type FailMode, type Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { momentsOption } from "./options.js";

/** OpenAI moderation categories → ours. Categories not listed are lower-cased, `-` and `/` as `_`. */
export const openAiCategoryMap: Readonly<Record<string, string>> = {
  sexual: "sexual",
  "sexual/minors": "child_safety",
  harassment: "harassment",
  "harassment/threatening": "harassment",
  hate: "hate",
  "hate/threatening": "hate",
  illicit: "illicit",
  "illicit/violent": "illicit",
  "self-harm": "self_harm",
  "self-harm/intent": "self_harm",
  "self-harm/instructions": "self_harm",
  violence: "violence",
  "violence/graphic": "violence",
};

export interface HttpClassifierOptions {
  /** The endpoint, e.g. `https://api.openai.com/v1/moderations` or your own service. */
  url: string;
  /** @default "classifier" */
  name?: string;
  /** Sent with every request (e.g. `authorization`). */
  headers?: Record<string, string>;
  /** Abort the request after this long, ms; the failure is `CHECK_TIMEOUT`. @default 3000 */
  timeoutMs?: number;
  /** What a failure leads to. @default "closed" (hold for review) */
  failMode?: FailMode;
  /** @default ["publish", "comment"] */
  moments?: readonly Moment[];
  /** Request body. @default `{ input: texts, model }` (OpenAI's moderation request) */
  request?: (texts: string[], context: CheckContext | undefined) => unknown;
  /**
   * Category scores from the parsed JSON answer; throw if it is not what you expect.
   * @default OpenAI's `{ results: [{ category_scores: { … } }] }`, the highest score per category over the results
   */
  parse?: (body: unknown) => Record<string, number>;
  /** Their category → ours. @default openAiCategoryMap */
  categoryMap?: Record<string, string>;
  /** Scores below this are not reported. @default 0.01 */
  minScore?: number;
  /** Sent as `model` by the default request. */
  model?: string;
}

const optionsSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  name: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.int().min(1).max(599_000).default(3000),
  failMode: z.enum(["open", "closed"]).default("closed"),
  moments: momentsOption,
  request: z.custom<HttpClassifierOptions["request"]>((v) => typeof v === "function").optional(),
  parse: z.custom<HttpClassifierOptions["parse"]>((v) => typeof v === "function").optional(),
  categoryMap: z.record(z.string(), categorySchema).optional(),
  minScore: z.number().min(0).max(1).default(0.01),
  model: z.string().min(1).optional(),
});

const openAiResponse = z.object({
  results: z.array(z.object({ category_scores: z.record(z.string(), z.number().min(0).max(1)) })).min(1),
});

/** Parse OpenAI's moderation answer: the highest score per category over all results. */
export function parseOpenAiModeration(body: unknown): Record<string, number> {
  const parsed = openAiResponse.parse(body);
  const out: Record<string, number> = {};
  for (const r of parsed.results)
    for (const [k, v] of Object.entries(r.category_scores)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

export interface HttpClassifierCheck extends ModerationCheck {
  /** Classify texts directly: category scores in our categories (before `minScore`). */
  classify(texts: string[], options?: { signal?: AbortSignal }): Promise<Record<string, number>>;
}

/**
 * A check backed by an external HTTP classifier (OpenAI-moderation-like JSON by default): the
 * moment's texts are POSTed as JSON, the answer's category scores become signals (reason code
 * `classifier:<their category>`). A timeout, network error, non-2xx status or malformed answer
 * fails the check (`CHECK_TIMEOUT` / `CLASSIFIER_FAILED`), which by default holds the content.
 * Moments without text send nothing.
 */
export function createHttpClassifierCheck(options: HttpClassifierOptions): HttpClassifierCheck {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "HTTP classifier options");
  const name = o.name ?? "classifier";
  const categoryMap = o.categoryMap ?? openAiCategoryMap;
  const parse = o.parse ?? parseOpenAiModeration;
  const mapCategory = (c: string) =>
    categoryMap[c] ??
    c
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .replace(/^[^a-z]+/, "")
      .slice(0, 48);
  // `self-harm/intent` → `classifier:self-harm:intent` (a valid review-queue reason code).
  const reasonFor = (c: string) => `classifier:${c.replace(/\//g, ":").replace(/[^A-Za-z0-9_.:-]/g, "_")}`.slice(0, 64);

  async function fetchScores(texts: string[], context: CheckContext | undefined, signal: AbortSignal | undefined) {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const body = o.request ? o.request(texts, context) : { input: texts, ...(o.model ? { model: o.model } : {}) };
    let response: Response;
    let text: string;
    try {
      response = await fetch(o.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...(o.headers ?? {}) },
        body: JSON.stringify(body),
        signal: combined,
      });
      text = await response.text();
    } catch (cause) {
      if (timeout.aborted) {
        throw new ModerationError(
          ModerationErrorCode.CHECK_TIMEOUT,
          `classifier "${name}" did not answer within ${o.timeoutMs} ms`,
          { cause },
        );
      }
      if (signal?.aborted) throw signal.reason;
      throw new ModerationError(
        ModerationErrorCode.CLASSIFIER_FAILED,
        `classifier "${name}" request failed: ${String(cause)}`,
        { cause },
      );
    }
    if (!response.ok) {
      throw new ModerationError(
        ModerationErrorCode.CLASSIFIER_FAILED,
        `classifier "${name}" answered HTTP ${response.status}: ${text.slice(0, 200)}`,
      );
    }
    let scores: Record<string, number>;
    try {
      scores = parse(JSON.parse(text));
    } catch (cause) {
      throw new ModerationError(
        ModerationErrorCode.CLASSIFIER_FAILED,
        `classifier "${name}" answered something unexpected: ${text.slice(0, 200)}`,
        { cause },
      );
    }
    const out: Record<string, number> = {};
    for (const [theirs, score] of Object.entries(scores)) {
      if (typeof score !== "number" || !(score >= 0 && score <= 1)) {
        throw new ModerationError(
          ModerationErrorCode.CLASSIFIER_FAILED,
          `classifier "${name}" gave "${theirs}" a score outside 0–1: ${String(score)}`,
        );
      }
      const ours = mapCategory(theirs);
      out[ours] = Math.max(out[ours] ?? 0, score);
    }
    return { scores, out };
  }

  return {
    name,
    moments: o.moments ?? ["publish", "comment"],
    // A little longer than the request's own limit, so the request's clearer error wins.
    timeoutMs: o.timeoutMs + 250,
    failMode: o.failMode,
    async classify(texts, opts = {}) {
      return (await fetchScores(texts, undefined, opts.signal)).out;
    },
    async run(context) {
      const texts = textsOf(context);
      if (texts.length === 0) return [];
      const { scores } = await fetchScores(texts, context, context.signal);
      const best = new Map<string, { score: number; reasons: Set<string> }>();
      for (const [theirs, score] of Object.entries(scores)) {
        if (score < o.minScore) continue;
        const ours = mapCategory(theirs);
        const cur = best.get(ours) ?? { score: 0, reasons: new Set<string>() };
        cur.score = Math.max(cur.score, score);
        cur.reasons.add(reasonFor(theirs));
        best.set(ours, cur);
      }
      const signals: CheckSignal[] = [];
      for (const [category, { score, reasons }] of best) {
        signals.push({ category, score, reasonCodes: [...reasons].sort(), evidence: { scores } });
      }
      return signals;
    },
  };
}
