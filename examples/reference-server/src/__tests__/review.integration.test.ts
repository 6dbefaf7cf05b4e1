import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUploadClient } from "@reelkit/upload/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VideoStatus } from "../db.js";
import type { Platform } from "../platform.js";
import { registerSubjectHandler } from "../review.js";
import { bearer, makeClip, signInAt, startTestServer } from "./helpers.js";

let root: string;
let clip: Buffer;
let platform: Platform;
let base: string;
let close: () => Promise<void>;

async function boot() {
  ({ platform, base, close } = await startTestServer(join(root, "data")));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-review-"));
  clip = await makeClip(join(root, "clip.mp4"), { width: 240, height: 426, rate: 25, seconds: 2 });
  await boot();
}, 60_000);

afterAll(async () => {
  await close?.();
  await rm(root, { recursive: true, force: true });
});

const tokens = new Map<string, string>();
async function signIn(user: string): Promise<string> {
  const token = tokens.get(user) ?? (await signInAt(base, user));
  tokens.set(user, token);
  return token;
}

async function call(method: string, path: string, user?: string, body?: unknown) {
  const headers: Record<string, string> = user === undefined ? {} : bearer(await signIn(user));
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const type = res.headers.get("content-type") ?? "";
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are checked by their assertions
  const json: any = type.includes("json") ? await res.json() : await res.text();
  return { status: res.status, body: json, headers: res.headers };
}

const decide = (body: unknown, user = "moderator") => call("POST", "/moderation/decisions", user, body);

interface QueueItem {
  id: string;
  subject: { kind: string; id: string };
  reasons: string[];
  severityLevel: string;
  ageSeconds: number;
  video: { id: string; title: string; ownerId: string; status: string; poster: string } | null;
  appeal: { id: string; message: string; status: string } | null;
  summary: { title?: string } | null;
}
async function queue(): Promise<QueueItem[]> {
  const res = await call("GET", "/moderation/queue?limit=200", "moderator");
  expect(res.status).toBe(200);
  return res.body.items as QueueItem[];
}
const auditOf = async (subject: string) => {
  const res = await call("GET", `/moderation/audit?subject=${encodeURIComponent(subject)}&limit=200`, "moderator");
  expect(res.status).toBe(200);
  return res.body.entries as Array<Record<string, unknown>>;
};

const newId = () => randomBytes(12).toString("base64url");

/** A video straight in the database (no transcode), in the catalogue when published. */
async function makeVideo(status: VideoStatus, ownerId = "u-creator", title = "A video"): Promise<string> {
  const id = newId();
  await platform.db.createVideo({ id, ownerId, title, status: "uploaded" });
  await platform.db.setStatus(id, status, { durationMs: 2000 });
  if (status === "published")
    platform.catalog.upsert([{ videoId: id, creatorId: ownerId, createdAt: Date.now(), moderation: "approved" }]);
  if (status === "held" || status === "rejected")
    await platform.reviews.enqueue({
      subject: { kind: "video", id },
      reasons: ["text:hate"],
      severity: status === "rejected" ? "high" : "medium",
    });
  return id;
}

const anonymousFeed = async () =>
  ((await call("GET", "/feed?limit=50")).body.items as Array<{ id: string }>).map((i) => i.id);
const personalFeed = async (user: string) =>
  ((await call("GET", "/feed?limit=50", user)).body.items as Array<{ id: string }>).map((i) => i.id);

