import { randomUUID } from "node:crypto";
import { z } from "zod";
import { isModerationError, ModerationError, ModerationErrorCode } from "./errors.js";
import { pdqHashSchema } from "./pdq/hamming.js";
import {
  type CheckFailure,
  categorySchema,
  createPolicy,
  type FailMode,
  type Moment,
  type Policy,
  type PolicyOptions,
  reasonCodeSchema,
  type Signal,
} from "./policy/policy.js";
import type { Decision, ReviewSubject } from "./queue/types.js";
import { parseWith } from "./queue/validate.js";

// ---------------------------------------------------------------------------------------------
// Inputs, one per moment.

/** What is known about an account (uploader, commenter, reporter, engager). */
export interface AccountSignals {
  id: string;
  /** When the account was created, ms since the epoch. */
  createdAt?: number;
  /** Upheld violations so far. */
  strikes?: number;
  verified?: boolean;
  followers?: number;
}

/** Where a request came from. Hash or truncate IPs before they reach here if you must. */
export interface SourceSignals {
  ip?: string;
  device?: string;
}

/** Before publishing: the video's text and its uploader. */
export interface PublishInput {
  /** The video's id. */
  id: string;
  uploader: AccountSignals;
  title?: string;
  caption?: string;
  hashtags?: string[];
  source?: SourceSignals;
  /** ms since the epoch. @default now */
  at?: number;
}

/** One hashed frame (a `VpdqFrame` from `hashVideo` fits). */
export interface FrameHash {
  hash: string;
  quality: number;
  frame?: number;
  timestamp?: number;
}

/** After transcoding: the video's frames, as PDQ hashes, and/or a file a check may hash itself. */
export interface TranscodedInput {
  id: string;
  uploader?: AccountSignals;
  frames?: FrameHash[];
  /** A local file (e.g. the transcoded rendition) for checks that decode it (`hashVideo`). */
  path?: string;
  at?: number;
}

/** A comment on a video. */
export interface CommentInput {
  id: string;
  videoId: string;
  author: AccountSignals;
  text: string;
  source?: SourceSignals;
  at?: number;
}

/** A user's report about a subject. */
export interface ReportInput {
  subject: ReviewSubject;
  reporter: AccountSignals;
  /** The category the reporter chose, e.g. `spam`, `hate`. */
  reason: string;
  text?: string;
  source?: SourceSignals;
  at?: number;
}

/** A like, follow, share, view… on a subject. */
export interface EngagementInput {
  subject: ReviewSubject;
  actor: AccountSignals;
  /** `like`, `follow`, `share`, `view`, … */
  type: string;
  source?: SourceSignals;
  at?: number;
}

export interface MomentInputs {
  publish: PublishInput;
  transcoded: TranscodedInput;
  comment: CommentInput;
  report: ReportInput;
  engagement: EngagementInput;
}

const idSchema = z.string().min(1).max(256);
const timeSchema = z.number().int().nonnegative();
const accountSchema = z.strictObject({
  id: idSchema,
  createdAt: timeSchema.optional(),
  strikes: z.int().nonnegative().optional(),
  verified: z.boolean().optional(),
  followers: z.int().nonnegative().optional(),
});
const sourceSchema = z.strictObject({
  ip: z.string().min(1).max(128).optional(),
  device: z.string().min(1).max(256).optional(),
});
const subjectSchema = z.strictObject({
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  id: idSchema,
});
const schemas = {
  publish: z.strictObject({
    id: idSchema,
    uploader: accountSchema,
    title: z.string().max(1000).optional(),
    caption: z.string().max(10_000).optional(),
    hashtags: z.array(z.string().min(1).max(200)).max(200).optional(),
    source: sourceSchema.optional(),
    at: timeSchema.optional(),
  }),
  transcoded: z
    .strictObject({
      id: idSchema,
      uploader: accountSchema.optional(),
      frames: z
        .array(
          z.object({
            hash: pdqHashSchema,
            quality: z.number().min(0).max(100),
            frame: z.number().int().nonnegative().optional(),
            timestamp: z.number().nonnegative().optional(),
          }),
        )
        .max(1_000_000)
        .optional(),
      path: z.string().min(1).optional(),
      at: timeSchema.optional(),
    })
    .refine((v) => v.frames !== undefined || v.path !== undefined, { message: "give frames, a path, or both" }),
  comment: z.strictObject({
    id: idSchema,
    videoId: idSchema,
    author: accountSchema,
    text: z.string().max(10_000),
    source: sourceSchema.optional(),
    at: timeSchema.optional(),
  }),
  report: z.strictObject({
    subject: subjectSchema,
    reporter: accountSchema,
    reason: categorySchema,
    text: z.string().max(10_000).optional(),
    source: sourceSchema.optional(),
    at: timeSchema.optional(),
  }),
  engagement: z.strictObject({
    subject: subjectSchema,
    actor: accountSchema,
    type: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
    source: sourceSchema.optional(),
    at: timeSchema.optional(),
  }),
} as const;

