// The moderator's API and page: the review queue, decisions, the audit log, a moderator-only view
// of media that is not public, and creators' appeals. The rules live in ../review.ts.
import { reviewStatuses, severityLevels } from "@reelkit/moderation";
import { z } from "zod";
import type { User } from "../auth.js";
import { videoStatuses } from "../db.js";
import { sendJson, sendText } from "../http.js";
import { serveMedia } from "../media.js";
import { moderatorPage } from "../pages/moderator.js";
import {
  APPEALABLE,
  appealStatuses,
  applyDecision,
  auditActions,
  decisionActions,
  fileAppeal,
  listAppeals,
  listAudit,
  listQueue,
  type QueueEntry,
  REASON_CODE,
  SUBJECT_KIND,
} from "../review.js";
import { type RouteModule, route } from "../routes.js";
import { videoIdSchema } from "./videos.js";

const html = "text/html; charset=utf-8";

const subjectSchema = z
  .strictObject({
    kind: z.string().regex(SUBJECT_KIND, "kind is lowercase letters, digits, _ or -, at most 32"),
    id: z.string().min(1).max(128),
  })
  .meta({ id: "ReviewSubject" });

const reasonSchema = z.string().regex(REASON_CODE, "a reason code is 1–64 letters, digits, _ . : - (e.g. policy:spam)");

const appealSchema = z
  .object({
    id: z.string(),
    videoId: z.string(),
    ownerId: z.string(),
    message: z.string(),
    status: z.enum(appealStatuses),
    appealedStatus: z.string().meta({ description: "The video's status when it was appealed" }),
    itemId: z.string().nullable(),
    createdAt: z.number(),
    decidedAt: z.number().nullable(),
    decision: z.object({ action: z.enum(decisionActions), reason: z.string() }).nullable(),
  })
  .meta({ id: "ModerationAppeal" });

const queueItemSchema = z
  .object({
    id: z.string(),
    subject: subjectSchema,
    status: z.enum(reviewStatuses),
    stage: z.enum(["review", "appeal"]),
    reasons: z.array(z.string()),
    severity: z.number(),
    severityLevel: z.enum(["low", "medium", "high", "critical"]),
    priority: z.number(),
    createdAt: z.number(),
    ageSeconds: z.number(),
    claimedBy: z.string().nullable(),
    video: z
      .object({
        id: z.string(),
        title: z.string(),
        ownerId: z.string(),
        status: z.enum(videoStatuses),
        poster: z.string().meta({ description: "Moderator-only poster URL (send the bearer token)" }),
        src: z.string().meta({ description: "Moderator-only HLS master playlist URL" }),
      })
      .nullable(),
    appeal: appealSchema.nullable(),
    summary: z
      .object({
        title: z.string().optional(),
        text: z.string().optional(),
        ownerId: z.string().optional(),
        url: z.string().optional(),
      })
      .nullable()
      .meta({ description: "What a registered subject handler says about other kinds (comments)" }),
  })
  .meta({ id: "ReviewQueueItem" });

const auditEntrySchema = z
  .object({
    id: z.string(),
    at: z.number(),
    actor: z.object({ id: z.string(), role: z.string() }),
    subject: subjectSchema,
    action: z.enum(auditActions),
    reason: z.string(),
    note: z.string().nullable(),
    previousStatus: z.string().nullable(),
    status: z.string().nullable(),
    itemId: z.string().nullable(),
    appealId: z.string().nullable(),
  })
  .meta({ id: "ModerationAuditEntry" });

const decisionBodySchema = z
  .strictObject({
    itemId: z.string().min(1).max(128).optional().meta({ description: "A review item id (from the queue)" }),
    subject: subjectSchema
      .optional()
      .meta({ description: "Act on any subject without an item, e.g. a published video" }),
    action: z.enum(decisionActions),
    reason: reasonSchema,
    note: z.string().min(1).max(2000).optional(),
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,128}$/, "requestId is 8–128 letters, digits, _ or -")
      .optional()
      .meta({ description: "Idempotency key: the same moderator resending it gets the first answer" }),
  })
  .refine((body) => (body.itemId === undefined) !== (body.subject === undefined), {
    message: "give exactly one of itemId and subject",
  })
  .meta({ id: "ModerationDecisionRequest" });

