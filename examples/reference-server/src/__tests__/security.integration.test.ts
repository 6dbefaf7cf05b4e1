// Access rules, checked for every route in the table (so a route added later is covered too):
// without a token, with a forged, malformed or expired one, and with each role below the one a
// route needs. Routes that read a token optionally still refuse a bad one.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokens, demoUsers, type Role, roles } from "../auth.js";
import type { Platform } from "../platform.js";
import type { AnyRoute, Method } from "../routes.js";
import type { ReferenceServer } from "../server.js";
import { startTestServer } from "./helpers.js";

let root: string;
let platform: Platform;
let app: ReferenceServer;
let base: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-security-"));
  ({ platform, app, base } = await startTestServer(join(root, "data")));
}, 60_000);

afterAll(async () => {
  await app?.close();
  await platform?.close();
  await rm(root, { recursive: true, force: true });
});

const rank: Record<Role, number> = { viewer: 0, creator: 1, moderator: 2, admin: 3 };
const tokenFor = (role: Role) => {
  const user = demoUsers.find((u) => u.role === role);
  if (user === undefined) throw new Error(`no demo ${role}`);
  return platform.tokens.issue(user);
};
/** A concrete URL for a route's path: parameters filled with plausible ids. */
const urlOf = (route: AnyRoute) =>
  base +
  route.path.replace(/\{[A-Za-z]+\*\}/g, "abcdefghijklmnop1234/x").replace(/\{[A-Za-z]+\}/g, "abcdefghijklmnop1234");
const methodsOf = (route: AnyRoute): Method[] =>
  (typeof route.method === "string" ? [route.method] : [...route.method]).filter(
    (m) => m !== "HEAD" && m !== "OPTIONS",
  );

const call = (route: AnyRoute, method: Method, authorization?: string) =>
  fetch(urlOf(route), {
    method,
    headers: {
      ...(authorization !== undefined ? { authorization } : {}),
      ...(method !== "GET" && method !== "DELETE" ? { "content-type": "application/json" } : {}),
    },
    ...(method !== "GET" && method !== "DELETE" ? { body: "{}" } : {}),
  });

const badTokens = () => {
  const forged = createTokens("another-secret-that-is-long-enough-to-sign").issue(
    demoUsers[4] as (typeof demoUsers)[number],
  );
  const expired = platform.tokens.issue(demoUsers[4] as (typeof demoUsers)[number], -1000);
  const [payload = "", signature = ""] = tokenFor("viewer").split(".");
  // The payload edited to claim admin, the viewer's signature kept.
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  const elevated = `${Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")}.${signature}`;
  return {
    forged: `Bearer ${forged}`,
    expired: `Bearer ${expired}`,
    elevated: `Bearer ${elevated}`,
    malformed: "Bearer not-a-token",
    basic: "Basic dXNlcjpwYXNz",
  };
};

