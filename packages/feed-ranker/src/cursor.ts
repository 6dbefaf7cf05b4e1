import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { FeedRankerError, FeedRankerErrorCode } from "./errors.js";

/** What a cursor carries: whose feed, which session, which page, until when. */
export interface CursorPayload {
  userId: string;
  sessionId: string;
  page: number;
  expiresAt: number;
}

const payloadSchema = z.strictObject({
  u: z.string(),
  s: z.string(),
  p: z.number().int().nonnegative(),
  e: z.number().int(),
});

function sign(body: string, secret: string): Buffer {
  return createHmac("sha256", secret).update(body).digest();
}

/** An opaque token: base64url(JSON) + "." + base64url(HMAC-SHA256). */
export function encodeCursor(payload: CursorPayload, secret: string): string {
  const body = Buffer.from(
    JSON.stringify({ u: payload.userId, s: payload.sessionId, p: payload.page, e: payload.expiresAt }),
  ).toString("base64url");
  return `${body}.${sign(body, secret).toString("base64url")}`;
}

/** Verify and read a cursor; tampered or foreign → CURSOR_INVALID, too old → CURSOR_EXPIRED. */
export function decodeCursor(token: string, secret: string, now: number, userId: string): CursorPayload {
  const invalid = (why: string) => new FeedRankerError(FeedRankerErrorCode.CURSOR_INVALID, `cursor rejected: ${why}`);
  const [body, mac, extra] = token.split(".");
  if (!body || !mac || extra !== undefined) throw invalid("malformed");
  const expected = sign(body, secret);
  const given = Buffer.from(mac, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid("bad signature");
  let parsed: z.output<typeof payloadSchema>;
  try {
    parsed = payloadSchema.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
  } catch (error) {
    throw new FeedRankerError(FeedRankerErrorCode.CURSOR_INVALID, "cursor rejected: unreadable payload", {
      cause: error,
    });
  }
  if (parsed.u !== userId) throw invalid("issued to another user");
  if (parsed.e <= now) {
    throw new FeedRankerError(FeedRankerErrorCode.CURSOR_EXPIRED, "cursor expired: start a new feed without a cursor");
  }
  return { userId: parsed.u, sessionId: parsed.s, page: parsed.p, expiresAt: parsed.e };
}
