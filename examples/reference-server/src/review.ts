// Human review: the moderator's side of @reelkit/moderation's review queue (`platform.reviews`).
// Moderators list what waits (held and blocked videos, reports, appeals, comments), decide, and
// every decision is applied to its subject and appended to an audit log kept in PostgreSQL
// (`moderation_audit`, append-only: a trigger refuses updates and deletes). Creators appeal
// decisions on their videos (`moderation_appeals`, one open appeal per video); an appeal is a
// queue item of kind "appeal" that a moderator decides like any other.
//
// Subjects: "video" is built in; other modules register theirs with `registerSubjectHandler`
// (comments: src/social.ts). The queue is in memory in embedded mode, so the first use after a
// start re-enqueues what still waits (held videos, blocked ones nobody reviewed, open appeals).
import { randomUUID } from "node:crypto";
import { type Decision, isModerationError, ModerationErrorCode, type ReviewItem } from "@reelkit/moderation";
import type { Role, User } from "./auth.js";
import type { Video, VideoStatus } from "./db.js";
import { HttpError } from "./http.js";
import type { Platform } from "./platform.js";
import { serialized } from "./serial.js";

/** What a moderator can decide. */
export const decisionActions = ["approve", "limit", "reject", "remove"] as const;
export type DecisionAction = (typeof decisionActions)[number];

/** Each action as @reelkit/moderation's decision (what the review queue records). */
export const queueDecisionOf: Record<DecisionAction, Decision> = {
  approve: "allow",
  limit: "limit",
  reject: "block",
  remove: "block",
};

/** A video's status after each action. */
export const videoStatusAfter: Record<DecisionAction, VideoStatus> = {
  approve: "published",
  limit: "limited",
  reject: "rejected",
  remove: "rejected",
};

/** What the audit log records besides decisions: a creator filing an appeal. */
export const auditActions = [...decisionActions, "appeal"] as const;
export type AuditAction = (typeof auditActions)[number];

/** A reason code, as @reelkit/moderation's review queue takes them (`policy:spam`, `reviewed:ok`). */
export const REASON_CODE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** A subject kind, as the review queue takes them. */
export const SUBJECT_KIND = /^[a-z][a-z0-9_-]{0,31}$/;

export interface Subject {
  kind: string;
  id: string;
}

/** A moderator's decision as a subject handler receives it. */
export interface SubjectDecision {
  action: DecisionAction;
  /** The action as @reelkit/moderation's decision: approve → allow, limit → limit, reject/remove → block. */
  decision: Decision;
  reason: string;
  note?: string;
  moderator: User;
  /** The review item the decision came through, if any. */
  itemId?: string;
}

/** What the moderator dashboard shows about a subject. */
export interface SubjectSummary {
  title?: string;
  text?: string;
  ownerId?: string;
  /** Where a moderator can look at it. */
  url?: string;
}

/**
 * How decisions reach one kind of subject. Register with {@link registerSubjectHandler}.
 *
 * ```ts
 * registerSubjectHandler("comment", {
 *   status: async (platform, id) => (await lookUp(platform, id))?.status,
 *   apply: async (platform, id, d) =>
 *     (await socialOf(platform).applyCommentDecision(id, d.decision)) ? (d.decision === "block" ? "removed" : "visible") : undefined,
 *   statusAfter: (action) => (action === "reject" || action === "remove" ? "removed" : "visible"),
 * });
 * ```
 */
export interface SubjectHandler {
  /** The subject's status now (any string, e.g. "visible"); undefined when there is no such subject (404). */
  status(platform: Platform, id: string): Promise<string | undefined>;
  /**
   * Apply the decision (idempotently: a retry may call it again) and resolve the status it left
   * the subject in; undefined when the subject vanished (404). Throw `HttpError(409, …)` to refuse
   * it in the current state. Runs before the audit entry is written: when it throws, nothing is logged.
   */
  apply(platform: Platform, id: string, decision: SubjectDecision): Promise<string | undefined>;
  /**
   * The status an action would leave the subject in, so a decision that changes nothing answers
   * 409 and a retried one is recognised. Without it every decision is applied.
   */
  statusAfter?(action: DecisionAction, current: string): string;
  /** What the queue shows about the subject. */
  describe?(platform: Platform, id: string): Promise<SubjectSummary | undefined>;
}

const RESERVED_KINDS = new Set(["video", "appeal"]);
const handlers = new Map<string, SubjectHandler>();

