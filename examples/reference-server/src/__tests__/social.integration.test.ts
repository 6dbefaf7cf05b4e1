// Comments, replies and reports over real HTTP: a real platform (PGlite, @reelkit/moderation and its
// review queue), videos published straight through the database (no transcoding needed here).
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../auth.js";
import type { Platform } from "../platform.js";
import type { ReferenceServer } from "../server.js";
import { COMMENTS_PER_MINUTE, type Comment, REPLY_PREVIEW, reportSeverity, socialOf } from "../social.js";
import { startTestServer } from "./helpers.js";

let root: string;
let platform: Platform;
let app: ReferenceServer;
let base: string;

const PUBLISHED = "social_published_video_1";
const LIMITED = "social_limited_video_0001";
const OTHER = "social_published_video_2";
const HELD = "social_held_video_000001";
const MISSING = "social_missing_video_0001";

/** A comment as the API answers it: the module's type, with a thread's first replies. */
interface CommentJson extends Comment {
  replies?: CommentJson[];
}
interface PageJson {
  videoId: string;
  commentCount: number;
  items: CommentJson[];
  cursor: string | null;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-social-"));
  ({ platform, app, base } = await startTestServer(join(root, "data")));
  for (const [id, status] of [
    [PUBLISHED, "published"],
    [LIMITED, "limited"],
    [OTHER, "published"],
    [HELD, "held"],
  ] as const) {
    await platform.db.createVideo({ id, ownerId: "u-creator", title: `video ${id}`, status: "uploaded" });
    await platform.db.setStatus(id, status);
  }
}, 60_000);

afterAll(async () => {
  await app?.close();
  await platform?.close();
  await rm(root, { recursive: true, force: true });
});

/** A fresh user (own rate-limit bucket) with a token signed by the platform. */
const userToken = (role: Role = "viewer", name = `Tester ${role}`) => {
  const id = `u-test-${randomUUID().slice(0, 8)}`;
  return { id, name, token: platform.tokens.issue({ id, name, role }) };
};

const call = (method: string, path: string, token?: string, body?: unknown, raw?: string) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

async function comment(token: string, videoId: string, text: string, parentId?: string): Promise<CommentJson> {
  const res = await call("POST", `/videos/${videoId}/comments`, token, { text, ...(parentId ? { parentId } : {}) });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as CommentJson;
}

async function list(videoId: string, token?: string, query = ""): Promise<PageJson> {
  const res = await call("GET", `/videos/${videoId}/comments${query}`, token);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as PageJson;
}

const allIds = (page: PageJson) => page.items.flatMap((c) => [c.id, ...(c.replies ?? []).map((r) => r.id)]);

