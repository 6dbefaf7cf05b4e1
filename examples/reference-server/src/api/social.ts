// Comments with replies, moderated by @reelkit/moderation before anyone else sees them, and user
// reports into the review queue. The storage and the rules are in ../social.ts.
import { z } from "zod";
import type { User } from "../auth.js";
import { HttpError, sendJson } from "../http.js";
import type { Platform } from "../platform.js";
import { applyDecision, registerSubjectHandler } from "../review.js";
import { type RouteModule, route } from "../routes.js";
import {
  COMMENTS_PER_MINUTE,
  commentSubjectHandler,
  type Position,
  REPLY_PREVIEW,
  REPORTS_PER_MINUTE,
  reportReasons,
  socialOf,
} from "../social.js";
import { videoIdSchema } from "./videos.js";

const commentIdSchema = z.uuid("not a comment id");

export const commentSchema = z
  .object({
    id: z.string(),
    videoId: z.string(),
    parentId: z.string().nullable().meta({ description: "The top-level comment of the thread; null for one" }),
    replyToId: z.string().nullable().meta({ description: "The comment answered (the parent or a reply in it)" }),
    author: z.object({ id: z.string(), name: z.string() }).meta({ id: "CommentAuthor" }),
    text: z.string(),
    createdAt: z.number().meta({ description: "ms since the epoch" }),
    status: z.enum(["visible", "pending"]).meta({
      description: "pending: held by moderation until a moderator reviews it; only its author and moderators see it",
    }),
    reasonCodes: z.array(z.string()).optional().meta({ description: "Why moderation held it (pending only)" }),
    replyCount: z.number().int().meta({ description: "Replies the caller can see (0 for replies)" }),
  })
  .meta({ id: "Comment" });
const threadSchema = commentSchema
  .extend({ replies: z.array(commentSchema).meta({ description: `The first ${REPLY_PREVIEW} replies, oldest first` }) })
  .meta({ id: "CommentThread" });
const commentPageSchema = z
  .object({
    videoId: z.string(),
    commentCount: z.number().int().meta({ description: "Comments and replies everyone can see" }),
    items: z.array(threadSchema),
    cursor: z.string().nullable(),
  })
  .meta({ id: "CommentPage" });
const replyPageSchema = z
  .object({
    parentId: z.string(),
    replyCount: z.number().int(),
    items: z.array(commentSchema),
    cursor: z.string().nullable(),
  })
  .meta({ id: "ReplyPage" });
const rejectedSchema = z
  .object({ error: z.string(), reasonCodes: z.array(z.string()) })
  .meta({ id: "CommentRejected" });

const pageQuerySchema = z.strictObject({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(50).optional(),
});
const newCommentSchema = z
  .strictObject({
    text: z.string().trim().min(1, "text is empty").max(2000),
    parentId: commentIdSchema.optional().meta({ description: "Reply to this comment (same video)" }),
  })
  .meta({ id: "NewComment" });
const reportSchema = z
  .strictObject({
    subject: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("video"), id: videoIdSchema }),
      z.strictObject({ kind: z.literal("comment"), id: commentIdSchema }),
    ]),
    reason: z.enum(reportReasons),
    note: z.string().trim().min(1).max(1000).optional(),
  })
  .meta({ id: "NewReport" });
const reportAcceptedSchema = z.object({ reportId: z.string() }).meta({ id: "ReportAccepted" });

const PAGE_SIZE = 20;

/** Keyset cursors `base64url(createdAt.id).hmac`, bound to the list they came from: tampering is a 400. */
const cursorFor = (p: Platform, scope: string, at: Position | null): string | null => {
  if (at === null) return null;
  const payload = Buffer.from(`${at.createdAt}.${at.id}`).toString("base64url");
  return `${payload}.${p.tokens.sign(`comments:${scope}:${payload}`)}`;
};
const positionOf = (p: Platform, scope: string, cursor: string | undefined): Position | undefined => {
  if (cursor === undefined) return undefined;
  const [payload = "", signature = "", extra] = cursor.split(".");
  if (extra !== undefined || p.tokens.sign(`comments:${scope}:${payload}`) !== signature)
    throw new HttpError(400, "invalid cursor");
  const match = /^(\d{1,15})\.(.+)$/.exec(Buffer.from(payload, "base64url").toString("utf8"));
  if (match === null) throw new HttpError(400, "invalid cursor");
  return { createdAt: Number(match[1]), id: match[2] as string };
};

/** Seconds until one request is allowed again at `perMinute`. */
const retryAfter = (perMinute: number) => ({ "retry-after": String(Math.ceil(60 / perMinute)) });