/**
 * Let moderators decide subjects of `kind` (e.g. "comment") through `POST /moderation/decisions`:
 * the review dashboard calls `handler` to read and apply decisions, and logs them in the audit log.
 * Queue items for the subject are created with `platform.reviews.enqueue({ subject: { kind, id }, … })`.
 * Resolves an unregister function. "video" and "appeal" are built in; registering a kind twice throws.
 */
export function registerSubjectHandler(kind: string, handler: SubjectHandler): () => void {
  if (!SUBJECT_KIND.test(kind)) throw new Error(`subject kind ${JSON.stringify(kind)} is not [a-z][a-z0-9_-]{0,31}`);
  if (RESERVED_KINDS.has(kind)) throw new Error(`subject kind "${kind}" is built in`);
  const existing = handlers.get(kind);
  if (existing !== undefined && existing !== handler) throw new Error(`subject kind "${kind}" has a handler already`);
  handlers.set(kind, handler);
  return () => {
    if (handlers.get(kind) === handler) handlers.delete(kind);
  };
}

/** Statuses a moderator can decide (not while the video is still being processed, nor failed). */
const DECIDABLE: ReadonlySet<VideoStatus> = new Set(["published", "limited", "held", "rejected"]);
/** How restricted a video is: an appeal is granted when the decision leaves it less restricted. */
const RESTRICTION: Record<string, number> = { published: 0, limited: 1, held: 2, rejected: 3 };

const catalogModeration = {
  approve: "approved",
  limit: "pending", // not "approved": kept out of every recommendation, still reachable by link
  reject: "rejected",
  remove: "removed",
} as const;

const videoHandler: SubjectHandler = {
  async status(platform, id) {
    return (await platform.db.getVideo(id))?.status;
  },
  statusAfter: (action) => videoStatusAfter[action],
  async apply(platform, id, decision) {
    const video = await platform.db.getVideo(id);
    if (video === undefined) return undefined;
    if (!DECIDABLE.has(video.status))
      throw new HttpError(409, `the video is ${video.status}: it can be decided once it is processed`);
    const status = videoStatusAfter[decision.action];
    await platform.db.setStatus(id, status);
    const row = (await platform.db.getVideo(id)) ?? video;
    // The ranker serves only "approved" videos: anything else leaves every personalised feed now.
    platform.catalog.upsert([
      {
        videoId: row.id,
        creatorId: row.ownerId,
        createdAt: row.publishedAt ?? row.createdAt,
        ...(row.durationMs !== null && row.durationMs > 0 ? { durationMs: Math.round(row.durationMs) } : {}),
        moderation: catalogModeration[decision.action],
      },
    ]);
    // A rejected clip's frames join the known-media bank: re-uploads of it are caught after transcoding.
    if (decision.action === "reject" || decision.action === "remove") {
      const banned = await platform.frames.ban(id, `${decision.action}: ${decision.reason}`).catch(() => false);
      if (!banned) platform.log("frames not banked", { videoId: id });
    } else {
      // Approved or limited after all (an appeal): its frames no longer block re-uploads.
      await platform.frames
        .unban(id)
        .catch((error: unknown) => platform.log("frames not unbanked", { error: String(error) }));
    }
    return status;
  },
  async describe(platform, id) {
    const video = await platform.db.getVideo(id);
    return video === undefined ? undefined : { title: video.title, ownerId: video.ownerId, url: `/videos/${id}` };
  },
};

const handlerFor = (kind: string): SubjectHandler | undefined => (kind === "video" ? videoHandler : handlers.get(kind));

// ---------------------------------------------------------------------------------------------
// Storage

const SCHEMA = `
create table if not exists moderation_audit (
  id bigint generated always as identity primary key,
  at bigint not null,
  actor_id text not null,
  actor_role text not null,
  subject_kind text not null,
  subject_id text not null,
  action text not null,
  reason text not null,
  note text,
  previous_status text,
  status text,
  item_id text,
  appeal_id text,
  request_id text
);
create index if not exists moderation_audit_subject on moderation_audit (subject_kind, subject_id, id desc);
create index if not exists moderation_audit_appeal on moderation_audit (appeal_id, id desc) where appeal_id is not null;
create unique index if not exists moderation_audit_request on moderation_audit (actor_id, request_id) where request_id is not null;
create or replace function moderation_audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'moderation_audit is append-only';
end
$$;
create or replace trigger moderation_audit_no_change before update or delete on moderation_audit
  for each row execute function moderation_audit_append_only();
create table if not exists moderation_appeals (
  id text primary key,
  video_id text not null,
  owner_id text not null,
  message text not null,
  status text not null,
  video_status text not null,
  item_id text,
  created_at bigint not null,
  decided_at bigint,
  decided_by text,
  action text,
  reason text
);
create unique index if not exists moderation_appeals_open on moderation_appeals (video_id) where status = 'open';
create index if not exists moderation_appeals_owner on moderation_appeals (owner_id, created_at desc);
`;

