// Comments (with one level of replies) and user reports, kept in their own tables through
// `platform.db.sql` (plain PostgreSQL, created lazily once per database). Every comment passes
// @reelkit/moderation's comment moment before anyone else sees it: allow/limit → visible, hold →
// pending (only its author and moderators see it; queued for review as a "comment" subject), block →
// rejected, never stored. Reports are deduplicated per (reporter, subject) and go to the review queue
// with a severity from the reason, raised by the number of distinct reporters.
import { randomUUID } from "node:crypto";
import {
  createModeration,
  createSpamCheck,
  createTextCheck,
  type Decision,
  type Moderation,
  type ModerationDecision,
} from "@reelkit/moderation";
import type { User } from "./auth.js";
import type { Sql } from "./db.js";
import type { Platform } from "./platform.js";
import type { SubjectHandler } from "./review.js";

/** Comments a user may post per minute (a token bucket, `app.limiter`). */
export const COMMENTS_PER_MINUTE = 10;
/** Reports a user may file per minute. */
export const REPORTS_PER_MINUTE = 20;
/** Replies embedded under each top-level comment of a page (oldest first); the rest via the replies route. */
export const REPLY_PREVIEW = 3;

export const reportReasons = [
  "spam",
  "harassment",
  "nudity",
  "violence",
  "misinformation",
  "copyright",
  "other",
] as const;
export type ReportReason = (typeof reportReasons)[number];

/** How urgent a single report is, by its reason (0–1, the review queue's severity). */
export const reportSeverity: Record<ReportReason, number> = {
  spam: 0.25,
  other: 0.25,
  misinformation: 0.4,
  copyright: 0.4,
  harassment: 0.5,
  nudity: 0.6,
  violence: 0.6,
};
/** Each further distinct reporter of a subject adds this much severity… */
export const SEVERITY_PER_REPORTER = 0.15;
/** …and from this many distinct reporters a subject is at least `high` (0.75). */
export const ESCALATE_AT_REPORTERS = 3;

/** The severity of a subject's review item once `reporters` distinct users reported it for `reason`. */
export function severityFor(reason: ReportReason, reporters: number): number {
  const raised = reportSeverity[reason] + SEVERITY_PER_REPORTER * Math.max(0, reporters - 1);
  return Math.min(1, reporters >= ESCALATE_AT_REPORTERS ? Math.max(0.75, raised) : raised);
}

const SCHEMA = `
create table if not exists social_comments (
  id text primary key,
  video_id text not null,
  parent_id text references social_comments(id),
  reply_to_id text,
  author_id text not null,
  author_name text not null,
  body text not null,
  status text not null,
  reason_codes text[] not null default '{}',
  created_at bigint not null,
  deleted_at bigint,
  deleted_by text
);
create index if not exists social_comments_top on social_comments (video_id, created_at desc, id desc) where parent_id is null;
create index if not exists social_comments_replies on social_comments (parent_id, created_at, id);
create table if not exists social_reports (
  id text primary key,
  reporter_id text not null,
  subject_kind text not null,
  subject_id text not null,
  reason text not null,
  note text,
  review_item_id text,
  created_at bigint not null,
  unique (reporter_id, subject_kind, subject_id)
);
`;

const schemaReady = new WeakMap<Sql, Promise<void>>();

/** Creates the tables once per database (memoized; a failure is retried on the next call). */
export function ensureSocialSchema(sql: Sql): Promise<void> {
  let ready = schemaReady.get(sql);
  if (ready === undefined) {
    // Once more on failure: processes sharing a PostgreSQL can race on `create … if not exists`.
    ready = sql
      .exec(SCHEMA)
      .catch(() => sql.exec(SCHEMA))
      .then(() => undefined);
    ready.catch(() => schemaReady.delete(sql));
    schemaReady.set(sql, ready);
  }
  return ready;
}

/**
 * Stored statuses: `visible`, `pending` (held by moderation, waiting for a moderator), `deleted`
 * (by its author or a moderator), `removed` (blocked by a moderator's review).
 */
export type CommentStatus = "visible" | "pending" | "deleted" | "removed";

