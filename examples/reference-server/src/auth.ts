// Signed bearer tokens for the demo users: `base64url(payload).base64url(HMAC-SHA256)`, with a role
// and an expiry. Enough to show where a real identity provider plugs in.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { HttpError } from "./http.js";

export const roles = ["viewer", "creator", "moderator", "admin"] as const;
export type Role = (typeof roles)[number];

export interface User {
  id: string;
  name: string;
  role: Role;
}

/** The demo accounts `POST /auth/sign-in` hands tokens for. */
export const demoUsers: readonly User[] = [
  { id: "u-viewer", name: "Vera Viewer", role: "viewer" },
  { id: "u-creator", name: "Cai Creator", role: "creator" },
  { id: "u-creator-2", name: "Dee Director", role: "creator" },
  { id: "u-moderator", name: "Mo Moderator", role: "moderator" },
  { id: "u-admin", name: "Ada Admin", role: "admin" },
];

const rank: Record<Role, number> = { viewer: 0, creator: 1, moderator: 2, admin: 3 };

const payloadSchema = z.object({ sub: z.string(), role: z.enum(roles), name: z.string(), exp: z.number() });

export interface Tokens {
  issue(user: User, ttlMs?: number): string;
  /** The user a request's `Authorization: Bearer` token names; undefined without a header; 401 for a bad token. */
  userOf(req: IncomingMessage): User | undefined;
  /** The user, or 401; 403 below `role`. */
  require(req: IncomingMessage, role: Role): User;
  /** HMAC of arbitrary text (cursors). */
  sign(text: string): string;
}

export function createTokens(secret: string): Tokens {
  const mac = (text: string) => createHmac("sha256", secret).update(text).digest("base64url");
  const tokens: Tokens = {
    issue(user, ttlMs = 12 * 60 * 60 * 1000) {
      const payload = Buffer.from(
        JSON.stringify({ sub: user.id, role: user.role, name: user.name, exp: Date.now() + ttlMs }),
      ).toString("base64url");
      return `${payload}.${mac(payload)}`;
    },
    userOf(req) {
      const header = req.headers.authorization;
      if (header === undefined) return undefined;
      const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header.trim());
      if (match === null) throw new HttpError(401, "malformed bearer token", { "www-authenticate": "Bearer" });
      const [, payload = "", signature = ""] = match;
      const expected = Buffer.from(mac(payload));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given))
        throw new HttpError(401, "invalid token", { "www-authenticate": "Bearer" });
      let claims: z.infer<typeof payloadSchema>;
      try {
        claims = payloadSchema.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
      } catch {
        throw new HttpError(401, "invalid token", { "www-authenticate": "Bearer" });
      }
      if (claims.exp < Date.now()) throw new HttpError(401, "token expired", { "www-authenticate": "Bearer" });
      return { id: claims.sub, role: claims.role, name: claims.name };
    },
    require(req, role) {
      const user = tokens.userOf(req);
      if (user === undefined) throw new HttpError(401, "sign in first", { "www-authenticate": "Bearer" });
      if (rank[user.role] < rank[role]) throw new HttpError(403, `needs the ${role} role`);
      return user;
    },
    sign: mac,
  };
  return tokens;
}
