import { z } from "zod";
import { ModerationErrorCode } from "../errors.js";
import { accountOf, type ModerationCheck } from "../moderation.js";
import type { FailMode, Moment } from "../policy/policy.js";
import { parseWith } from "../queue/validate.js";
import { commonCheckOptions, momentsOption } from "./options.js";

export interface AccountCheckOptions {
  /** @default "account" */
  name?: string;
  /** An account younger than this is new, ms. @default 86_400_000 (1 day) */
  newAccountMs?: number;
  /** Score per upheld strike. @default 0.3 */
  perStrike?: number;
  /** Score for a new account. @default 0.3 */
  newAccount?: number;
  /** @default ["publish"] */
  moments?: readonly Moment[];
  timeoutMs?: number;
  failMode?: FailMode;
}

const optionsSchema = z.strictObject({
  ...commonCheckOptions,
  newAccountMs: z.int().min(0).default(86_400_000),
  perStrike: z.number().min(0).max(1).default(0.3),
  newAccount: z.number().min(0).max(1).default(0.3),
  moments: momentsOption,
});

/**
 * Uploader (or author) signals as one `account` signal: `perStrike × strikes` plus `newAccount`
 * for an account younger than `newAccountMs`, halved for verified accounts, capped at 1 (reason
 * codes `account:strikes`, `account:new`). With the defaults and the default policy
 * (`account`: limit 0.6, hold 0.9) two strikes limit, three hold, and a new account with one strike limits.
 */
export function createAccountCheck(options: AccountCheckOptions = {}): ModerationCheck {
  const o = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "account check options");
  return {
    name: o.name ?? "account",
    moments: o.moments ?? ["publish"],
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.failMode !== undefined ? { failMode: o.failMode } : {}),
    run(context) {
      const account = accountOf(context);
      if (!account) return [];
      const strikes = account.strikes ?? 0;
      const isNew = account.createdAt !== undefined && context.at - account.createdAt < o.newAccountMs;
      let score = strikes * o.perStrike + (isNew ? o.newAccount : 0);
      if (account.verified) score /= 2;
      score = Math.min(1, Math.round(score * 1e9) / 1e9); // 3 × 0.3 is 0.9, not 0.8999…
      if (score === 0) return [];
      const reasonCodes = [...(strikes > 0 ? ["account:strikes"] : []), ...(isNew ? ["account:new"] : [])];
      return [
        { category: "account", score, reasonCodes, evidence: { strikes, isNew, verified: account.verified === true } },
      ];
    },
  };
}