async function waitForStatus(id: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const video = await platform.db.getVideo(id);
    if (video && ["published", "limited", "held", "rejected", "failed"].includes(video.status)) return video.status;
    if (Date.now() > deadline) throw new Error(`still ${video?.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("moderation: queue, decisions, audit log, appeals", () => {
  it("takes an uploaded clip through review: held → approved (both feeds) → rejected (out of both, media 404)", async () => {
    const creator = await signIn("creator");
    const client = createUploadClient({ endpoint: `${base}/uploads/`, headers: bearer(creator), chunkSize: 64 * 1024 });
    const done = await client.upload(new Uint8Array(clip), {
      metadata: { title: "I want to die laughing at this", filename: "clip.mp4" },
      fingerprint: false,
    }).done;
    const id = done.url.split("/").pop() ?? "";
    expect(await waitForStatus(id)).toBe("held");

    const item = (await queue()).find((i) => i.subject.kind === "video" && i.subject.id === id);
    expect(item).toBeDefined();
    expect(item?.reasons.some((r) => r.includes("self_harm"))).toBe(true);
    expect(item?.video).toMatchObject({
      id,
      title: "I want to die laughing at this",
      ownerId: "u-creator",
      status: "held",
      poster: `/moderation/media/${id}/poster.jpg`,
    });
    expect(item?.ageSeconds).toBeGreaterThanOrEqual(0);
    // Held: not public, but moderators see the poster (private, never shared-cached).
    expect((await call("GET", `/media/${id}/poster.jpg`)).status).toBe(404);
    const poster = await fetch(`${base}/moderation/media/${id}/poster.jpg`, {
      headers: bearer(await signIn("moderator")),
    });
    expect(poster.status).toBe(200);
    expect(poster.headers.get("content-type")).toBe("image/jpeg");
    expect(poster.headers.get("cache-control")).toBe("private, no-store");
    expect((await poster.arrayBuffer()).byteLength).toBeGreaterThan(100);
    expect((await call("GET", `/moderation/media/${id}/poster.jpg`, "viewer")).status).toBe(403);
    expect((await call("GET", `/moderation/media/${id}/poster.jpg`)).status).toBe(401);

    const approved = await decide({ itemId: item?.id, action: "approve", reason: "reviewed:ok", note: "a joke" });
    expect(approved.status).toBe(201);
    expect(approved.body).toMatchObject({
      status: "published",
      replayed: false,
      subject: { kind: "video", id },
      entry: {
        action: "approve",
        reason: "reviewed:ok",
        note: "a joke",
        previousStatus: "held",
        status: "published",
        itemId: item?.id,
        actor: { id: "u-moderator", role: "moderator" },
      },
    });
    expect((await queue()).some((i) => i.id === item?.id)).toBe(false);
    expect((await platform.reviews.get(item?.id ?? ""))?.status).toBe("actioned");
    expect(await anonymousFeed()).toContain(id);
    expect(await personalFeed("viewer")).toContain(id);
    expect((await call("GET", `/media/${id}/master.m3u8`)).status).toBe(200);

    // A moderator blocks it from the feed, without a queue item.
    const rejected = await decide({ subject: { kind: "video", id }, action: "reject", reason: "policy:self_harm" });
    expect(rejected.status).toBe(201);
    expect(rejected.body.entry).toMatchObject({ previousStatus: "published", status: "rejected" });
    expect(platform.catalog.get(id)?.moderation).toBe("rejected");
    expect(await anonymousFeed()).not.toContain(id);
    expect(await personalFeed("u-creator-2")).not.toContain(id); // a viewer who has not seen it yet
    expect(await personalFeed("viewer")).not.toContain(id);
    expect((await call("GET", `/media/${id}/master.m3u8`)).status).toBe(404);
    expect((await call("GET", `/media/${id}/poster.jpg`)).status).toBe(404);
    expect((await call("GET", `/moderation/media/${id}/poster.jpg`, "moderator")).status).toBe(200);

    const entries = await auditOf(`video:${id}`);
    expect(entries.map((e) => [e.action, e.previousStatus, e.status])).toEqual([
      ["reject", "published", "rejected"],
      ["approve", "held", "published"],
    ]);

    // The rejected clip's frames are banked: the same clip under an innocent title is blocked
    // after transcoding, by its frames alone.
    expect(platform.frames.bannedVideos()).toBe(1);
    const again = await client.upload(new Uint8Array(clip), {
      metadata: { title: "my holiday", filename: "holiday.mp4" },
      fingerprint: false,
    }).done;
    const againId = again.url.split("/").pop() ?? "";
    expect(await waitForStatus(againId)).toBe("rejected");
    const row = await platform.db.getVideo(againId);
    expect(row?.error).toContain("media:video_match");
    expect(await anonymousFeed()).not.toContain(againId);
  }, 180_000);

  it("refuses callers without the role: 401 without or with a forged token, 403 for viewers and creators", async () => {
    const forged = `${(await signIn("moderator")).split(".")[0]}.forged`;
    for (const [method, path, body] of [
      ["GET", "/moderation/queue", undefined],
      ["GET", "/moderation/audit", undefined],
      ["POST", "/moderation/decisions", { subject: { kind: "video", id: newId() }, action: "approve", reason: "ok" }],
      ["GET", `/moderation/media/${newId()}/poster.jpg`, undefined],
    ] as const) {
      expect((await call(method, path, undefined, body)).status, `${method} ${path} anonymous`).toBe(401);
      const withForged = await fetch(`${base}${path}`, {
        method,
        headers: { ...bearer(forged), "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      expect(withForged.status, `${method} ${path} forged`).toBe(401);
      for (const user of ["viewer", "creator"])
        expect((await call(method, path, user, body)).status, `${method} ${path} ${user}`).toBe(403);
    }
    expect((await call("GET", "/moderation/queue", "admin")).status).toBe(200);
    expect((await call("GET", "/me/appeals")).status).toBe(401);
    expect((await call("GET", "/me/appeals", "viewer")).status).toBe(403);
    expect((await call("POST", `/videos/${newId()}/appeal`, "viewer", { message: "x" })).status).toBe(403);
  });

  it("answers 400 for malformed bodies and queries, 404 for unknown items and subjects", async () => {
    const video = await makeVideo("held");
    for (const body of [
      "{oops",
      {},
      { subject: { kind: "video", id: video }, reason: "ok" },
      { subject: { kind: "video", id: video }, action: "delete", reason: "ok" },
      { subject: { kind: "video", id: video }, action: "approve", reason: "has spaces" },
      { subject: { kind: "video", id: video }, action: "approve" },
      { action: "approve", reason: "ok" },
      { itemId: "x", subject: { kind: "video", id: video }, action: "approve", reason: "ok" },
      { subject: { kind: "Video!", id: video }, action: "approve", reason: "ok" },
      { subject: { kind: "video", id: video }, action: "approve", reason: "ok", extra: 1 },
      { subject: { kind: "video", id: video }, action: "approve", reason: "ok", requestId: "short" },
      { subject: { kind: "video", id: video }, action: "approve", reason: "ok", note: "" },
      { subject: { kind: "widget", id: "w1" }, action: "approve", reason: "ok" },
    ]) {
      const res = await decide(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(typeof res.body.error).toBe("string");
    }
    expect((await decide({ itemId: "no-such-item", action: "approve", reason: "ok" })).status).toBe(404);
    expect((await decide({ subject: { kind: "video", id: newId() }, action: "approve", reason: "ok" })).status).toBe(
      404,
    );
    expect((await decide({ subject: { kind: "appeal", id: "nope" }, action: "approve", reason: "ok" })).status).toBe(
      404,
    );
    expect((await call("GET", "/moderation/audit?cursor=abc", "moderator")).status).toBe(400);
    expect((await call("GET", "/moderation/audit?subject=nocolon", "moderator")).status).toBe(400);
    expect((await call("GET", "/moderation/queue?limit=0", "moderator")).status).toBe(400);
    expect((await call("GET", "/moderation/queue?sort=asc", "moderator")).status).toBe(400);
    expect((await call("POST", `/videos/${video}/appeal`, "creator", { message: "" })).status).toBe(400);
    expect((await call("POST", `/videos/${video}/appeal`, "creator", { text: "hi" })).status).toBe(400);
    expect((await call("POST", "/videos/not-an-id/appeal", "creator", { message: "hi" })).status).toBe(400);
    // Still processing: nothing to decide yet.
    const processing = await makeVideo("transcoding");
    const early = await decide({ subject: { kind: "video", id: processing }, action: "approve", reason: "ok" });
    expect(early.status).toBe(409);
    expect(await auditOf(`video:${processing}`)).toEqual([]);
  });

  it("is idempotent: retries do not log twice; a decision that changes nothing is 409; a new one applies", async () => {
    const id = await makeVideo("held");
    const item = (await queue()).find((i) => i.subject.id === id);
    expect(item?.video?.status).toBe("held");
    const body = { itemId: item?.id, action: "approve", reason: "reviewed:ok", requestId: "req-approve-0001" };
    const first = await decide(body);
    expect(first.status).toBe(201);
    const retry = await decide(body);
    expect(retry.status).toBe(200);
    expect(retry.body.replayed).toBe(true);
    expect(retry.body.entry.id).toBe(first.body.entry.id);
    // Without a requestId, the same decision again by the same moderator is recognised too.
    const again = await decide({ itemId: item?.id, action: "approve", reason: "reviewed:ok" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ replayed: true, entry: { id: first.body.entry.id } });
    expect(await auditOf(`video:${id}`)).toHaveLength(1);
    // The same requestId for another decision is refused.
    expect((await decide({ ...body, action: "reject" })).status).toBe(409);
    // Another moderator approving it again, or another reason: it is decided already.
    const dup = await decide({ itemId: item?.id, action: "approve", reason: "reviewed:ok" }, "admin");
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatch(/published already/);
    expect((await decide({ subject: { kind: "video", id }, action: "approve", reason: "other" })).status).toBe(409);
    expect(await auditOf(`video:${id}`)).toHaveLength(1);

    // A new decision that changes the state applies: limited stays reachable by link, out of feeds.
    const limited = await decide({ itemId: item?.id, action: "limit", reason: "reviewed:borderline" }, "admin");
    expect(limited.status).toBe(201);
    expect(limited.body.entry).toMatchObject({
      previousStatus: "published",
      status: "limited",
      actor: { id: "u-admin" },
    });
    expect((await platform.db.getVideo(id))?.status).toBe("limited");
    expect(platform.catalog.get(id)?.moderation).toBe("pending");
    expect(await anonymousFeed()).not.toContain(id);
    expect(await personalFeed("u-creator-2")).not.toContain(id);
    expect(await auditOf(`video:${id}`)).toHaveLength(2);

    // Concurrent identical requests: applied and logged once.
    const other = await makeVideo("held");
    const concurrent = {
      subject: { kind: "video", id: other },
      action: "reject",
      reason: "policy:hate",
      requestId: "req-race-0001",
    };
    const answers = await Promise.all([decide(concurrent), decide(concurrent), decide(concurrent)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(await auditOf(`video:${other}`)).toHaveLength(1);
  });

  it("acts on any video: removing a published one found in the feed", async () => {
    const id = await makeVideo("published", "u-creator-2", "Fine until it was not");
    expect(await anonymousFeed()).toContain(id);
    expect(await personalFeed("u-admin")).toContain(id);
    const removed = await decide({ subject: { kind: "video", id }, action: "remove", reason: "policy:spam" });
    expect(removed.status).toBe(201);
    expect(removed.body).toMatchObject({ status: "rejected", entry: { action: "remove", itemId: null } });
    expect(platform.catalog.get(id)?.moderation).toBe("removed");
    expect(await anonymousFeed()).not.toContain(id);
    expect(await personalFeed("moderator")).not.toContain(id);
    // A report that was queued meanwhile is closed by a later decision on the subject.
    const id2 = await makeVideo("published");
    const { item } = await platform.reviews.enqueue({
      subject: { kind: "video", id: id2 },
      reasons: ["report:spam"],
      severity: "low",
      by: "u-viewer",
    });
    const res = await decide({ subject: { kind: "video", id: id2 }, action: "approve", reason: "reviewed:ok" });
    expect(res.status).toBe(201); // state unchanged (published) but the report was open
    expect(res.body.entry.itemId).toBe(item.id);
    expect((await platform.reviews.get(item.id))?.status).toBe("actioned");
  });

  it("keeps the audit log append-only and pages through it newest first", async () => {
    await expect(platform.db.sql.query("update moderation_audit set reason = 'x'")).rejects.toThrow(/append-only/);
    await expect(platform.db.sql.query("delete from moderation_audit")).rejects.toThrow(/append-only/);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        "GET",
        `/moderation/audit?limit=2${cursor !== null ? `&cursor=${cursor}` : ""}`,
        "moderator",
      );
      expect(page.status).toBe(200);
      expect(page.body.entries.length).toBeLessThanOrEqual(2);
      for (const entry of page.body.entries as Array<{ id: string; at: number; actor: { id: string } }>) {
        seen.push(entry.id);
        expect(entry.actor.id).toMatch(/^u-/);
      }
      cursor = page.body.cursor;
    } while (cursor !== null);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("lets the owner appeal once; a moderator's decision on the appeal updates the video and the appeal", async () => {
    const rejected = await makeVideo("rejected", "u-creator", "Please look again");
    const published = await makeVideo("published", "u-creator");
    const path = `/videos/${rejected}/appeal`;
    // Other people: 404 for a video they cannot see, 403 for one they can; the owner only.
    expect((await call("POST", path, "u-creator-2", { message: "mine?" })).status).toBe(404);
    expect((await call("POST", `/videos/${published}/appeal`, "u-creator-2", { message: "x" })).status).toBe(403);
    expect((await call("POST", `/videos/${newId()}/appeal`, "creator", { message: "x" })).status).toBe(404);
    expect((await call("POST", `/videos/${published}/appeal`, "creator", { message: "x" })).status).toBe(409);

    const filed = await call("POST", path, "creator", { message: "It is satire, not hate." });
    expect(filed.status).toBe(201);
    expect(filed.body.appeal).toMatchObject({
      videoId: rejected,
      ownerId: "u-creator",
      status: "open",
      appealedStatus: "rejected",
      decision: null,
    });
    const second = await call("POST", path, "creator", { message: "Again" });
    expect(second.status).toBe(409);
    const mine = await call("GET", "/me/appeals", "creator");
    expect(mine.body.appeals[0]).toMatchObject({
      id: filed.body.appeal.id,
      status: "open",
      video: { title: "Please look again", status: "rejected" },
    });
    expect((await call("GET", "/me/appeals", "u-creator-2")).body.appeals).toEqual([]);

    const items = await queue();
    const appealItem = items.find((i) => i.subject.kind === "appeal" && i.subject.id === filed.body.appeal.id);
    expect(appealItem).toMatchObject({
      appeal: { message: "It is satire, not hate.", status: "open" },
      video: { id: rejected, status: "rejected" },
    });
    expect(appealItem?.id).toBe(filed.body.appeal.itemId);

    const granted = await decide({ itemId: appealItem?.id, action: "approve", reason: "appeal:satire" });
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({
      subject: { kind: "video", id: rejected },
      status: "published",
      appeal: { status: "granted", decision: { action: "approve", reason: "appeal:satire" } },
      entry: { appealId: filed.body.appeal.id, previousStatus: "rejected" },
    });
    // Both the appeal item and the original video item are closed.
    expect((await queue()).some((i) => i.subject.id === rejected || i.id === appealItem?.id)).toBe(false);
    expect(await anonymousFeed()).toContain(rejected);
    const after = await call("GET", "/me/appeals", "creator");
    expect(after.body.appeals[0]).toMatchObject({ status: "granted", video: { status: "published" } });
    expect((await decide({ itemId: appealItem?.id, action: "approve", reason: "appeal:satire" }, "admin")).status).toBe(
      409,
    );
    const trail = await auditOf(`appeal:${filed.body.appeal.id}`);
    expect(trail.map((e) => [e.action, e.actor])).toEqual([
      ["approve", { id: "u-moderator", role: "moderator" }],
      ["appeal", { id: "u-creator", role: "creator" }],
    ]);

    // A limited video's appeal denied: the decision keeps it limited.
    const limited = await makeVideo("limited", "u-creator-2");
    const appeal2 = await call("POST", `/videos/${limited}/appeal`, "u-creator-2", { message: "Why limited?" });
    expect(appeal2.status).toBe(201);
    const denied = await decide({
      subject: { kind: "video", id: limited },
      action: "limit",
      reason: "reviewed:borderline",
    });
    expect(denied.status).toBe(201);
    expect(denied.body.appeal).toMatchObject({ status: "denied" });
    expect((await call("GET", "/me/appeals", "u-creator-2")).body.appeals[0]).toMatchObject({ status: "denied" });
    // Closed: a new appeal may be filed.
    expect((await call("POST", `/videos/${limited}/appeal`, "u-creator-2", { message: "Please" })).status).toBe(201);
  });

  it("audits a decision even when the queue fails to close an item; a later decision closes it", async () => {
    const id = await makeVideo("published");
    const { item } = await platform.reviews.enqueue({
      subject: { kind: "video", id },
      reasons: ["report:spam"],
      severity: "low",
      by: "u-viewer",
    });
    const action = platform.reviews.action.bind(platform.reviews);
    platform.reviews.action = async () => {
      throw new Error("queue backend down");
    };
    let res: Awaited<ReturnType<typeof decide>>;
    try {
      res = await decide({ subject: { kind: "video", id }, action: "remove", reason: "policy:spam" });
    } finally {
      platform.reviews.action = action;
    }
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "rejected", unclosedItems: [item.id] });
    expect(await anonymousFeed()).not.toContain(id); // applied...
    expect((await auditOf(`video:${id}`)).map((e) => e.action)).toEqual(["remove"]); // ...and audited
    expect((await platform.reviews.get(item.id))?.status).not.toBe("actioned");
    // The subject is rejected already, but the item is open: deciding again closes it.
    const again = await decide({
      subject: { kind: "video", id },
      action: "remove",
      reason: "policy:spam",
      note: "closing",
    });
    expect(again.status).toBe(201);
    expect(again.body.unclosedItems).toBeUndefined();
    expect((await platform.reviews.get(item.id))?.status).toBe("actioned");
  });

  it("applies decisions on other kinds through registerSubjectHandler", async () => {
    const notes = new Map<string, string>([["n1", "pending"]]);
    const calls: unknown[] = [];
    const unregister = registerSubjectHandler("testnote", {
      status: async (_p, id) => notes.get(id),
      statusAfter: (action) => (action === "reject" || action === "remove" ? "removed" : "visible"),
      async apply(_p, id, d) {
        calls.push({ id, action: d.action, decision: d.decision, moderator: d.moderator.id });
        if (!notes.has(id)) return undefined;
        notes.set(id, d.decision === "block" ? "removed" : "visible");
        return notes.get(id);
      },
      describe: async (_p, id) => ({ title: `Note ${id}`, text: "some text", ownerId: "u-viewer" }),
    });
    try {
      expect(() => registerSubjectHandler("testnote", { status: async () => "x", apply: async () => "x" })).toThrow();
      expect(() => registerSubjectHandler("video", { status: async () => "x", apply: async () => "x" })).toThrow();
      const { item } = await platform.reviews.enqueue({
        subject: { kind: "testnote", id: "n1" },
        reasons: ["text:harassment"],
        severity: "medium",
      });
      const listed = (await call("GET", "/moderation/queue?kind=testnote", "moderator")).body.items as QueueItem[];
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ id: item.id, summary: { title: "Note n1" }, video: null });
      const res = await decide({ itemId: item.id, action: "reject", reason: "policy:harassment" });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: "removed", entry: { subject: { kind: "testnote", id: "n1" } } });
      expect(calls).toEqual([{ id: "n1", action: "reject", decision: "block", moderator: "u-moderator" }]);
      expect((await decide({ subject: { kind: "testnote", id: "n2" }, action: "approve", reason: "ok" })).status).toBe(
        404,
      );
    } finally {
      unregister();
    }
  });

  it("serves the dashboard page and documents the routes in /openapi.json", async () => {
    const page = await call("GET", "/moderate");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    for (const needle of ['id="queue"', 'id="audit"', "/moderation/decisions", "/moderation/queue", 'href="/moderate"'])
      expect(page.body).toContain(needle);
    expect(page.body).toContain('signIn("moderator")');
    const doc = (await call("GET", "/openapi.json")).body;
    expect(doc.paths["/moderation/decisions"].post["x-reelkit-role"]).toBe("moderator");
    expect(doc.paths["/moderation/decisions"].post.requestBody).toBeDefined();
    expect(doc.paths["/moderation/queue"].get.responses["200"].content["application/json"].schema).toBeDefined();
    expect(doc.paths["/videos/{id}/appeal"].post["x-reelkit-role"]).toBe("creator");
    expect(doc.paths["/moderation/audit"].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["subject", "cursor"]),
    );
    expect(doc.paths["/me/appeals"].get).toBeDefined();
  });

  it("puts what still waits back into the queue after a restart", async () => {
    const held = await makeVideo("held", "u-creator", "Held over a restart");
    const appealed = await makeVideo("rejected", "u-creator-2");
    const filed = await call("POST", `/videos/${appealed}/appeal`, "u-creator-2", { message: "Restart-proof?" });
    expect(filed.status).toBe(201);
    await close();
    tokens.clear();
    await boot();
    const items = await queue();
    expect(items.some((i) => i.subject.kind === "video" && i.subject.id === held)).toBe(true);
    const appealItem = items.find((i) => i.subject.kind === "appeal" && i.subject.id === filed.body.appeal.id);
    expect(appealItem?.video?.id).toBe(appealed);
    const res = await decide({ itemId: appealItem?.id, action: "limit", reason: "appeal:partial" });
    expect(res.status).toBe(201);
    expect(res.body.appeal).toMatchObject({ status: "granted" }); // rejected → limited: less restricted
    expect((await call("GET", "/me/appeals", "u-creator-2")).body.appeals[0]).toMatchObject({ status: "granted" });
  }, 60_000);
});