interface AuditRow {
  id: string | number;
  at: string | number;
  actor_id: string;
  actor_role: string;
  subject_kind: string;
  subject_id: string;
  action: AuditAction;
  reason: string;
  note: string | null;
  previous_status: string | null;
  status: string | null;
  item_id: string | null;
  appeal_id: string | null;
  request_id: string | null;
}

export interface AuditEntry {
  id: string;
  at: number;
  actor: { id: string; role: string };
  subject: Subject;
  action: AuditAction;
  reason: string;
  note: string | null;
  previousStatus: string | null;
  status: string | null;
  itemId: string | null;
  appealId: string | null;
}

const toEntry = (row: AuditRow): AuditEntry => ({
  id: String(row.id),
  at: Number(row.at),
  actor: { id: row.actor_id, role: row.actor_role },
  subject: { kind: row.subject_kind, id: row.subject_id },
  action: row.action,
  reason: row.reason,
  note: row.note,
  previousStatus: row.previous_status,
  status: row.status,
  itemId: row.item_id,
  appealId: row.appeal_id,
});

export const appealStatuses = ["open", "granted", "denied"] as const;
export type AppealStatus = (typeof appealStatuses)[number];

interface AppealRow {
  id: string;
  video_id: string;
  owner_id: string;
  message: string;
  status: AppealStatus;
  video_status: string;
  item_id: string | null;
  created_at: string | number;
  decided_at: string | number | null;
  decided_by: string | null;
  action: DecisionAction | null;
  reason: string | null;
}

export interface Appeal {
  id: string;
  videoId: string;
  ownerId: string;
  message: string;
  /** `open` until a moderator decides; `granted` when the decision left the video less restricted. */
  status: AppealStatus;
  /** The video's status when it was appealed. */
  appealedStatus: string;
  itemId: string | null;
  createdAt: number;
  decidedAt: number | null;
  decision: { action: DecisionAction; reason: string } | null;
}

const toAppeal = (row: AppealRow): Appeal => ({
  id: row.id,
  videoId: row.video_id,
  ownerId: row.owner_id,
  message: row.message,
  status: row.status,
  appealedStatus: row.video_status,
  itemId: row.item_id,
  createdAt: Number(row.created_at),
  decidedAt: row.decided_at === null ? null : Number(row.decided_at),
  decision: row.action === null ? null : { action: row.action, reason: row.reason ?? "" },
});

const ready = new WeakMap<Platform, Promise<void>>();

/**
 * Creates the tables once per platform, then puts back into the (in-memory) queue what still
 * waits for a human: held videos, blocked videos no moderator has decided, open appeals.
 * Re-enqueuing is harmless: the queue merges a report into the subject's open item.
 */
export function reviewReady(platform: Platform): Promise<void> {
  let promise = ready.get(platform);
  if (promise === undefined) {
    promise = (async () => {
      await platform.db.sql.exec(SCHEMA);
      for (const video of await platform.db.byStatus(["held", "rejected"])) {
        if (video.status === "rejected") {
          const decided = await platform.db.sql.query(
            "select 1 from moderation_audit where subject_kind = 'video' and subject_id = $1 limit 1",
            [video.id],
          );
          if (decided.rows.length > 0) continue;
        }
        await enqueueVideo(platform, video);
      }
      const open = await platform.db.sql.query<AppealRow>(
        "select * from moderation_appeals where status = 'open' order by created_at",
      );
      for (const row of open.rows) await enqueueAppeal(platform, row);
    })();
    promise.catch(() => ready.delete(platform));
    ready.set(platform, promise);
  }
  return promise;
}