// ---------------------------------------------------------------------------------------------
// Checks.

interface ContextBase {
  subject: ReviewSubject;
  /** The input's `at`, or the moderation clock. */
  at: number;
  /** Aborted when the check's time is up (and once it has finished): pass it to fetch and other I/O. */
  signal: AbortSignal;
}

/** What a check sees: the moment and its (validated) input. */
export type CheckContext = {
  [M in Moment]: ContextBase & { moment: M; input: MomentInputs[M] };
}[Moment];

/** A signal as a check returns it; `check` is filled in. */
export interface CheckSignal {
  category: string;
  score: number;
  reasonCodes?: string[];
  evidence?: Record<string, unknown>;
}

/** Something that looks at content at some moments and returns signals. */
export interface ModerationCheck {
  /** Unique among the checks; appears in signals, failures and `check_failed:<name>`. */
  name: string;
  moments: readonly Moment[];
  /** Overrides the moderation's `timeoutMs` for this check. */
  timeoutMs?: number;
  /** Overrides the moderation's `failMode` for this check. */
  failMode?: FailMode;
  run(context: CheckContext): readonly CheckSignal[] | Promise<readonly CheckSignal[]>;
}

/** The texts of a moment to scan: title, caption and hashtags; the comment; the report's text. */
export function textsOf(context: CheckContext): string[] {
  switch (context.moment) {
    case "publish": {
      const { title, caption, hashtags } = context.input;
      return [
        title,
        caption,
        hashtags && hashtags.length > 0 ? hashtags.map((h) => `#${h}`).join(" ") : undefined,
      ].filter((t): t is string => t !== undefined && t !== "");
    }
    case "comment":
      return context.input.text === "" ? [] : [context.input.text];
    case "report":
      return context.input.text ? [context.input.text] : [];
    default:
      return [];
  }
}

/** The account behind a moment's input (uploader, author, reporter, actor), if any. */
export function accountOf(context: CheckContext): AccountSignals | undefined {
  switch (context.moment) {
    case "publish":
      return context.input.uploader;
    case "transcoded":
      return context.input.uploader;
    case "comment":
      return context.input.author;
    case "report":
      return context.input.reporter;
    case "engagement":
      return context.input.actor;
  }
}

// ---------------------------------------------------------------------------------------------
// The moderation.

/** The outcome of one moment, as returned and emitted. */
export interface ModerationDecision {
  /** A random id for this decision (use it in logs and review items). */
  id: string;
  moment: Moment;
  subject: ReviewSubject;
  decision: Decision;
  reasonCodes: string[];
  signals: Signal[];
  failures: CheckFailure[];
  at: number;
  /** Wall time of the checks and the policy, ms. */
  durationMs: number;
}

export interface ModerationEvents {
  /** Every decision, after the policy. */
  decision: ModerationDecision;
  /** Every failed check, open or closed. */
  checkFailed: CheckFailure & { moment: Moment; subject: ReviewSubject };
}

export type ModerationListener<E extends keyof ModerationEvents> = (event: ModerationEvents[E]) => void;