export interface Comment {
  id: string;
  videoId: string;
  /** The top-level comment this reply belongs to; null for a top-level comment. */
  parentId: string | null;
  /** The comment this reply answers (the parent, or a reply in the same thread). */
  replyToId: string | null;
  author: { id: string; name: string };
  text: string;
  createdAt: number;
  /** Only `visible` and `pending` comments are ever returned. */
  status: "visible" | "pending";
  /** Why moderation held it: only on pending comments (only their author and moderators see them). */
  reasonCodes?: string[];
  /** Replies the caller can see (top-level comments; 0 for replies). */
  replyCount: number;
}

export interface CommentThread extends Comment {
  /** The first replies, oldest first (at most REPLY_PREVIEW). */
  replies: Comment[];
}

interface CommentRow {
  id: string;
  video_id: string;
  parent_id: string | null;
  reply_to_id: string | null;
  author_id: string;
  author_name: string;
  body: string;
  status: CommentStatus;
  reason_codes: string[] | null;
  created_at: string | number;
}

/** Who is asking: undefined when anonymous. */
export type Viewer = Pick<User, "id" | "role"> | undefined;

const isModerator = (viewer: Viewer) => viewer?.role === "moderator" || viewer?.role === "admin";

/** Whether the viewer may see a stored comment (visible; pending to its author and moderators). */
export function canSee(row: Pick<CommentRow, "status" | "author_id">, viewer: Viewer): boolean {
  if (row.status === "visible") return true;
  return row.status === "pending" && (isModerator(viewer) || row.author_id === viewer?.id);
}

const toComment = (row: CommentRow, replyCount = 0): Comment => ({
  id: row.id,
  videoId: row.video_id,
  parentId: row.parent_id,
  replyToId: row.reply_to_id,
  author: { id: row.author_id, name: row.author_name },
  text: row.body,
  createdAt: Number(row.created_at),
  status: row.status === "pending" ? "pending" : "visible",
  ...(row.status === "pending" ? { reasonCodes: row.reason_codes ?? [] } : {}),
  replyCount,
});

/** SQL for "the viewer may see this row" ($v: viewer id or null, $m: is a moderator). */
const visibleTo = (alias: string, v: string, m: string) =>
  `(${alias}.status = 'visible' or (${alias}.status = 'pending' and (${m}::boolean or ${alias}.author_id = ${v}::text)))`;

/** A position in a list: (createdAt, id). */
export interface Position {
  createdAt: number;
  id: string;
}

export type CreateResult =
  | { outcome: "created"; comment: Comment; decision: ModerationDecision }
  | { outcome: "blocked"; reasonCodes: string[]; decision: ModerationDecision }
  | { outcome: "no-video" }
  | { outcome: "no-parent" };

export type DeleteResult = "deleted" | "not-found" | "forbidden";

export type ReportResult =
  | { outcome: "accepted"; reportId: string; duplicate: boolean; reviewItemId?: string }
  | { outcome: "not-found" };

export interface Social {
  /** The moderation the comment moment runs through (text and spam checks, a comment policy). */
  moderation: Moderation;
  createComment(input: {
    videoId: string;
    author: Pick<User, "id" | "name" | "role">;
    text: string;
    parentId?: string;
    ip?: string;
  }): Promise<CreateResult>;
  /** Top-level comments of a video, newest first, with the first replies and the visible count. */
  listComments(
    videoId: string,
    viewer: Viewer,
    options: { limit: number; after?: Position },
  ): Promise<{ commentCount: number; items: CommentThread[]; next: Position | null }>;
  /** Replies of a top-level comment, oldest first; undefined when the viewer cannot see the comment. */
  listReplies(
    commentId: string,
    viewer: Viewer,
    options: { limit: number; after?: Position },
  ): Promise<{ parent: Comment; items: Comment[]; next: Position | null } | undefined>;
  /** A comment the viewer can see, or undefined. */
  getComment(id: string, viewer: Viewer): Promise<Comment | undefined>;
  deleteComment(id: string, by: Pick<User, "id" | "role">): Promise<DeleteResult>;
  /** The stored status of any comment (deleted and removed ones too), or undefined. */
  commentStatus(id: string): Promise<CommentStatus | undefined>;
  /** A comment as stored, whatever its status, for moderators' tools. */
  commentForReview(id: string): Promise<(Comment & { storedStatus: CommentStatus }) | undefined>;
  /**
   * Apply a moderator's review decision to a comment (the review dashboard): allow/limit make it
   * visible, hold keeps it pending, block removes it (and its replies). Resolves the status it left
   * the comment in; undefined when there is no such comment (or its author deleted it).
   */
  applyCommentDecision(id: string, decision: Decision): Promise<CommentStatus | undefined>;
  report(input: {
    reporter: Pick<User, "id" | "role">;
    subject: { kind: "video" | "comment"; id: string };
    reason: ReportReason;
    note?: string;
  }): Promise<ReportResult>;
}

