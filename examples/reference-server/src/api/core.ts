// Pages, health, metrics, sign-in and the browser bundles.
import { z } from "zod";
import { asset, isAsset } from "../assets.js";
import { demoUsers, roles } from "../auth.js";
import { health } from "../health.js";
import { HttpError, sendJson, sendText } from "../http.js";
import { feedPage, healthPage, uploadPage } from "../pages.js";
import { type RouteModule, route } from "../routes.js";
import { feedPageOf } from "./videos.js";

const html = "text/html; charset=utf-8";
const noStore = { "cache-control": "no-store" };

const userSchema = z.object({ id: z.string(), name: z.string(), role: z.enum(roles) }).meta({ id: "User" });
const signInSchema = z.strictObject({
  /** A demo user's id or a role name (the first demo user with that role). */
  user: z.string().min(1).max(64),
});
const healthSchema = z
  .object({
    status: z.literal("ok"),
    mode: z.enum(["embedded", "scaled"]),
    uptimeSeconds: z.number(),
    node: z.string(),
    packages: z.array(z.object({ name: z.string(), version: z.string(), description: z.string() })),
  })
  .meta({ id: "Health" });
const checkSchema = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const readinessSchema = z
  .object({
    status: z.enum(["ready", "unavailable", "starting"]),
    mode: z.enum(["embedded", "scaled"]).optional(),
    checks: z.record(z.string(), checkSchema),
  })
  .meta({ id: "Readiness" });

export const coreRoutes: RouteModule = (app) => [
  route({
    method: ["GET", "HEAD"],
    path: "/",
    tag: "pages",
    summary: "The feed page (<reel-feed>), its first page rendered inline.",
    platform: false,
    responses: { 200: { description: "HTML", type: html } },
    async handler({ res }) {
      const first = app.platform ? await feedPageOf(app.platform, 0) : { items: [], cursor: null };
      sendText(res, 200, html, feedPage(first), noStore);
    },
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/upload",
    tag: "pages",
    summary: "The upload page: drag and drop, resumable upload, processing status.",
    platform: false,
    responses: { 200: { description: "HTML", type: html } },
    handler: ({ res }) => sendText(res, 200, html, uploadPage(), noStore),
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/status",
    tag: "pages",
    summary: "Human-readable health: the packages and their versions.",
    platform: false,
    responses: { 200: { description: "HTML", type: html } },
    handler: ({ res }) =>
      sendText(res, 200, html, healthPage(health(app.packages, app.startedAt, app.platform?.mode)), noStore),
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/healthz",
    tag: "operations",
    summary: "Liveness: the packages this server composes.",
    platform: false,
    responses: { 200: { description: "Healthy", schema: healthSchema } },
    handler: ({ res }) => sendJson(res, 200, health(app.packages, app.startedAt, app.platform?.mode)),
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/readyz",
    tag: "operations",
    summary:
      "Readiness: the database answers and, in scaled mode, Redis (PING), Kafka (producer connected, cluster metadata) and Cassandra (a query).",
    platform: false,
    responses: {
      200: { description: "Ready to serve", schema: readinessSchema },
      503: { description: "Starting, or an engine does not answer (see checks)", schema: readinessSchema },
    },
    async handler({ res }) {
      if (app.platform === undefined) {
        sendJson(res, 503, { status: "starting", checks: {} }, noStore);
        return;
      }
      const readiness = await app.platform.ready();
      sendJson(res, readiness.status === "ready" ? 200 : 503, readiness, noStore);
    },
  }),
  route({
    method: "GET",
    path: "/metrics",
    tag: "operations",
    summary: "Prometheus metrics (text exposition format).",
    responses: { 200: { description: "Metrics", type: "text/plain; version=0.0.4" } },
    handler: ({ res, platform }) => sendText(res, 200, "text/plain; version=0.0.4", platform.metrics.render(), noStore),
  }),
  route({
    method: "POST",
    path: "/auth/sign-in",
    tag: "auth",
    summary: "Sign in as a demo user (by id or role); answers a bearer token.",
    body: signInSchema,
    bodyLimit: 4096,
    responses: { 200: { description: "Token", schema: z.object({ token: z.string(), user: userSchema }) } },
    handler({ res, body, platform }) {
      const user = demoUsers.find((u) => u.id === body.user || u.role === body.user);
      if (user === undefined) throw new HttpError(400, `unknown demo user ${body.user}`);
      sendJson(res, 200, { token: platform.tokens.issue(user), user });
    },
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/assets/{name}",
    tag: "pages",
    summary: "Browser bundles (player.js, upload.js).",
    platform: false,
    hidden: true,
    async handler({ res, params }) {
      if (!isAsset(params.name)) throw new HttpError(404, "no such asset");
      sendText(res, 200, "text/javascript; charset=utf-8", await asset(params.name), {
        "cache-control": "public, max-age=300",
      });
    },
  }),
];