const decisionResultSchema = z
  .object({
    entry: auditEntrySchema,
    subject: subjectSchema,
    status: z.string(),
    replayed: z.boolean(),
    appeal: appealSchema.optional(),
    unclosedItems: z
      .array(z.string())
      .optional()
      .describe("Open review items the queue failed to close: the decision holds; decide again to close them"),
  })
  .meta({ id: "ModerationDecisionResult" });

const queueQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  kind: z.string().regex(SUBJECT_KIND).optional(),
});

const auditQuerySchema = z.strictObject({
  subject: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}:[^\s]{1,128}$/, "subject is kind:id, e.g. video:abc")
    .optional()
    .meta({ description: "Only this subject's entries: `kind:id` (`appeal:<id>` for one appeal's)" }),
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, "invalid cursor")
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const appealBodySchema = z.strictObject({ message: z.string().trim().min(1).max(2000) });

const levelOf = (severity: number) =>
  severity >= severityLevels.critical
    ? "critical"
    : severity >= severityLevels.high
      ? "high"
      : severity >= severityLevels.medium
        ? "medium"
        : "low";

function queueItem({ item, video, appeal, summary }: QueueEntry, now: number) {
  return {
    id: item.id,
    subject: item.subject,
    status: item.status,
    stage: item.stage,
    reasons: item.reasons,
    severity: item.severity,
    severityLevel: levelOf(item.severity),
    priority: item.priority,
    createdAt: item.createdAt,
    ageSeconds: Math.max(0, Math.round((now - item.createdAt) / 1000)),
    claimedBy: item.status === "claimed" ? (item.claim?.reviewer ?? null) : null,
    video:
      video === undefined
        ? null
        : {
            id: video.id,
            title: video.title,
            ownerId: video.ownerId,
            status: video.status,
            poster: `/moderation/media/${video.id}/poster.jpg`,
            src: `/moderation/media/${video.id}/master.m3u8`,
          },
    appeal: appeal ?? null,
    summary: summary ?? null,
  };
}