describe("comments", () => {
  it("posts comments and replies, lists threads newest first with replies and counts, pages with signed cursors", async () => {
    const alice = userToken("viewer", "Alice");
    const bob = userToken("creator", "Bob");
    const before = (await list(PUBLISHED)).commentCount;

    const c1 = await comment(alice.token, PUBLISHED, "First! Lovely light in this one.");
    const c2 = await comment(alice.token, PUBLISHED, "The second half is even better");
    const c3 = await comment(alice.token, PUBLISHED, "Where was this filmed?");
    expect(c1).toMatchObject({
      videoId: PUBLISHED,
      parentId: null,
      replyToId: null,
      author: { id: alice.id, name: "Alice" },
      text: "First! Lovely light in this one.",
      status: "visible",
      replyCount: 0,
    });
    expect(c1.reasonCodes).toBeUndefined();
    expect(c1.id).toMatch(/^[0-9a-f-]{36}$/);
    const r1 = await comment(bob.token, PUBLISHED, "  Thanks Alice!  ", c1.id);
    const r2 = await comment(alice.token, PUBLISHED, "You're welcome", c1.id);
    // A reply to a reply joins the same thread (one level), remembering whom it answers.
    const r3 = await comment(bob.token, PUBLISHED, "Glad you liked it", r1.id);
    const r4 = await comment(bob.token, PUBLISHED, "One more thing", c1.id);
    expect(r1).toMatchObject({ parentId: c1.id, replyToId: c1.id, text: "Thanks Alice!" });
    expect(r3).toMatchObject({ parentId: c1.id, replyToId: r1.id });

    const page = await list(PUBLISHED);
    expect(page.videoId).toBe(PUBLISHED);
    expect(page.commentCount).toBe(before + 7);
    const ours = page.items.filter((c) => [c1.id, c2.id, c3.id].includes(c.id));
    expect(ours.map((c) => c.id)).toEqual([c3.id, c2.id, c1.id]); // newest first
    const thread = ours[2] as CommentJson;
    expect(thread.replyCount).toBe(4);
    expect(thread.replies?.map((r) => r.id)).toEqual([r1.id, r2.id, r3.id].slice(0, REPLY_PREVIEW)); // oldest first
    expect(thread.replies?.[0]).toMatchObject({ author: { id: bob.id, name: "Bob" }, replyCount: 0 });
    expect(ours[0]).toMatchObject({ replyCount: 0, replies: [] });
    // Replies are not top-level items.
    expect(page.items.map((c) => c.id)).not.toContain(r1.id);

    // Paging: two at a time, the cursor is bound to this video and signed.
    const first = await list(PUBLISHED, undefined, "?limit=2");
    expect(first.items.map((c) => c.id)).toEqual([c3.id, c2.id]);
    expect(first.cursor).toEqual(expect.any(String));
    const second = await list(PUBLISHED, undefined, `?limit=2&cursor=${encodeURIComponent(first.cursor ?? "")}`);
    expect(second.items.map((c) => c.id)).toEqual([c1.id]);
    expect(second.cursor).toBeNull();
    const [payload = "", signature = ""] = (first.cursor ?? "").split(".");
    const forgedPayload = Buffer.from(`${Date.now() + 1e6}.${c1.id}`).toString("base64url");
    for (const bad of [`${forgedPayload}.${signature}`, `${payload}.x${signature}`, "garbage"]) {
      const res = await call("GET", `/videos/${PUBLISHED}/comments?cursor=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
    }
    // Another video's list does not take this cursor.
    expect(
      (await call("GET", `/videos/${OTHER}/comments?cursor=${encodeURIComponent(first.cursor ?? "")}`)).status,
    ).toBe(400);

    // Every reply, oldest first, paged.
    const replies = await call("GET", `/comments/${c1.id}/replies?limit=3`);
    expect(replies.status).toBe(200);
    const repliesPage = (await replies.json()) as {
      parentId: string;
      replyCount: number;
      items: CommentJson[];
      cursor: string;
    };
    expect(repliesPage).toMatchObject({ parentId: c1.id, replyCount: 4 });
    expect(repliesPage.items.map((r) => r.id)).toEqual([r1.id, r2.id, r3.id]);
    const rest = (await (
      await call("GET", `/comments/${c1.id}/replies?limit=3&cursor=${encodeURIComponent(repliesPage.cursor)}`)
    ).json()) as { items: CommentJson[]; cursor: string | null };
    expect(rest.items.map((r) => r.id)).toEqual([r4.id]);
    expect(rest.cursor).toBeNull();

    // Limited videos take comments too; a parent from another video does not.
    await comment(alice.token, LIMITED, "Nice one, limited or not");
    const cross = await call("POST", `/videos/${OTHER}/comments`, bob.token, { text: "wrong thread", parentId: c1.id });
    expect(cross.status).toBe(404);
    const unknownParent = await call("POST", `/videos/${PUBLISHED}/comments`, bob.token, {
      text: "to nobody",
      parentId: randomUUID(),
    });
    expect(unknownParent.status).toBe(404);
  });

  it("holds doubtful comments: pending for their author and moderators only, queued for review as a comment", async () => {
    const author = userToken("viewer", "Linky");
    const other = userToken("viewer", "Other");
    const moderator = userToken("moderator", "Mod");
    const before = (await list(PUBLISHED)).commentCount;
    const links = ["one", "two", "three", "four", "five"].map((n) => `https://${n}.deals-here.com/offer`).join(" ");
    const res = await call("POST", `/videos/${PUBLISHED}/comments`, author.token, { text: `great deals ${links}` });
    expect(res.status).toBe(201);
    const held = (await res.json()) as CommentJson;
    expect(held.status).toBe("pending");
    expect(held.reasonCodes).toContain("spam:links");

    expect(allIds(await list(PUBLISHED))).not.toContain(held.id); // anonymous
    expect(allIds(await list(PUBLISHED, other.token))).not.toContain(held.id);
    const own = (await list(PUBLISHED, author.token)).items.find((c) => c.id === held.id);
    expect(own).toMatchObject({ status: "pending", reasonCodes: expect.arrayContaining(["spam:links"]) });
    expect((await list(PUBLISHED, moderator.token)).items.find((c) => c.id === held.id)?.status).toBe("pending");
    expect((await list(PUBLISHED)).commentCount).toBe(before); // not counted while pending

    // Nobody else can reply to it, delete it or report it: to them it does not exist.
    expect(
      (await call("POST", `/videos/${PUBLISHED}/comments`, other.token, { text: "hm", parentId: held.id })).status,
    ).toBe(404);
    expect((await call("DELETE", `/comments/${held.id}`, other.token)).status).toBe(404);
    expect(
      (await call("POST", "/reports", other.token, { subject: { kind: "comment", id: held.id }, reason: "spam" }))
        .status,
    ).toBe(404);
    expect((await call("GET", `/comments/${held.id}/replies`)).status).toBe(404);

    // The review queue has it, as a comment.
    const items = await platform.reviews.list({ subject: { kind: "comment", id: held.id } });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ status: "queued", subject: { kind: "comment", id: held.id } });
    expect(items[0]?.reasons).toContain("spam:links");

    // A moderator approves it on the review dashboard: visible to everyone.
    const queue = await call("GET", "/moderation/queue?kind=comment", moderator.token);
    expect(queue.status).toBe(200);
    expect(JSON.stringify(await queue.json())).toContain(held.text);
    const decided = await call("POST", "/moderation/decisions", moderator.token, {
      itemId: items[0]?.id,
      action: "approve",
      reason: "reviewed:ok",
    });
    expect(decided.status, await decided.clone().text()).toBe(201);
    expect(await decided.json()).toMatchObject({ subject: { kind: "comment", id: held.id }, status: "visible" });
    const after = await list(PUBLISHED);
    expect(after.items.find((c) => c.id === held.id)).toMatchObject({ status: "visible" });
    expect(after.commentCount).toBe(before + 1);
    // And takes it down again: gone for everyone, its author included.
    const removed = await call("POST", "/moderation/decisions", moderator.token, {
      subject: { kind: "comment", id: held.id },
      action: "remove",
      reason: "policy:spam",
    });
    expect(removed.status, await removed.clone().text()).toBe(201);
    expect(allIds(await list(PUBLISHED, author.token))).not.toContain(held.id);
    expect(await socialOf(platform).commentStatus(held.id)).toBe("removed");
    expect((await call("DELETE", `/comments/${held.id}`, author.token)).status).toBe(404);
  });

  it("lets a moderator close the review of a held comment its author deleted meanwhile", async () => {
    const author = userToken("viewer", "Regretful");
    const moderator = userToken("moderator", "Mod");
    const links = ["a", "b", "c", "d", "e"].map((n) => `https://${n}.cheap-stuff.com/x`).join(" ");
    const res = await call("POST", `/videos/${PUBLISHED}/comments`, author.token, { text: `buy now ${links}` });
    const held = (await res.json()) as CommentJson;
    expect(held.status).toBe("pending");
    expect((await call("DELETE", `/comments/${held.id}`, author.token)).status).toBe(204);
    const [item] = await platform.reviews.list({ subject: { kind: "comment", id: held.id } });
    expect(item).toBeDefined();
    const decided = await call("POST", "/moderation/decisions", moderator.token, {
      itemId: item?.id,
      action: "reject",
      reason: "policy:spam",
    });
    expect(decided.status, await decided.clone().text()).toBe(201);
    expect(await decided.json()).toMatchObject({ status: "deleted" });
    const queue = (await (await call("GET", "/moderation/queue?kind=comment", moderator.token)).json()) as {
      items: Array<{ id: string }>;
    };
    expect(queue.items.map((i) => i.id)).not.toContain(item?.id);
  });

  it("rejects blocked comments with 422 and reason codes, stores nothing; mild swearing stays visible", async () => {
    const user = userToken();
    const before = await list(PUBLISHED);
    const res = await call("POST", `/videos/${PUBLISHED}/comments`, user.token, {
      text: "nobody likes you, kill yourself",
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: string; reasonCodes: string[] };
    expect(body.error).toMatch(/moderation/);
    expect(body.reasonCodes).toContain("text:harassment");
    const after = await list(PUBLISHED, user.token);
    expect(after.commentCount).toBe(before.commentCount);
    expect(after.items.map((c) => c.text)).not.toContain("nobody likes you, kill yourself");
    const { rows } = await platform.db.sql.query<{ n: number }>(
      "select count(*)::int as n from social_comments where author_id = $1",
      [user.id],
    );
    expect(Number(rows[0]?.n)).toBe(0);

    const mild = await comment(user.token, PUBLISHED, "holy shit that jump");
    expect(mild.status).toBe("visible");
  });

  it("deletes for the author or a moderator (with the replies), 403 for anyone else", async () => {
    const alice = userToken("viewer", "Alice");
    const bob = userToken("creator", "Bob");
    const moderator = userToken("moderator");
    const admin = userToken("admin");
    const mine = await comment(alice.token, OTHER, "I will delete this later");
    expect((await call("DELETE", `/comments/${mine.id}`, bob.token)).status).toBe(403);
    expect(allIds(await list(OTHER))).toContain(mine.id);
    expect((await call("DELETE", `/comments/${mine.id}`, alice.token)).status).toBe(204);
    expect(allIds(await list(OTHER))).not.toContain(mine.id);
    expect((await call("DELETE", `/comments/${mine.id}`, alice.token)).status).toBe(404);

    const before = (await list(OTHER)).commentCount;
    const top = await comment(bob.token, OTHER, "Moderators will remove this");
    const reply = await comment(alice.token, OTHER, "a reply to it", top.id);
    expect((await list(OTHER)).commentCount).toBe(before + 2);
    const ownReply = await comment(alice.token, OTHER, "own reply removed by an admin", top.id);
    expect((await call("DELETE", `/comments/${ownReply.id}`, admin.token)).status).toBe(204);
    expect((await call("DELETE", `/comments/${top.id}`, moderator.token)).status).toBe(204);
    const after = await list(OTHER);
    expect(allIds(after)).not.toContain(top.id);
    expect(allIds(after)).not.toContain(reply.id);
    expect(after.commentCount).toBe(before);
    expect((await call("GET", `/comments/${top.id}/replies`)).status).toBe(404);
    expect((await call("DELETE", `/comments/${randomUUID()}`, moderator.token)).status).toBe(404);
    expect((await call("DELETE", `/comments/${top.id}`, moderator.token)).status).toBe(404); // already down
    // A moderator's take-down is a moderation decision: in the audit log, like the dashboard's.
    const audit = await call("GET", `/moderation/audit?subject=comment:${top.id}`, moderator.token);
    expect(audit.status).toBe(200);
    const entries = (
      (await audit.json()) as { entries: Array<{ action: string; reason: string; actor: { id: string } }> }
    ).entries;
    expect(entries).toEqual([
      expect.objectContaining({
        action: "remove",
        reason: "moderator:deleted",
        actor: expect.objectContaining({ role: "moderator" }),
      }),
    ]);
    // The admin's removal of another's reply is audited too; an author's own deletion is not.
    const replyAudit = await call("GET", `/moderation/audit?subject=comment:${ownReply.id}`, moderator.token);
    expect(((await replyAudit.json()) as { entries: unknown[] }).entries).toHaveLength(1);
    const ownAudit = await call("GET", `/moderation/audit?subject=comment:${mine.id}`, moderator.token);
    expect(((await ownAudit.json()) as { entries: unknown[] }).entries).toHaveLength(0);
  });

  it("refuses missing or forged tokens (401), malformed requests (400) and videos that are not public (404)", async () => {
    const user = userToken();
    expect((await call("POST", `/videos/${PUBLISHED}/comments`, undefined, { text: "hi" })).status).toBe(401);
    const forged = `${user.token.split(".")[0]}.forged`;
    expect((await call("POST", `/videos/${PUBLISHED}/comments`, forged, { text: "hi" })).status).toBe(401);
    expect((await call("GET", `/videos/${PUBLISHED}/comments`, forged)).status).toBe(401);
    expect((await call("DELETE", `/comments/${randomUUID()}`)).status).toBe(401);
    expect(
      (await call("POST", "/reports", undefined, { subject: { kind: "video", id: PUBLISHED }, reason: "spam" })).status,
    ).toBe(401);
    // A token for a role this server does not know is forged too.
    const wrongRole = Buffer.from(
      JSON.stringify({ sub: "x", role: "root", name: "x", exp: Date.now() + 1e6 }),
    ).toString("base64url");
    expect(
      (
        await call("POST", `/videos/${PUBLISHED}/comments`, `${wrongRole}.${platform.tokens.sign(wrongRole)}`, {
          text: "hi",
        })
      ).status,
    ).toBe(401);

    const bad = async (method: string, path: string, body?: unknown, raw?: string) => {
      const res = await call(method, path, user.token, body, raw);
      const text = await res.text();
      expect(res.status, `${method} ${path} ${JSON.stringify(body ?? raw)}: ${text}`).toBe(400);
      expect(JSON.parse(text)).toMatchObject({ error: expect.stringMatching(/invalid|JSON|cursor/) });
      return text;
    };
    const post = `/videos/${PUBLISHED}/comments`;
    await bad("POST", post, {});
    expect(await bad("POST", post, { text: "" })).toContain("text");
    await bad("POST", post, { text: "   " });
    await bad("POST", post, { text: 42 });
    await bad("POST", post, { text: "x".repeat(2001) });
    await bad("POST", post, { text: "hi", parentId: "not-a-comment-id" });
    await bad("POST", post, { text: "hi", authorId: "u-admin" });
    await bad("POST", post, { text: "hi", id: randomUUID() });
    await bad("POST", post, undefined, "{ not json");
    await bad("POST", post, ["text"]);
    await bad("POST", "/videos/bad!id/comments", { text: "hi" });
    await bad("GET", `${post}?limit=0`);
    await bad("GET", `${post}?limit=51`);
    await bad("GET", `${post}?limit=ten`);
    await bad("GET", `${post}?sort=old`);
    await bad("DELETE", "/comments/not-a-uuid");
    await bad("GET", "/comments/not-a-uuid/replies");
    await bad("POST", "/reports", { subject: { kind: "user", id: "u-viewer" }, reason: "spam" });
    await bad("POST", "/reports", { subject: { kind: "video", id: PUBLISHED }, reason: "boring" });
    await bad("POST", "/reports", { subject: { kind: "comment", id: PUBLISHED }, reason: "spam" });
    await bad("POST", "/reports", { reason: "spam" });
    await bad("POST", "/reports", { subject: { kind: "video", id: PUBLISHED }, reason: "spam", note: "" });
    await bad("POST", "/reports", { subject: { kind: "video", id: PUBLISHED }, reason: "spam", severity: 1 });
    // Nothing was stored by any of them.
    const { rows } = await platform.db.sql.query<{ n: number }>(
      "select (select count(*) from social_comments where author_id = $1)::int + (select count(*) from social_reports where reporter_id = $1)::int as n",
      [user.id],
    );
    expect(Number(rows[0]?.n)).toBe(0);

    for (const id of [HELD, MISSING]) {
      expect((await call("GET", `/videos/${id}/comments`)).status).toBe(404);
      expect((await call("POST", `/videos/${id}/comments`, user.token, { text: "hello?" })).status).toBe(404);
      expect(
        (await call("POST", "/reports", user.token, { subject: { kind: "video", id }, reason: "spam" })).status,
      ).toBe(404);
    }
    // Not even the video's owner comments on a held video.
    const owner = platform.tokens.issue({ id: "u-creator", name: "Cai Creator", role: "creator" });
    expect((await call("POST", `/videos/${HELD}/comments`, owner, { text: "mine" })).status).toBe(404);
  });

  it("documents the routes in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
    };
    expect(Object.keys(doc.paths["/videos/{id}/comments"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(doc.paths["/videos/{id}/comments"]?.post?.responses).toHaveProperty("422");
    expect(doc.paths["/videos/{id}/comments"]?.post?.responses).toHaveProperty("429");
    expect(doc.paths["/comments/{id}"]?.delete?.responses).toHaveProperty("403");
    expect(doc.paths["/comments/{id}/replies"]?.get).toBeDefined();
    expect(doc.paths["/reports"]?.post?.responses).toHaveProperty("202");
    expect(JSON.stringify(doc.paths["/reports"]?.post?.requestBody)).toContain("misinformation");
  });
});

describe("reports", () => {
  it("deduplicates per reporter and subject, queues the subject for review, escalates with distinct reporters", async () => {
    const [first, second, third] = [userToken(), userToken(), userToken("creator")];
    const subject = { kind: "video" as const, id: OTHER };
    const report = async (token: string, body: unknown) => {
      const res = await call("POST", "/reports", token, body);
      expect(res.status, await res.clone().text()).toBe(202);
      return ((await res.json()) as { reportId: string }).reportId;
    };
    const id1 = await report(first.token, { subject, reason: "spam", note: "same clip posted 20 times" });
    expect(id1).toMatch(/^[0-9a-f-]{36}$/);
    expect(await report(first.token, { subject, reason: "spam", note: "same clip posted 20 times" })).toBe(id1);
    expect(await report(first.token, { subject, reason: "violence" })).toBe(id1); // one report per user and subject

    let items = await platform.reviews.list({ subject });
    expect(items).toHaveLength(1);
    expect(items[0]?.severity).toBeCloseTo(reportSeverity.spam);
    expect(items[0]?.reasons).toEqual(["report:spam"]);

    const id2 = await report(second.token, { subject, reason: "harassment" });
    expect(id2).not.toBe(id1);
    items = await platform.reviews.list({ subject });
    expect(items).toHaveLength(1); // merged into the open item
    const twoReporters = items[0]?.severity ?? 0;
    expect(twoReporters).toBeGreaterThan(reportSeverity.harassment);
    await report(third.token, { subject, reason: "spam" });
    items = await platform.reviews.list({ subject });
    expect(items).toHaveLength(1);
    expect(items[0]?.severity).toBeGreaterThan(twoReporters);
    expect(items[0]?.severity).toBeGreaterThanOrEqual(0.75);
    expect(items[0]?.reasons.sort()).toEqual(["report:harassment", "report:spam"]);
    const audit = await platform.reviews.audit(items[0]?.id ?? "");
    expect(audit.map((e) => e.actor)).toEqual(expect.arrayContaining([first.id, second.id, third.id]));

    const { rows } = await platform.db.sql.query<{ n: number }>(
      "select count(*)::int as n from social_reports where subject_kind = 'video' and subject_id = $1",
      [OTHER],
    );
    expect(Number(rows[0]?.n)).toBe(3);

    // Comments are reported the same way, as their own subject.
    const target = await comment(userToken().token, PUBLISHED, "a comment someone dislikes");
    await report(first.token, { subject: { kind: "comment", id: target.id }, reason: "harassment" });
    const commentItems = await platform.reviews.list({ subject: { kind: "comment", id: target.id } });
    expect(commentItems).toHaveLength(1);
    expect(commentItems[0]?.reasons).toEqual(["report:harassment"]);
    expect(
      (await call("POST", "/reports", first.token, { subject: { kind: "comment", id: randomUUID() }, reason: "spam" }))
        .status,
    ).toBe(404);
  });
});

describe("rate limits", () => {
  it(`answers 429 with Retry-After past ${COMMENTS_PER_MINUTE} comments a minute, per user`, async () => {
    const busy = userToken();
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < COMMENTS_PER_MINUTE * 2 && limited === undefined; i++) {
      const res = await call("POST", `/videos/${LIMITED}/comments`, busy.token, { text: `take ${i}` });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.body?.cancel();
    }
    expect(limited, `statuses: ${statuses.join(",")}`).toBeDefined();
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(COMMENTS_PER_MINUTE);
    expect(statuses.slice(0, COMMENTS_PER_MINUTE).every((s) => s === 201)).toBe(true);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await (limited as Response).json()) as { error: string }).error).toMatch(/too many/);
    // The limited attempt stored nothing; another user is not affected.
    const { rows } = await platform.db.sql.query<{ n: number }>(
      "select count(*)::int as n from social_comments where author_id = $1",
      [busy.id],
    );
    expect(Number(rows[0]?.n)).toBe(statuses.filter((s) => s === 201).length);
    await comment(userToken().token, LIMITED, "someone else, still fine");
  });
});
