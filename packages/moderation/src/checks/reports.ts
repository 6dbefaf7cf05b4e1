import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import type { ModerationCheck } from "../moderation.js";
import type { FailMode } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { commonCheckOptions } from "./options.js";

export interface ReportCheckOptions {
  /** @default "reports" */
  name?: string;
  /** Reports older than this are forgotten, ms. @default 86_400_000 (24 h) */
  windowMs?: number;
  /** Weighted distinct reporters at which the score reaches 0.5 (the default policy's `hold` for `reports`). @default 5 */
  holdAt?: number;
  /** An account younger than this is new, ms. @default 604_800_000 (7 days) */
  newAccountMs?: number;
  /** Weight of a report from a new account (an established one weighs 1). @default 0.25 */
  newAccountWeight?: number;
  /** Subjects tracked at once; the least recently reported is forgotten first. @default 100_000 */
  maxSubjects?: number;
  timeoutMs?: number;
  failMode?: FailMode;
}

const optionsSchema = z.strictObject({
  ...commonCheckOptions,
  windowMs: z.int().min(1).default(86_400_000),
  holdAt: z.number().positive().default(5),
  newAccountMs: z.int().min(0).default(604_800_000),
  newAccountWeight: z.number().min(0).max(1).default(0.25),
  maxSubjects: z.int().min(1).default(100_000),
});

interface Report {
  reporter: string;
  source: string | undefined;
  weight: number;
  reason: string;
  at: number;
}

/**
 * Reports as a signal (category `reports`, reason codes `reports:<reason>`): the weighted number of
 * distinct reporters of a subject within `windowMs`, scored `0.5 × weight / holdAt` (capped at 1),
 * so `holdAt` reporters hold it for review under the default policy (`reports`: hold 0.5, never
 * block). Against brigades: a reporter counts once, reports from one IP or device count once (the
 * heaviest), and new accounts weigh `newAccountWeight`.
 */
export function createReportCheck(options: ReportCheckOptions = {}): ModerationCheck {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "report check options");
  const subjects = new Map<string, Report[]>();
  return {
    name: o.name ?? "reports",
    moments: ["report"],
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.failMode !== undefined ? { failMode: o.failMode } : {}),
    run(context) {
      if (context.moment !== "report") return [];
      const { subject, reporter, reason, source } = context.input;
      const key = `${subject.kind}:${subject.id}`;
      const reports = (subjects.get(key) ?? []).filter((r) => r.at > context.at - o.windowMs);
      subjects.delete(key);
      if (subjects.size >= o.maxSubjects) subjects.delete(subjects.keys().next().value as string);
      const isNew = reporter.createdAt !== undefined && context.at - reporter.createdAt < o.newAccountMs;
      const src =
        source?.ip !== undefined
          ? `ip:${source.ip}`
          : source?.device !== undefined
            ? `device:${source.device}`
            : undefined;
      reports.push({
        reporter: reporter.id,
        source: src,
        weight: isNew ? o.newAccountWeight : 1,
        reason,
        at: context.at,
      });
      if (reports.length > 10_000) reports.splice(0, reports.length - 10_000); // bounded per subject
      subjects.set(key, reports);
      // One weight per reporter (their heaviest), then one per source.
      const byReporter = new Map<string, Report>();
      for (const r of reports) {
        const cur = byReporter.get(r.reporter);
        if (!cur || r.weight > cur.weight) byReporter.set(r.reporter, r);
      }
      const bySource = new Map<string, number>();
      let weight = 0;
      for (const r of byReporter.values()) {
        if (r.source === undefined) weight += r.weight;
        else bySource.set(r.source, Math.max(bySource.get(r.source) ?? 0, r.weight));
      }
      for (const w of bySource.values()) weight += w;
      const score = Math.min(1, Math.round(((0.5 * weight) / o.holdAt) * 1e9) / 1e9);
      if (score === 0) return [];
      const reasons = [...new Set(reports.map((r) => r.reason))].sort();
      return [
        {
          category: "reports",
          score,
          reasonCodes: reasons.map((r) => `reports:${r}`),
          evidence: { reporters: byReporter.size, weight, reports: reports.length },
        },
      ];
    },
  };
}
