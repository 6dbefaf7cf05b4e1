import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import type { CheckSignal, ModerationCheck } from "../moderation.js";
import type { FailMode, Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";

/** One engagement (like, follow, comment, …) as the burst detector sees it. */
export interface EngagementEvent {
  /** What was engaged with, e.g. `video:v_1`. */
  target: string;
  /** Who engaged. */
  actor: string;
  /** When the actor's account was created, ms since the epoch; unknown counts as not new. */
  actorCreatedAt?: number;
  /** Where it came from, e.g. `ip:203.0.113.7`, `device:abc` (any number; each counts on its own). */
  sources?: readonly string[];
  /** ms since the epoch. Events should arrive in time order; an earlier one counts as the latest seen. */
  at: number;
}

export interface BurstDetectorOptions {
  /** The sliding window, ms. @default 600_000 (10 min) */
  windowMs?: number;
  /** An account younger than this at `at` is new, ms. @default 604_800_000 (7 days) */
  newAccountMs?: number;
  /** Distinct new accounts on one target within the window before it is a burst. @default 20 */
  maxNewAccounts?: number;
  /** Distinct accounts from one source on one target within the window before it is a burst. @default 5 */
  maxPerSource?: number;
  /** Targets tracked at once; the least recently engaged is forgotten first. @default 100_000 */
  maxTargets?: number;
  /** Events kept per target; the oldest go first. @default 10_000 */
  maxEventsPerTarget?: number;
}

export interface BurstResult {
  /** Distinct new accounts that engaged with the target within the window (this event included). */
  newAccounts: number;
  /** Per source of this event: distinct accounts from it on the target within the window. */
  perSource: Record<string, number>;
  /** `behaviour` signals: `behaviour:new_account_burst`, `behaviour:source_burst`. */
  signals: CheckSignal[];
}

export interface BurstDetector {
  /** Record an engagement and return the target's counts and signals. Pure and in memory. */
  record(event: EngagementEvent): BurstResult;
  /** Targets tracked. */
  readonly size: number;
}

/** At `max`: 0.5 (the default policy's `limit`); at twice `max`: 0.9 (`hold`); capped at 1. */
export function burstScore(n: number, max: number): number {
  if (n < max) return 0;
  return Math.min(1, 0.5 + (0.4 * (n - max)) / max);
}

const optionsSchema = z.strictObject({
  windowMs: z.int().min(1).default(600_000),
  newAccountMs: z.int().min(0).default(604_800_000),
  maxNewAccounts: z.int().min(1).default(20),
  maxPerSource: z.int().min(1).default(5),
  maxTargets: z.int().min(1).default(100_000),
  maxEventsPerTarget: z.int().min(1).default(10_000),
});
const eventSchema = z.strictObject({
  target: z.string().min(1).max(512),
  actor: z.string().min(1).max(256),
  actorCreatedAt: z.number().int().nonnegative().optional(),
  sources: z.array(z.string().min(1).max(512)).max(16).optional(),
  at: z.number().int().nonnegative(),
});

interface Entry {
  at: number;
  actor: string;
  isNew: boolean;
  sources: readonly string[];
}
interface TargetState {
  events: Entry[];
  head: number;
  lastAt: number;
  /** actor → events in window, new accounts only. */
  newActors: Map<string, number>;
  /** source → actor → events in window. */
  sourceActors: Map<string, Map<string, number>>;
}

const dec = (m: Map<string, number>, k: string) => {
  const n = (m.get(k) ?? 0) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
};

/**
 * Sliding-window burst detection per target: many new accounts engaging with one thing, or many
 * accounts engaging from one IP or device, within `windowMs`. Counts are of distinct accounts, so
 * one account liking and unliking does not make a burst. Memory is bounded by `maxTargets` and
 * `maxEventsPerTarget`.
 *
 * @throws ModerationError `INVALID_OPTIONS`; `record` throws `INVALID_INPUT`.
 */
export function createBurstDetector(options: BurstDetectorOptions = {}): BurstDetector {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "burst detector options");
  const targets = new Map<string, TargetState>();

  const drop = (s: TargetState) => {
    const e = s.events[s.head++] as Entry;
    if (e.isNew) dec(s.newActors, e.actor);
    for (const src of e.sources) {
      const m = s.sourceActors.get(src);
      if (m) {
        dec(m, e.actor);
        if (m.size === 0) s.sourceActors.delete(src);
      }
    }
    if (s.head > 1024 && s.head * 2 > s.events.length) {
      s.events = s.events.slice(s.head);
      s.head = 0;
    }
  };

  return {
    get size() {
      return targets.size;
    },
    record(raw) {
      const ev = parseWith(eventSchema, raw, ModerationErrorCode.INVALID_INPUT, "engagement event");
      let s = targets.get(ev.target);
      if (s)
        targets.delete(ev.target); // re-inserted below: most recently used last
      else {
        s = { events: [], head: 0, lastAt: 0, newActors: new Map(), sourceActors: new Map() };
        if (targets.size >= o.maxTargets) targets.delete(targets.keys().next().value as string);
      }
      targets.set(ev.target, s);
      const at = Math.max(ev.at, s.lastAt);
      s.lastAt = at;
      while (s.head < s.events.length && (s.events[s.head] as Entry).at <= at - o.windowMs) drop(s);
      const isNew = ev.actorCreatedAt !== undefined && at - ev.actorCreatedAt < o.newAccountMs;
      const sources = [...new Set(ev.sources ?? [])];
      s.events.push({ at, actor: ev.actor, isNew, sources });
      if (isNew) s.newActors.set(ev.actor, (s.newActors.get(ev.actor) ?? 0) + 1);
      for (const src of sources) {
        let m = s.sourceActors.get(src);
        if (!m) {
          m = new Map();
          s.sourceActors.set(src, m);
        }
        m.set(ev.actor, (m.get(ev.actor) ?? 0) + 1);
      }
      if (s.events.length - s.head > o.maxEventsPerTarget) drop(s);

      const signals: CheckSignal[] = [];
      const newAccounts = s.newActors.size;
      const newScore = burstScore(newAccounts, o.maxNewAccounts);
      if (isNew && newScore > 0) {
        signals.push({
          category: "behaviour",
          score: newScore,
          reasonCodes: ["behaviour:new_account_burst"],
          evidence: { target: ev.target, newAccounts, windowMs: o.windowMs },
        });
      }
      const perSource: Record<string, number> = {};
      let worst: { source: string; n: number } | undefined;
      for (const src of sources) {
        const n = s.sourceActors.get(src)?.size ?? 0;
        perSource[src] = n;
        if (!worst || n > worst.n) worst = { source: src, n };
      }
      if (worst) {
        const score = burstScore(worst.n, o.maxPerSource);
        if (score > 0) {
          signals.push({
            category: "behaviour",
            score,
            reasonCodes: ["behaviour:source_burst"],
            evidence: { target: ev.target, source: worst.source, accounts: worst.n, windowMs: o.windowMs },
          });
        }
      }
      return { newAccounts, perSource, signals };
    },
  };
}