export interface ModerationOptions {
  checks: readonly ModerationCheck[];
  /** A policy, or options for the default one (`createPolicy`). @default createPolicy() */
  policy?: Policy | PolicyOptions;
  /** Per-check time limit, ms. @default 2000 */
  timeoutMs?: number;
  /** What a failing check leads to unless it says otherwise. @default "closed" (hold for review) */
  failMode?: FailMode;
  /** The clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

export interface Moderation {
  /** Before publishing: caption, title, hashtags, uploader. */
  beforePublish(input: PublishInput): Promise<ModerationDecision>;
  /** After transcoding: frame hashes (or a file path) of the video. */
  afterTranscode(input: TranscodedInput): Promise<ModerationDecision>;
  /** A comment; the decision is about the comment. */
  onComment(input: CommentInput): Promise<ModerationDecision>;
  /** A report; the decision is about the reported subject. */
  onReport(input: ReportInput): Promise<ModerationDecision>;
  /** A like, follow, share…; the decision is about the engaged subject. */
  onEngagement(input: EngagementInput): Promise<ModerationDecision>;
  /** Any moment by name. */
  check<M extends Moment>(moment: M, input: MomentInputs[M]): Promise<ModerationDecision>;
  /** Subscribe; returns a function that unsubscribes. */
  on<E extends keyof ModerationEvents>(event: E, listener: ModerationListener<E>): () => void;
  off<E extends keyof ModerationEvents>(event: E, listener: ModerationListener<E>): void;
}

const moments = ["publish", "transcoded", "comment", "report", "engagement"] as const;
const failModeSchema = z.enum(["open", "closed"]);
const timeoutSchema = z.int().min(1).max(600_000);
const checkSchema = z.object({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,47}$/, "a check name is 1–48 of a-z A-Z 0-9 _ . : -"),
  moments: z.array(z.enum(moments)).min(1),
  timeoutMs: timeoutSchema.optional(),
  failMode: failModeSchema.optional(),
  run: z.custom<ModerationCheck["run"]>((v) => typeof v === "function", "run must be a function"),
});
const optionsSchema = z.strictObject({
  checks: z.array(checkSchema).refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, {
    message: "check names must be unique",
  }),
  policy: z.unknown().optional(),
  timeoutMs: timeoutSchema.default(2000),
  failMode: failModeSchema.default("closed"),
  now: z.custom<() => number>((v) => typeof v === "function", "now must be a function").optional(),
});

const signalsSchema = z
  .array(
    z.strictObject({
      category: categorySchema,
      score: z.number().min(0).max(1),
      reasonCodes: z.array(reasonCodeSchema).max(50).optional(),
      evidence: z.record(z.string(), z.unknown()).optional(),
    }),
  )
  .max(100);
const policyResultSchema = z.object({
  decision: z.enum(["allow", "limit", "hold", "block"]),
  reasonCodes: z.array(reasonCodeSchema),
});

function subjectOf(moment: Moment, input: MomentInputs[Moment]): ReviewSubject {
  switch (moment) {
    case "publish":
    case "transcoded":
      return { kind: "video", id: (input as PublishInput).id };
    case "comment":
      return { kind: "comment", id: (input as CommentInput).id };
    default:
      return (input as ReportInput | EngagementInput).subject;
  }
}

/**
 * Moderation hooks: each moment runs the checks registered for it in parallel, each within its
 * time limit; the policy turns their signals into `allow` / `limit` / `hold` / `block` with reason
 * codes, and the decision is returned and emitted (`on("decision", …)`). A check that throws, times
 * out or returns malformed signals is recorded in `failures`; with fail mode `closed` the policy
 * holds the content for review, with `open` it is ignored.
 *
 * @throws ModerationError `INVALID_OPTIONS`; the hooks reject with `INVALID_INPUT` (no check runs).
 */