async function enqueueVideo(platform: Platform, video: Video): Promise<void> {
  const reasons = (video.error ?? "")
    .split(/,\s*/)
    .filter((code) => REASON_CODE.test(code))
    .slice(0, 32);
  await platform.reviews.enqueue({
    subject: { kind: "video", id: video.id },
    reasons: reasons.length > 0 ? reasons : ["policy"],
    severity: video.status === "rejected" ? "high" : "medium",
  });
}

async function enqueueAppeal(platform: Platform, row: AppealRow): Promise<string> {
  const { item } = await platform.reviews.enqueue({
    subject: { kind: "appeal", id: row.id },
    reasons: ["appeal"],
    severity: row.video_status === "rejected" ? "high" : "medium",
    by: row.owner_id,
    note: row.message.slice(0, 2000),
  });
  if (row.item_id !== item.id)
    await platform.db.sql.query("update moderation_appeals set item_id = $2 where id = $1", [row.id, item.id]);
  return item.id;
}

/** Review-queue failures as HTTP answers. */
function queueError(error: unknown): never {
  if (isModerationError(error)) {
    if (error.code === ModerationErrorCode.NOT_FOUND) throw new HttpError(404, "no such review item");
    if (error.code === ModerationErrorCode.INVALID_INPUT) throw new HttpError(400, error.message);
    if (error.code !== ModerationErrorCode.BACKEND_FAILED) throw new HttpError(409, error.message);
  }
  throw error;
}

const OPEN: ReadonlySet<string> = new Set(["queued", "claimed", "appealed"]);

// ---------------------------------------------------------------------------------------------
// The queue

export interface QueueEntry {
  item: ReviewItem;
  /** The video the item is about (a video item, or the video of an appeal). */
  video?: Video;
  appeal?: Appeal;
  summary?: SubjectSummary;
}