export interface BehaviourCheckOptions extends BurstDetectorOptions {
  /** @default "behaviour" */
  name?: string;
  /** @default ["engagement", "comment"] */
  moments?: readonly Moment[];
  timeoutMs?: number;
  failMode?: FailMode;
}

/**
 * The burst detector as a check. Engagement: the target is the subject; comment: the video (a
 * comment from a burst is limited, not the video). Sources are `ip:<ip>` and `device:<device>`.
 * Only the event that takes part in a burst gets the signal. Reports are not counted by default:
 * a report brigade says something about the reporters, not the subject.
 */
export function createBehaviourCheck(
  options: BehaviourCheckOptions = {},
): ModerationCheck & { detector: BurstDetector } {
  const { name = "behaviour", moments = ["engagement", "comment"], timeoutMs, failMode, ...rest } = options;
  const detector = createBurstDetector(rest);
  return {
    name,
    moments,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(failMode !== undefined ? { failMode } : {}),
    detector,
    run(context) {
      let target: string;
      let actor: { id: string; createdAt?: number };
      let source: { ip?: string; device?: string } | undefined;
      switch (context.moment) {
        case "engagement":
          target = `${context.input.subject.kind}:${context.input.subject.id}`;
          actor = context.input.actor;
          source = context.input.source;
          break;
        case "comment":
          target = `video:${context.input.videoId}`;
          actor = context.input.author;
          source = context.input.source;
          break;
        case "report":
          target = `report:${context.input.subject.kind}:${context.input.subject.id}`;
          actor = context.input.reporter;
          source = context.input.source;
          break;
        case "publish":
          target = `uploader:${context.input.uploader.id}`;
          actor = context.input.uploader;
          source = context.input.source;
          break;
        default:
          return [];
      }
      const sources = [
        ...(source?.ip !== undefined ? [`ip:${source.ip}`] : []),
        ...(source?.device !== undefined ? [`device:${source.device}`] : []),
      ];
      return detector.record({
        target,
        actor: actor.id,
        ...(actor.createdAt !== undefined ? { actorCreatedAt: actor.createdAt } : {}),
        sources,
        at: context.at,
      }).signals;
    },
  };
}