describe("access rules for every route in the table", () => {
  it("the table has role-protected routes to check", () => {
    const protectedRoutes = app.router.routes.filter((r) => roles.includes(r.access as Role));
    expect(protectedRoutes.length).toBeGreaterThanOrEqual(5);
  });

  it("role-protected routes answer 401 without a token or with a bad one, and 403 below their role", async () => {
    const failures: string[] = [];
    for (const route of app.router.routes) {
      const needed = route.access;
      if (needed === undefined || needed === "public" || needed === "optional") continue;
      for (const method of methodsOf(route)) {
        const label = `${method} ${route.path}`;
        const anonymous = await call(route, method);
        if (anonymous.status !== 401) failures.push(`${label} without a token: ${anonymous.status}`);
        else if (!anonymous.headers.get("www-authenticate")?.startsWith("Bearer"))
          failures.push(`${label}: 401 without WWW-Authenticate`);
        for (const [kind, header] of Object.entries(badTokens())) {
          const res = await call(route, method, header);
          if (res.status !== 401) failures.push(`${label} with a ${kind} token: ${res.status}`);
        }
        for (const role of roles.filter((r) => rank[r] < rank[needed as Role])) {
          const res = await call(route, method, `Bearer ${tokenFor(role)}`);
          if (res.status !== 403) failures.push(`${label} as ${role}: ${res.status}`);
        }
        // The role itself gets past the access check (whatever the handler then says about the input).
        const allowed = await call(route, method, `Bearer ${tokenFor(needed as Role)}`);
        if (allowed.status === 401 || allowed.status === 403) failures.push(`${label} as ${needed}: ${allowed.status}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it("routes that read a token when sent still refuse a bad one", async () => {
    const failures: string[] = [];
    for (const route of app.router.routes.filter((r) => r.access === "optional")) {
      for (const method of methodsOf(route)) {
        for (const [kind, header] of Object.entries(badTokens())) {
          const res = await call(route, method, header);
          if (res.status !== 401) failures.push(`${method} ${route.path} with a ${kind} token: ${res.status}`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it("the tus endpoint needs a creator for everything but its OPTIONS preflight", async () => {
    expect((await fetch(`${base}/uploads/`, { method: "OPTIONS" })).status).toBe(204);
    const post = (authorization?: string) =>
      fetch(`${base}/uploads/`, {
        method: "POST",
        headers: {
          "tus-resumable": "1.0.0",
          "upload-length": "10",
          ...(authorization !== undefined ? { authorization } : {}),
        },
      });
    expect((await post()).status).toBe(401);
    expect((await post(badTokens().forged)).status).toBe(401);
    expect((await post(`Bearer ${tokenFor("viewer")}`)).status).toBe(403);
    expect((await post(`Bearer ${tokenFor("creator")}`)).status).toBe(201);
  });

  it("an X-HTTP-Method-Override cannot turn the open OPTIONS preflight into a create, write, read or delete", async () => {
    const creator = `Bearer ${tokenFor("creator")}`;
    const created = await fetch(`${base}/uploads/`, {
      method: "POST",
      headers: { authorization: creator, "tus-resumable": "1.0.0", "upload-length": "10" },
    });
    const target = created.headers.get("location") ?? "";
    expect(created.status).toBe(201);
    const overridden = (override: string, path: string, headers: Record<string, string> = {}) =>
      fetch(new URL(path, base), {
        method: "OPTIONS",
        headers: { "x-http-method-override": override, "tus-resumable": "1.0.0", ...headers },
      });
    const owner = Buffer.from("u-creator").toString("base64");
    expect(
      (await overridden("POST", "/uploads/", { "upload-length": "10", "upload-metadata": `owner ${owner}` })).status,
    ).toBe(401);
    expect((await overridden("HEAD", target)).status).toBe(401);
    expect((await overridden("GET", target)).status).toBe(401);
    expect((await overridden("DELETE", target)).status).toBe(401);
    // Another creator with an override is still not the owner.
    const other = await fetch(new URL(target, base), {
      method: "POST",
      headers: {
        authorization: `Bearer ${platform.tokens.issue({ id: "u-creator-2", name: "Dee", role: "creator" })}`,
        "x-http-method-override": "DELETE",
        "tus-resumable": "1.0.0",
      },
    });
    expect(other.status).toBe(404);
    const head = await fetch(new URL(target, base), {
      method: "HEAD",
      headers: { authorization: creator, "tus-resumable": "1.0.0" },
    });
    expect(head.status).toBe(200); // still there
  });

  it("POST /events cannot attach a video to another creator's analytics", async () => {
    const videoId = "security-video-0000001";
    await platform.db.createVideo({ id: videoId, ownerId: "u-creator", title: "mine", status: "uploaded" });
    await platform.db.setStatus(videoId, "published");
    await platform.engagement.registerVideo({ videoId, creatorId: "u-creator", durationMs: 8000 });
    const ts = Date.now();
    const res = await fetch(`${base}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { id: "sec-ev-1", type: "impression", videoId, sessionId: "s-sec", creatorId: "u-creator-2", ts },
        { id: "sec-ev-2", type: "view", videoId, sessionId: "s-sec", creatorId: "u-creator-2", ts },
      ]),
    });
    expect(res.status).toBe(202);
    const thief = await platform.engagement.creatorStats("u-creator-2", { from: ts - 86_400_000, to: ts + 86_400_000 });
    expect(thief.videos).not.toContain(videoId);
    expect(thief.totals.impressions).toBe(0);
    const owner = await platform.engagement.creatorStats("u-creator", { from: ts - 86_400_000, to: ts + 86_400_000 });
    expect(owner.videos).toContain(videoId);
    expect(owner.totals.impressions).toBe(1);
  });

  // Last: it empties this client's telemetry bucket.
  it("POST /events is rate-limited per client before its body is read", async () => {
    const send = () =>
      fetch(`${base}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: "not json" });
    const statuses: number[] = [];
    for (let i = 0; i < 300 && !statuses.includes(429); i++) statuses.push((await send()).status);
    // Malformed bodies answer 400 until the bucket (240 a minute) is empty; then 429, unparsed.
    expect(statuses.at(-1)).toBe(429);
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set([400]));
    expect(statuses.length).toBeGreaterThan(200);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("5");
  });
});