export const socialRoutes: RouteModule = (app) => {
  // Moderators decide held and reported comments on the review dashboard (idempotent: same handler).
  registerSubjectHandler("comment", commentSubjectHandler);
  const allowComment = app.limiter("comments", COMMENTS_PER_MINUTE);
  const allowReport = app.limiter("reports", REPORTS_PER_MINUTE);
  return [
    route({
      method: "GET",
      path: "/videos/{id}/comments",
      tag: "comments",
      access: "optional",
      summary:
        "A video's top-level comments, newest first, each with its first replies and reply count, and the video's comment count. Pending comments show to their author (and moderators) only.",
      params: z.strictObject({ id: videoIdSchema }),
      query: pageQuerySchema,
      responses: {
        200: { description: "A page of comment threads", schema: commentPageSchema },
        404: { description: "No published or limited video with this id" },
      },
      async handler({ res, params, query, user, platform }) {
        if (!(await platform.isPublic(params.id))) throw new HttpError(404, "no such video");
        const scope = `video:${params.id}`;
        const page = await socialOf(platform).listComments(params.id, user, {
          limit: query.limit ?? PAGE_SIZE,
          ...withAfter(positionOf(platform, scope, query.cursor)),
        });
        sendJson(res, 200, {
          videoId: params.id,
          commentCount: page.commentCount,
          items: page.items,
          cursor: cursorFor(platform, scope, page.next),
        });
      },
    }),
    route({
      method: "POST",
      path: "/videos/{id}/comments",
      tag: "comments",
      access: "viewer",
      summary: `Comment on a video, or reply with parentId (one level: a reply to a reply joins the same thread). Moderated first: allowed → visible (201), held → pending until reviewed (201, status pending), blocked → 422 with reason codes. ${COMMENTS_PER_MINUTE} per minute per user.`,
      params: z.strictObject({ id: videoIdSchema }),
      body: newCommentSchema,
      bodyLimit: 16 * 1024,
      responses: {
        201: { description: "Created (visible, or pending review)", schema: commentSchema },
        404: { description: "No published or limited video with this id, or no such parent comment on it" },
        422: { description: "Blocked by moderation", schema: rejectedSchema },
        429: { description: "Too many comments (see Retry-After)" },
      },
      async handler({ req, res, params, body, user, platform }) {
        const author = user as User;
        if (!(await allowComment(author.id)))
          throw new HttpError(429, "too many comments, slow down", retryAfter(COMMENTS_PER_MINUTE));
        const ip = req.socket.remoteAddress;
        const result = await socialOf(platform).createComment({
          videoId: params.id,
          author,
          text: body.text,
          ...(body.parentId !== undefined ? { parentId: body.parentId } : {}),
          ...(ip !== undefined ? { ip } : {}),
        });
        switch (result.outcome) {
          case "no-video":
            throw new HttpError(404, "no such video");
          case "no-parent":
            throw new HttpError(404, "no such parent comment on this video");
          case "blocked":
            sendJson(res, 422, { error: "comment rejected by moderation", reasonCodes: result.reasonCodes });
            return;
          case "created":
            sendJson(res, 201, result.comment, { location: `/comments/${result.comment.id}` });
        }
      },
    }),
    route({
      method: "GET",
      path: "/comments/{id}/replies",
      tag: "comments",
      access: "optional",
      summary: "Every reply of a top-level comment, oldest first (pending ones to their author and moderators only).",
      params: z.strictObject({ id: commentIdSchema }),
      query: pageQuerySchema,
      responses: {
        200: { description: "A page of replies", schema: replyPageSchema },
        404: { description: "No such comment for the caller, or its video is not public" },
      },
      async handler({ res, params, query, user, platform }) {
        const scope = `replies:${params.id}`;
        const page = await socialOf(platform).listReplies(params.id, user, {
          limit: query.limit ?? PAGE_SIZE,
          ...withAfter(positionOf(platform, scope, query.cursor)),
        });
        if (page === undefined) throw new HttpError(404, "no such comment");
        sendJson(res, 200, {
          parentId: params.id,
          replyCount: page.parent.replyCount,
          items: page.items,
          cursor: cursorFor(platform, scope, page.next),
        });
      },
    }),
    route({
      method: "DELETE",
      path: "/comments/{id}",
      tag: "comments",
      access: "viewer",
      summary: "Delete a comment (and, for a top-level one, its replies): its author, or a moderator.",
      params: z.strictObject({ id: commentIdSchema }),
      responses: {
        204: { description: "Deleted" },
        403: { description: "Neither the author nor a moderator" },
        404: { description: "No such comment (or already deleted)" },
      },
      async handler({ res, params, user, platform }) {
        const me = user as User;
        const social = socialOf(platform);
        // A moderator taking down someone else's comment is a moderation decision: audited, and
        // its open review items closed, like one made on the dashboard.
        const target = await social.commentForReview(params.id);
        if (target !== undefined && target.author.id !== me.id && (me.role === "moderator" || me.role === "admin")) {
          if (target.storedStatus === "deleted" || target.storedStatus === "removed")
            throw new HttpError(404, "no such comment");
          await applyDecision(platform, me, {
            subject: { kind: "comment", id: params.id },
            action: "remove",
            reason: "moderator:deleted",
          });
          res.writeHead(204, { "cache-control": "no-store" });
          res.end();
          return;
        }
        const result = await social.deleteComment(params.id, me);
        if (result === "not-found") throw new HttpError(404, "no such comment");
        if (result === "forbidden") throw new HttpError(403, "only its author or a moderator may delete a comment");
        res.writeHead(204, { "cache-control": "no-store" });
        res.end();
      },
    }),
    route({
      method: "POST",
      path: "/reports",
      tag: "reports",
      access: "viewer",
      summary: `Report a video or a comment for review. One report per user and subject (a repeat answers the first report's id); severity from the reason, raised by the number of distinct reporters. ${REPORTS_PER_MINUTE} per minute per user.`,
      body: reportSchema,
      bodyLimit: 16 * 1024,
      responses: {
        202: { description: "Queued for review", schema: reportAcceptedSchema },
        404: { description: "No such video or comment visible to the reporter" },
        429: { description: "Too many reports (see Retry-After)" },
      },
      async handler({ res, body, user, platform }) {
        const reporter = user as User;
        if (!(await allowReport(reporter.id)))
          throw new HttpError(429, "too many reports, slow down", retryAfter(REPORTS_PER_MINUTE));
        const result = await socialOf(platform).report({
          reporter,
          subject: body.subject,
          reason: body.reason,
          ...(body.note !== undefined ? { note: body.note } : {}),
        });
        if (result.outcome === "not-found") throw new HttpError(404, `no such ${body.subject.kind}`);
        sendJson(res, 202, { reportId: result.reportId });
      },
    }),
  ];
};

const withAfter = (after: Position | undefined) => (after === undefined ? {} : { after });