/**
 * The moderation for comments: @reelkit/moderation's text and spam checks (the spam check's
 * near-duplicate window is per instance, so repeated posts are caught) with a comment policy that,
 * unlike the publishing default, blocks clear slurs, threats and harassment outright.
 */
export function createCommentModeration(): Moderation {
  return createModeration({
    checks: [createTextCheck({ moments: ["comment"] }), createSpamCheck({ moments: ["comment"] })],
    policy: {
      thresholds: {
        hate: { hold: 0.5, block: 0.8 },
        harassment: { limit: 0.4, hold: 0.6, block: 0.8 },
        violence: { limit: 0.4, hold: 0.6, block: 0.8 },
        sexual: { limit: 0.5, hold: 0.6, block: 0.8 },
      },
    },
  });
}

const services = new WeakMap<Platform, Social>();

/** The social service of a platform (one per platform: the comment moderation keeps state). */
export function socialOf(platform: Platform): Social {
  let social = services.get(platform);
  if (social === undefined) {
    social = createSocial(platform);
    services.set(platform, social);
  }
  return social;
}

export function createSocial(platform: Platform, moderation: Moderation = createCommentModeration()): Social {
  const { sql } = platform.db;
  const ready = () => ensureSocialSchema(sql);
  let lastAt = 0;
  /** Strictly increasing within the process, so "newest first" is stable for comments in one millisecond. */
  const now = () => {
    lastAt = Math.max(Date.now(), lastAt + 1);
    return lastAt;
  };

  const row = async (id: string) =>
    (await sql.query<CommentRow>("select * from social_comments where id = $1", [id])).rows[0];

  const replyCounts = async (ids: string[], viewer: Viewer): Promise<Map<string, number>> => {
    if (ids.length === 0) return new Map();
    const { rows } = await sql.query<{ parent_id: string; n: number }>(
      `select c.parent_id, count(*)::int as n from social_comments c
       where c.parent_id = any($1::text[]) and ${visibleTo("c", "$2", "$3")} group by c.parent_id`,
      [ids, viewer?.id ?? null, isModerator(viewer)],
    );
    return new Map(rows.map((r) => [r.parent_id, Number(r.n)]));
  };

  return {
    moderation,

    async createComment({ videoId, author, text, parentId, ip }) {
      await ready();
      if (!(await platform.isPublic(videoId))) return { outcome: "no-video" };
      let parent: CommentRow | undefined;
      if (parentId !== undefined) {
        parent = await row(parentId);
        if (parent === undefined || parent.video_id !== videoId || !canSee(parent, author))
          return { outcome: "no-parent" };
      }
      const id = randomUUID();
      const decision = await moderation.onComment({
        id,
        videoId,
        author: { id: author.id },
        text,
        ...(ip !== undefined ? { source: { ip } } : {}),
      });
      platform.metrics.inc("reelkit_comments_total", { decision: decision.decision });
      if (decision.decision === "block") return { outcome: "blocked", reasonCodes: decision.reasonCodes, decision };
      const status: CommentStatus = decision.decision === "hold" ? "pending" : "visible";
      const inserted = (
        await sql.query<CommentRow>(
          `insert into social_comments (id, video_id, parent_id, reply_to_id, author_id, author_name, body, status, reason_codes, created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10) returning *`,
          [
            id,
            videoId,
            parent === undefined ? null : (parent.parent_id ?? parent.id), // one level: replies join the thread
            parent?.id ?? null,
            author.id,
            author.name,
            text,
            status,
            decision.reasonCodes,
            now(),
          ],
        )
      ).rows[0] as CommentRow;
      if (status === "pending") {
        try {
          await platform.reviews.enqueue({
            subject: { kind: "comment", id },
            reasons: decision.reasonCodes.length > 0 ? decision.reasonCodes.slice(0, 32) : ["policy"],
            severity: "medium",
            note: `held by moderation on video ${videoId}`,
          });
        } catch (error) {
          // Not reviewable means never visible: take it back so the author can retry.
          await sql.query("delete from social_comments where id = $1", [id]);
          throw error;
        }
      }
      platform.log("comment created", { commentId: id, videoId, decision: decision.decision });
      return { outcome: "created", comment: toComment(inserted), decision };
    },

    async listComments(videoId, viewer, { limit, after }) {
      await ready();
      const v = viewer?.id ?? null;
      const m = isModerator(viewer);
      const top = (
        await sql.query<CommentRow>(
          `select * from social_comments c
           where c.video_id = $1 and c.parent_id is null and ${visibleTo("c", "$2", "$3")}
             and ($4::bigint is null or (c.created_at, c.id) < ($4::bigint, $5::text))
           order by c.created_at desc, c.id desc limit $6`,
          [videoId, v, m, after?.createdAt ?? null, after?.id ?? null, limit + 1],
        )
      ).rows;
      const page = top.slice(0, limit);
      const ids = page.map((r) => r.id);
      const [counts, previews, total] = await Promise.all([
        replyCounts(ids, viewer),
        ids.length === 0
          ? Promise.resolve({ rows: [] as CommentRow[] })
          : sql.query<CommentRow>(
              `select * from (
                 select c.*, row_number() over (partition by c.parent_id order by c.created_at, c.id) as rn
                 from social_comments c where c.parent_id = any($1::text[]) and ${visibleTo("c", "$2", "$3")}
               ) r where r.rn <= $4 order by r.created_at, r.id`,
              [ids, v, m, REPLY_PREVIEW],
            ),
        sql.query<{ n: number }>(
          `select count(*)::int as n from social_comments c
           left join social_comments p on p.id = c.parent_id
           where c.video_id = $1 and c.status = 'visible' and (c.parent_id is null or p.status = 'visible')`,
          [videoId],
        ),
      ]);
      const replies = new Map<string, Comment[]>();
      for (const r of previews.rows) {
        const list = replies.get(r.parent_id as string) ?? [];
        list.push(toComment(r));
        replies.set(r.parent_id as string, list);
      }
      const last = page.at(-1);
      return {
        commentCount: Number(total.rows[0]?.n ?? 0),
        items: page.map((r) => ({ ...toComment(r, counts.get(r.id) ?? 0), replies: replies.get(r.id) ?? [] })),
        next: top.length > limit && last !== undefined ? { createdAt: Number(last.created_at), id: last.id } : null,
      };
    },

    async listReplies(commentId, viewer, { limit, after }) {
      await ready();
      const parent = await row(commentId);
      if (parent === undefined || !canSee(parent, viewer) || !(await platform.isPublic(parent.video_id)))
        return undefined;
      const rows = (
        await sql.query<CommentRow>(
          `select * from social_comments c
           where c.parent_id = $1 and ${visibleTo("c", "$2", "$3")}
             and ($4::bigint is null or (c.created_at, c.id) > ($4::bigint, $5::text))
           order by c.created_at, c.id limit $6`,
          [commentId, viewer?.id ?? null, isModerator(viewer), after?.createdAt ?? null, after?.id ?? null, limit + 1],
        )
      ).rows;
      const page = rows.slice(0, limit);
      const counts = await replyCounts([commentId], viewer);
      const last = page.at(-1);
      return {
        parent: toComment(parent, counts.get(commentId) ?? 0),
        items: page.map((r) => toComment(r)),
        next: rows.length > limit && last !== undefined ? { createdAt: Number(last.created_at), id: last.id } : null,
      };
    },

    async getComment(id, viewer) {
      await ready();
      const found = await row(id);
      if (found === undefined || !canSee(found, viewer)) return undefined;
      const counts = found.parent_id === null ? await replyCounts([id], viewer) : new Map<string, number>();
      return toComment(found, counts.get(id) ?? 0);
    },

    async deleteComment(id, by) {
      await ready();
      const found = await row(id);
      if (found === undefined || !canSee(found, by)) return "not-found";
      if (found.author_id !== by.id && !isModerator(by)) return "forbidden";
      // A top-level comment takes its replies with it.
      await sql.query(
        `update social_comments set status = 'deleted', deleted_at = $2, deleted_by = $3
         where (id = $1 or parent_id = $1) and status in ('visible', 'pending')`,
        [id, Date.now(), by.id],
      );
      platform.log("comment deleted", { commentId: id, by: by.id });
      return "deleted";
    },

    async commentStatus(id) {
      await ready();
      return (await row(id))?.status;
    },

    async commentForReview(id) {
      await ready();
      const found = await row(id);
      return found === undefined ? undefined : { ...toComment(found), storedStatus: found.status };
    },

    async applyCommentDecision(id, decision) {
      await ready();
      const status: CommentStatus = decision === "block" ? "removed" : decision === "hold" ? "pending" : "visible";
      const { rows } = await sql.query<{ id: string }>(
        `update social_comments set status = $2 where id = $1 and status in ('visible', 'pending', 'removed') returning id`,
        [id, status],
      );
      if (rows.length === 0) {
        // Deleted by its author meanwhile: nothing to apply, but the review can still be closed.
        return (await row(id))?.status === "deleted" ? "deleted" : undefined;
      }
      if (status === "removed")
        await sql.query(
          "update social_comments set status = 'removed' where parent_id = $1 and status in ('visible', 'pending')",
          [id],
        );
      platform.log("comment reviewed", { commentId: id, decision, status });
      return status;
    },

    async report({ reporter, subject, reason, note }) {
      await ready();
      let reach = { views: 0, velocity: 0 };
      if (subject.kind === "video") {
        if (!(await platform.isPublic(subject.id))) return { outcome: "not-found" };
        const counts = (await platform.engagement.counts([subject.id]))[subject.id];
        reach = { views: Math.max(0, Math.floor(counts?.views ?? 0)), velocity: 0 };
      } else {
        const comment = await row(subject.id);
        if (comment === undefined || !canSee(comment, reporter) || !(await platform.isPublic(comment.video_id)))
          return { outcome: "not-found" };
      }
      const reportId = randomUUID();
      const inserted = await sql.query<{ id: string }>(
        `insert into social_reports (id, reporter_id, subject_kind, subject_id, reason, note, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (reporter_id, subject_kind, subject_id) do nothing returning id`,
        [reportId, reporter.id, subject.kind, subject.id, reason, note ?? null, Date.now()],
      );
      if (inserted.rows.length === 0) {
        // The same user reported this subject before: the first report stands.
        const existing = await sql.query<{ id: string; review_item_id: string | null }>(
          "select id, review_item_id from social_reports where reporter_id = $1 and subject_kind = $2 and subject_id = $3",
          [reporter.id, subject.kind, subject.id],
        );
        const first = existing.rows[0];
        if (first === undefined) throw new Error("report vanished");
        return {
          outcome: "accepted",
          reportId: first.id,
          duplicate: true,
          ...(first.review_item_id ? { reviewItemId: first.review_item_id } : {}),
        };
      }
      const { rows } = await sql.query<{ n: number }>(
        "select count(distinct reporter_id)::int as n from social_reports where subject_kind = $1 and subject_id = $2",
        [subject.kind, subject.id],
      );
      const reporters = Number(rows[0]?.n ?? 1);
      const { item } = await platform.reviews.enqueue({
        subject,
        reasons: [`report:${reason}`],
        severity: severityFor(reason, reporters),
        reach,
        by: reporter.id,
        ...(note !== undefined ? { note } : {}),
      });
      await sql.query("update social_reports set review_item_id = $2 where id = $1", [reportId, item.id]);
      platform.metrics.inc("reelkit_reports_total", { kind: subject.kind, reason });
      platform.log("report filed", { reportId, subject, reason, reporters, reviewItemId: item.id });
      return { outcome: "accepted", reportId, duplicate: false, reviewItemId: item.id };
    },
  };
}

/**
 * How the moderator dashboard (src/review.ts) reads and decides "comment" subjects: approve/limit
 * make a comment visible, reject/remove take it (and its replies) down.
 */
export const commentSubjectHandler: SubjectHandler = {
  status: (platform, id) => socialOf(platform).commentStatus(id),
  statusAfter: (action) => (action === "reject" || action === "remove" ? "removed" : "visible"),
  apply: (platform, id, decision) => socialOf(platform).applyCommentDecision(id, decision.decision),
  async describe(platform, id) {
    const comment = await socialOf(platform).commentForReview(id);
    if (comment === undefined) return undefined;
    return {
      title: `Comment by ${comment.author.name} (${comment.storedStatus})`,
      text: comment.text,
      ownerId: comment.author.id,
      url: `/videos/${comment.videoId}/comments`,
    };
  },
};
