// Option fields every check shares, validated the same way everywhere.
import { z } from "zod";

/** The moments a check can run at (see `createModeration`'s hooks). */
export const momentsOption = z
  .array(z.enum(["publish", "transcoded", "comment", "report", "engagement"]))
  .min(1)
  .optional();

/** `name`, `timeoutMs` and `failMode`: optional, the moderation's defaults apply when absent. */
export const commonCheckOptions = {
  name: z.string().min(1).optional(),
  timeoutMs: z.int().min(1).optional(),
  failMode: z.enum(["open", "closed"]).optional(),
};