export const reviewRoutes: RouteModule = () => [
  route({
    method: ["GET", "HEAD"],
    path: "/moderate",
    tag: "pages",
    summary: "The moderator dashboard: the review queue with decisions, and the audit log.",
    platform: false,
    responses: { 200: { description: "HTML", type: html } },
    handler: ({ res }) => sendText(res, 200, html, moderatorPage(), { "cache-control": "no-store" }),
  }),
  route({
    method: "GET",
    path: "/moderation/queue",
    tag: "moderation",
    access: "moderator",
    summary:
      "Open review items (queued, claimed, appealed), most urgent first, with the video or appeal each is about.",
    query: queueQuerySchema,
    responses: {
      200: {
        description: "The queue",
        schema: z.object({ items: z.array(queueItemSchema) }).meta({ id: "ReviewQueuePage" }),
      },
    },
    async handler({ res, query, platform }) {
      const entries = await listQueue(platform, {
        limit: query.limit ?? 50,
        ...(query.kind !== undefined && { kind: query.kind }),
      });
      const now = Date.now();
      sendJson(res, 200, { items: entries.map((entry) => queueItem(entry, now)) });
    },
  }),
  route({
    method: "POST",
    path: "/moderation/decisions",
    tag: "moderation",
    access: "moderator",
    summary:
      "Decide a review item or any subject: approve → published, limit → limited (out of recommendations), reject/remove → rejected (out of every feed, media no longer served). Logged in the audit log; retries are recognised.",
    body: decisionBodySchema,
    bodyLimit: 16 * 1024,
    responses: {
      200: { description: "A retry of a decision already made: nothing changed", schema: decisionResultSchema },
      201: { description: "Decided, applied and logged", schema: decisionResultSchema },
      404: { description: "No such item or subject" },
      409: {
        description:
          "The decision changes nothing (already in that state, nothing open), another moderator holds the item, or the video is still processing",
      },
    },
    async handler({ res, body, user, platform }) {
      const result = await applyDecision(platform, user as User, body);
      sendJson(res, result.replayed ? 200 : 201, result);
    },
  }),
  route({
    method: "GET",
    path: "/moderation/audit",
    tag: "moderation",
    access: "moderator",
    summary: "The append-only audit log of decisions and appeals, newest first.",
    query: auditQuerySchema,
    responses: {
      200: {
        description: "A page of entries; pass `cursor` for the next",
        schema: z
          .object({ entries: z.array(auditEntrySchema), cursor: z.string().nullable() })
          .meta({ id: "ModerationAuditPage" }),
      },
    },
    async handler({ res, query, platform }) {
      const subject =
        query.subject === undefined
          ? undefined
          : {
              kind: query.subject.slice(0, query.subject.indexOf(":")),
              id: query.subject.slice(query.subject.indexOf(":") + 1),
            };
      sendJson(
        res,
        200,
        await listAudit(platform, {
          limit: query.limit ?? 50,
          ...(subject !== undefined && { subject }),
          ...(query.cursor !== undefined && { cursor: query.cursor }),
        }),
      );
    },
  }),
  route({
    method: ["GET", "HEAD"],
    path: "/moderation/media/{rest*}",
    tag: "moderation",
    access: "moderator",
    summary:
      "Any video's media for moderators (held and rejected ones too): /moderation/media/{videoId}/{file}. Never cached by shared caches.",
    responses: { 200: { description: "The file" }, 206: { description: "A range" }, 404: { description: "Not found" } },
    async handler({ req, res, params, platform }) {
      // serveMedia marks files `public` for /media; these answers must stay private to the moderator.
      const writeHead = res.writeHead.bind(res) as (status: number, headers: Record<string, string>) => unknown;
      (res as unknown as { writeHead: typeof writeHead }).writeHead = (status, headers) =>
        writeHead(status, { ...headers, "cache-control": "private, no-store", vary: "authorization" });
      await serveMedia(
        req,
        res,
        platform.mediaDir,
        params.rest ?? "",
        async (id) => (await platform.db.getVideo(id)) !== undefined,
      );
    },
  }),
  route({
    method: "POST",
    path: "/videos/{id}/appeal",
    tag: "moderation",
    access: "creator",
    summary: `Appeal the decision on your video (${[...APPEALABLE].join(", ")}): one open appeal per video; a moderator decides it from the queue.`,
    params: z.strictObject({ id: videoIdSchema }),
    body: appealBodySchema,
    bodyLimit: 16 * 1024,
    responses: {
      201: { description: "Appealed", schema: z.object({ appeal: appealSchema }) },
      403: { description: "Someone else's public video" },
      404: { description: "No such video (or not visible to the caller)" },
      409: { description: "Not appealable in its status, or an appeal is open already" },
    },
    async handler({ res, params, body, user, platform }) {
      sendJson(res, 201, { appeal: await fileAppeal(platform, user as User, params.id, body.message) });
    },
  }),
  route({
    method: "GET",
    path: "/me/appeals",
    tag: "moderation",
    access: "creator",
    summary: "The signed-in creator's appeals, newest first, with each video's status now.",
    responses: {
      200: {
        description: "Appeals",
        schema: z
          .object({
            appeals: z.array(
              appealSchema.extend({ video: z.object({ title: z.string(), status: z.string() }).nullable() }),
            ),
          })
          .meta({ id: "ModerationAppealList" }),
      },
    },
    async handler({ res, user, platform }) {
      sendJson(res, 200, { appeals: await listAppeals(platform, (user as User).id) });
    },
  }),
];