export function createModeration(options: ModerationOptions): Moderation {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "moderation options");
  const checks = options.checks.slice();
  const now = options.now ?? Date.now;
  const policy: Policy =
    o.policy !== undefined && typeof (o.policy as Policy).decide === "function"
      ? (o.policy as Policy)
      : createPolicy((o.policy ?? {}) as PolicyOptions);
  const listeners: { [E in keyof ModerationEvents]: Set<ModerationListener<E>> } = {
    decision: new Set(),
    checkFailed: new Set(),
  };

  const emit = <E extends keyof ModerationEvents>(event: E, payload: ModerationEvents[E]) => {
    for (const listener of listeners[event]) {
      try {
        listener(payload);
      } catch (error) {
        // A broken listener must not change the decision or starve the other listeners.
        process.emitWarning(`[@reelkit/moderation] a "${event}" listener threw: ${String(error)}`, {
          code: "REELKIT_MODERATION_LISTENER",
        });
      }
    }
  };

  async function runCheck(
    check: ModerationCheck,
    base: Omit<CheckContext, "signal">,
  ): Promise<{ signals: Signal[] } | { failure: CheckFailure }> {
    const timeoutMs = check.timeoutMs ?? o.timeoutMs;
    const failMode = check.failMode ?? o.failMode;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ModerationError(
          ModerationErrorCode.CHECK_TIMEOUT,
          `check "${check.name}" took longer than ${timeoutMs} ms`,
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      const context = { ...base, signal: controller.signal } as CheckContext;
      const raw = await Promise.race([Promise.resolve().then(() => check.run(context)), timeout]);
      const result = signalsSchema.safeParse(raw);
      if (!result.success) {
        throw new ModerationError(
          ModerationErrorCode.CHECK_FAILED,
          `check "${check.name}" returned malformed signals: ${z.prettifyError(result.error)}`,
        );
      }
      return {
        signals: result.data.map((s) => ({
          check: check.name,
          category: s.category,
          score: s.score,
          reasonCodes: s.reasonCodes ?? [],
          ...(s.evidence !== undefined ? { evidence: s.evidence } : {}),
        })),
      };
    } catch (error) {
      const code = isModerationError(error) ? error.code : ModerationErrorCode.CHECK_FAILED;
      const message = error instanceof Error ? error.message : String(error);
      return { failure: { check: check.name, code, message, failMode } };
    } finally {
      clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(new Error("check finished"));
    }
  }

  async function run<M extends Moment>(moment: M, raw: MomentInputs[M]): Promise<ModerationDecision> {
    const input = parseWith(
      schemas[moment] as unknown as z.ZodType<MomentInputs[M]>,
      raw,
      ModerationErrorCode.INVALID_INPUT,
      `${moment} input`,
    );
    const started = performance.now();
    const subject = subjectOf(moment, input);
    const at = input.at ?? now();
    const base = { moment, input, subject, at } as Omit<CheckContext, "signal">;
    const results = await Promise.all(checks.filter((c) => c.moments.includes(moment)).map((c) => runCheck(c, base)));
    const signals: Signal[] = [];
    const failures: CheckFailure[] = [];
    for (const r of results) {
      if ("failure" in r) failures.push(r.failure);
      else signals.push(...r.signals);
    }
    for (const f of failures) emit("checkFailed", { ...f, moment, subject });
    let outcome: { decision: Decision; reasonCodes: string[] };
    try {
      outcome = policyResultSchema.parse(policy.decide({ moment, signals, failures }));
    } catch (cause) {
      // A broken policy must not let content through: hold it.
      outcome = { decision: "hold", reasonCodes: ["policy_failed"] };
      process.emitWarning(`[@reelkit/moderation] the policy failed: ${String(cause)}`, {
        code: "REELKIT_MODERATION_POLICY",
      });
    }
    const decision: ModerationDecision = {
      id: randomUUID(),
      moment,
      subject,
      decision: outcome.decision,
      reasonCodes: outcome.reasonCodes,
      signals,
      failures,
      at,
      durationMs: performance.now() - started,
    };
    emit("decision", decision);
    return decision;
  }

  return {
    beforePublish: (input) => run("publish", input),
    afterTranscode: (input) => run("transcoded", input),
    onComment: (input) => run("comment", input),
    onReport: (input) => run("report", input),
    onEngagement: (input) => run("engagement", input),
    check: (moment, input) => {
      if (!(moments as readonly string[]).includes(moment)) {
        return Promise.reject(new ModerationError(ModerationErrorCode.INVALID_INPUT, `unknown moment "${moment}"`));
      }
      return run(moment, input);
    },
    on(event, listener) {
      if (!(event in listeners))
        throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `unknown event "${event}"`);
      listeners[event].add(listener);
      return () => listeners[event].delete(listener);
    },
    off(event, listener) {
      listeners[event]?.delete(listener);
    },
  };
}