/** Open review items (queued, claimed, appealed), most urgent first, with what each is about. */
export async function listQueue(platform: Platform, options: { limit: number; kind?: string }): Promise<QueueEntry[]> {
  await reviewReady(platform);
  const lists = await Promise.all(
    (["queued", "claimed", "appealed"] as const).map((status) => platform.reviews.list({ status, limit: 1000 })),
  );
  const items = lists
    .flat()
    .filter((item) => options.kind === undefined || item.subject.kind === options.kind)
    .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || a.id.localeCompare(b.id))
    .slice(0, options.limit);
  return Promise.all(
    items.map(async (item): Promise<QueueEntry> => {
      if (item.subject.kind === "video") {
        const video = await platform.db.getVideo(item.subject.id);
        return video === undefined ? { item } : { item, video };
      }
      if (item.subject.kind === "appeal") {
        const appeal = await getAppeal(platform, item.subject.id);
        const video = appeal === undefined ? undefined : await platform.db.getVideo(appeal.videoId);
        return { item, ...(appeal !== undefined && { appeal }), ...(video !== undefined && { video }) };
      }
      const summary = await handlers
        .get(item.subject.kind)
        ?.describe?.(platform, item.subject.id)
        .catch(() => undefined);
      return summary === undefined ? { item } : { item, summary };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Decisions

export interface DecisionInput {
  /** A review item (a video, an appeal, a comment…); or `subject` to act without one. */
  itemId?: string | undefined;
  subject?: Subject | undefined;
  action: DecisionAction;
  reason: string;
  note?: string | undefined;
  /** A client-chosen id: the same moderator sending it again gets the first answer back. */
  requestId?: string | undefined;
}

export interface DecisionResult {
  /** The audit entry of the decision (the original one for a replay). */
  entry: AuditEntry;
  subject: Subject;
  /** The subject's status now. */
  status: string;
  /** True when this was a retry of a decision already made: nothing changed, nothing was logged. */
  replayed: boolean;
  /** The appeal the decision settled, if one was open. */
  appeal?: Appeal;
  /** Open review items of the subject the queue failed to close (the decision holds; decide again to close them). */
  unclosedItems?: string[];
}

async function getAppeal(platform: Platform, id: string): Promise<Appeal | undefined> {
  const row = (await platform.db.sql.query<AppealRow>("select * from moderation_appeals where id = $1", [id])).rows[0];
  return row === undefined ? undefined : toAppeal(row);
}

const sameDecision = (row: AuditRow, input: DecisionInput) =>
  row.action === input.action && row.reason === input.reason && (row.note ?? undefined) === input.note;

/**
 * Decide a review item or any subject, apply the decision and append it to the audit log.
 *
 * - The subject comes from `itemId` (an appeal item decides its video) or from `subject`.
 * - Every open review item of the subject (its own, reports, an open appeal) is closed with the
 *   decision, and an open appeal of a video is settled (granted when the video ends up less
 *   restricted than when it was appealed, else denied).
 * - Idempotent: the same `requestId` from the same moderator answers the first result; without
 *   one, a decision identical (action, reason, note) to the subject's last one by the same
 *   moderator, with nothing changed since, is a retry. Both answer `replayed: true` and log nothing.
 * - 409 when the decision would change nothing (the subject is in that state already and has no
 *   open item), when another moderator holds a claim on one of its items, or when the subject
 *   cannot be decided now (a video still processing).
 */
export async function applyDecision(
  platform: Platform,
  moderator: User,
  input: DecisionInput,
): Promise<DecisionResult> {
  await reviewReady(platform);
  const sql = platform.db.sql;
  let named: ReviewItem | undefined;
  let subject: Subject;
  if (input.itemId !== undefined) {
    named = await platform.reviews.get(input.itemId).catch(queueError);
    if (named === undefined) throw new HttpError(404, "no such review item");
    subject = named.subject;
  } else if (input.subject !== undefined) subject = input.subject;
  else throw new HttpError(400, "give itemId or subject");
  let viaAppeal: Appeal | undefined;
  if (subject.kind === "appeal") {
    viaAppeal = await getAppeal(platform, subject.id);
    if (viaAppeal === undefined) throw new HttpError(404, "no such appeal");
    subject = { kind: "video", id: viaAppeal.videoId };
  }
  const target = subject;
  const handler = handlerFor(target.kind);
  if (handler === undefined) throw new HttpError(400, `no subject handler for kind "${target.kind}"`);

  /** The entry this moderator already logged under `input.requestId`; 409 if it was another decision. */
  const earlierEntry = async (): Promise<AuditRow | undefined> => {
    if (input.requestId === undefined) return undefined;
    const earlier = (
      await sql.query<AuditRow>("select * from moderation_audit where actor_id = $1 and request_id = $2", [
        moderator.id,
        input.requestId,
      ])
    ).rows[0];
    if (
      earlier !== undefined &&
      (earlier.subject_kind !== target.kind || earlier.subject_id !== target.id || !sameDecision(earlier, input))
    )
      throw new HttpError(409, "requestId was used for another decision");
    return earlier;
  };

  // One decision per subject at a time in this process, so a retry racing its original is recognised.
  return serialized(platform, `decision:${target.kind}:${target.id}`, async () => {
    const earlier = await earlierEntry();
    if (earlier !== undefined)
      return {
        entry: toEntry(earlier),
        subject: target,
        status: (await handler.status(platform, target.id)) ?? earlier.status ?? "",
        replayed: true,
      };
    const current = await handler.status(platform, target.id);
    if (current === undefined) throw new HttpError(404, `no such ${target.kind}`);

    // Everything still open about the subject: its items (first review, reports) and an open appeal.
    const openAppealRow =
      target.kind === "video"
        ? (
            await sql.query<AppealRow>("select * from moderation_appeals where video_id = $1 and status = 'open'", [
              target.id,
            ])
          ).rows[0]
        : undefined;
    const related = await platform.reviews.list({ subject: target, limit: 1000 }).catch(queueError);
    if (openAppealRow !== undefined) {
      const appealItems = await platform.reviews
        .list({ subject: { kind: "appeal", id: openAppealRow.id }, limit: 100 })
        .catch(queueError);
      related.push(...appealItems);
    }
    if (named !== undefined && !related.some((item) => item.id === named.id)) related.push(named);
    const open = related.filter((item) => OPEN.has(item.status));

    const last = (
      await sql.query<AuditRow>(
        "select * from moderation_audit where subject_kind = $1 and subject_id = $2 and action <> 'appeal' order by id desc limit 1",
        [target.kind, target.id],
      )
    ).rows[0];
    const after = handler.statusAfter?.(input.action, current);
    if (
      last !== undefined &&
      last.actor_id === moderator.id &&
      sameDecision(last, input) &&
      last.status === current &&
      (after === undefined || after === current) &&
      open.length === 0 &&
      input.requestId === undefined
    )
      return { entry: toEntry(last), subject: target, status: current, replayed: true };
    if (after === current && open.length === 0 && openAppealRow === undefined)
      throw new HttpError(409, `the ${target.kind} is ${current} already and nothing about it is open`);
    for (const item of open)
      if (item.status === "claimed" && item.claim !== undefined && item.claim.reviewer !== moderator.id)
        throw new HttpError(409, `review item ${item.id} is claimed by ${item.claim.reviewer}`);

    const decision: SubjectDecision = {
      action: input.action,
      decision: queueDecisionOf[input.action],
      reason: input.reason,
      ...(input.note !== undefined && { note: input.note }),
      moderator,
      ...(named !== undefined && { itemId: named.id }),
    };
    const status = await handler.apply(platform, target.id, decision);
    if (status === undefined) throw new HttpError(404, `no such ${target.kind}`);

    const now = Date.now();
    let appeal: Appeal | undefined;
    if (openAppealRow !== undefined) {
      const granted = (RESTRICTION[status] ?? 3) < (RESTRICTION[openAppealRow.video_status] ?? 3);
      const updated = await sql.query<AppealRow>(
        `update moderation_appeals set status = $2, decided_at = $3, decided_by = $4, action = $5, reason = $6
         where id = $1 and status = 'open' returning *`,
        [openAppealRow.id, granted ? "granted" : "denied", now, moderator.id, input.action, input.reason],
      );
      const row = updated.rows[0];
      if (row !== undefined) appeal = toAppeal(row);
    }
    let inserted: AuditRow | undefined;
    try {
      inserted = (
        await sql.query<AuditRow>(
          `insert into moderation_audit (at, actor_id, actor_role, subject_kind, subject_id, action, reason, note,
             previous_status, status, item_id, appeal_id, request_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning *`,
          [
            now,
            moderator.id,
            moderator.role,
            target.kind,
            target.id,
            input.action,
            input.reason,
            input.note ?? null,
            current,
            status,
            named?.id ?? open[0]?.id ?? null,
            appeal?.id ?? viaAppeal?.id ?? null,
            input.requestId ?? null,
          ],
        )
      ).rows[0];
    } catch (error) {
      // Another process logged the same requestId first: answer its entry.
      if ((error as { code?: string }).code === "23505") {
        const earlier = await earlierEntry();
        if (earlier !== undefined) return { entry: toEntry(earlier), subject: target, status, replayed: true };
      }
      throw error;
    }
    if (inserted === undefined) throw new Error("the audit entry was not written");
    // Then close the open items with the decision (the named one first). The decision is applied
    // and logged already: an item the queue fails to close stays open, is reported in
    // `unclosedItems`, and a later decision on the subject closes it.
    open.sort((a, b) => Number(b.id === named?.id) - Number(a.id === named?.id));
    const unclosedItems: string[] = [];
    for (const item of open) {
      try {
        await closeItem(platform, item, moderator, decision);
      } catch (error) {
        unclosedItems.push(item.id);
        platform.log("closing a review item failed", { itemId: item.id, subject: target, error: String(error) });
      }
    }
    platform.metrics.inc("reelkit_review_decisions_total", { kind: target.kind, action: input.action });
    platform.log("review decision", {
      subject: target,
      action: input.action,
      reason: input.reason,
      moderator: moderator.id,
      previous: current,
      status,
    });
    return {
      entry: toEntry(inserted),
      subject: target,
      status,
      replayed: false,
      ...(appeal !== undefined && { appeal }),
      ...(unclosedItems.length > 0 && { unclosedItems }),
    };
  });
}

/** Take an open item and record the decision on it in the review queue. */
async function closeItem(platform: Platform, item: ReviewItem, moderator: User, decision: SubjectDecision) {
  const reviews = platform.reviews;
  const current = await reviews.claimItem(item.id, moderator.id);
  const body = {
    reasonCodes: [decision.reason],
    ...(decision.note !== undefined && { note: decision.note.slice(0, 2000) }),
  };
  if (current.stage === "appeal") {
    const upheld = current.action?.decision === decision.decision;
    await reviews.resolveAppeal(item.id, moderator.id, {
      outcome: upheld ? "upheld" : "overturned",
      decision: decision.decision,
      ...body,
    });
  } else await reviews.action(item.id, moderator.id, { decision: decision.decision, ...body });
}

// ---------------------------------------------------------------------------------------------
// The audit log

/** Audit entries, newest first; `cursor` is the id of the last entry of the previous page. */
export async function listAudit(
  platform: Platform,
  options: { subject?: Subject; cursor?: string; limit: number },
): Promise<{ entries: AuditEntry[]; cursor: string | null }> {
  await reviewReady(platform);
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.subject !== undefined) {
    if (options.subject.kind === "appeal") {
      params.push(options.subject.id);
      where.push(`appeal_id = $${params.length}`);
    } else {
      params.push(options.subject.kind, options.subject.id);
      where.push(`subject_kind = $${params.length - 1} and subject_id = $${params.length}`);
    }
  }
  if (options.cursor !== undefined) {
    params.push(options.cursor);
    where.push(`id < $${params.length}::bigint`);
  }
  params.push(options.limit + 1);
  const rows = await platform.db.sql.query<AuditRow>(
    `select * from moderation_audit ${where.length > 0 ? `where ${where.join(" and ")}` : ""}
     order by id desc limit $${params.length}`,
    params,
  );
  const entries = rows.rows.slice(0, options.limit).map(toEntry);
  return { entries, cursor: rows.rows.length > options.limit ? (entries.at(-1)?.id ?? null) : null };
}

// ---------------------------------------------------------------------------------------------
// Appeals

/** Statuses a creator may appeal. */
export const APPEALABLE: ReadonlySet<string> = new Set(["held", "rejected", "limited"]);

/**
 * File an appeal against the decision on the caller's video: 404 when the caller cannot see the
 * video, 403 when it is someone else's public video, 409 when it is not held, rejected or limited
 * or an appeal of it is open already. Queues an "appeal" item and logs the filing in the audit log.
 */
export async function fileAppeal(platform: Platform, user: User, videoId: string, message: string): Promise<Appeal> {
  await reviewReady(platform);
  const video = await platform.db.getVideo(videoId);
  if (video === undefined) throw new HttpError(404, "no such video");
  if (video.ownerId !== user.id) {
    const visible = video.status === "published" || video.status === "limited" || isModerator(user.role);
    if (!visible) throw new HttpError(404, "no such video");
    throw new HttpError(403, "only the video's owner can appeal");
  }
  if (!APPEALABLE.has(video.status))
    throw new HttpError(409, `the video is ${video.status}: only held, rejected or limited videos can be appealed`);
  const id = randomUUID();
  const now = Date.now();
  let row: AppealRow | undefined;
  try {
    row = (
      await platform.db.sql.query<AppealRow>(
        `insert into moderation_appeals (id, video_id, owner_id, message, status, video_status, created_at)
         values ($1, $2, $3, $4, 'open', $5, $6) returning *`,
        [id, video.id, user.id, message, video.status, now],
      )
    ).rows[0];
  } catch (error) {
    if ((error as { code?: string }).code === "23505")
      throw new HttpError(409, "this video has an open appeal already");
    throw error;
  }
  if (row === undefined) throw new Error("the appeal was not stored");
  row.item_id = await enqueueAppeal(platform, row);
  await platform.db.sql.query(
    `insert into moderation_audit (at, actor_id, actor_role, subject_kind, subject_id, action, reason, note,
       previous_status, status, item_id, appeal_id)
     values ($1, $2, $3, 'video', $4, 'appeal', 'appeal', $5, $6, $6, $7, $8)`,
    [now, user.id, user.role, video.id, message.slice(0, 2000), video.status, row.item_id, id],
  );
  platform.metrics.inc("reelkit_appeals_total");
  platform.log("appeal filed", { appealId: id, videoId: video.id, ownerId: user.id });
  return toAppeal(row);
}

/** A creator's appeals, newest first, with each video's title and status now. */
export async function listAppeals(
  platform: Platform,
  ownerId: string,
): Promise<Array<Appeal & { video: { title: string; status: string } | null }>> {
  await reviewReady(platform);
  const rows = await platform.db.sql.query<AppealRow & { title: string | null; current_status: string | null }>(
    `select a.*, v.title, v.status as current_status from moderation_appeals a
     left join videos v on v.id = a.video_id where a.owner_id = $1 order by a.created_at desc, a.id limit 500`,
    [ownerId],
  );
  return rows.rows.map((row) => ({
    ...toAppeal(row),
    video: row.title === null ? null : { title: row.title, status: row.current_status ?? "" },
  }));
}

export const isModerator = (role: Role) => role === "moderator" || role === "admin";
