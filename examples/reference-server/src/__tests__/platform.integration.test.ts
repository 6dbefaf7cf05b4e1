import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUploadClient } from "@reelkit/upload/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../db.js";
import type { Platform } from "../platform.js";
import { bearer, makeClip, signInAt, startTestServer } from "./helpers.js";

let root: string;
let clip: Buffer;
let platform: Platform;
let close: () => Promise<void>;
let base: string;

async function boot() {
  ({ platform, base, close } = await startTestServer(join(root, "data")));
  return platform;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-reference-"));
  clip = await makeClip(join(root, "clip.mp4"), { seconds: 3 });
  await boot();
}, 60_000);

afterAll(async () => {
  await close?.();
  await rm(root, { recursive: true, force: true });
});

const signIn = (user: string) => signInAt(base, user);

async function waitForStatus(id: string, token: string, timeoutMs = 60_000): Promise<{ status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/videos/${id}`, { headers: bearer(token) });
    const video = (await res.json()) as { status: string };
    if (["published", "limited", "held", "rejected", "failed"].includes(video.status)) return video;
    if (Date.now() > deadline) throw new Error(`still ${video.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Upload the test clip as the signed-in creator; resolves the video id. */
async function uploadClip(token: string, title: string): Promise<string> {
  const client = createUploadClient({ endpoint: `${base}/uploads/`, headers: bearer(token) });
  const done = await client.upload(new Uint8Array(clip), {
    metadata: { title, filename: "clip.mp4" },
    fingerprint: false,
  }).done;
  return done.url.split("/").pop() ?? "";
}

let videoId = "";

describe("reference server, embedded mode", () => {
  it("publishes an uploaded clip and serves it in the feed and under /media", async () => {
    const creator = await signIn("creator");
    const client = createUploadClient({ endpoint: `${base}/uploads/`, headers: bearer(creator), chunkSize: 64 * 1024 });
    const done = await client.upload(new Uint8Array(clip), {
      metadata: { title: "A test clip", filename: "clip.mp4", owner: "u-someone-else" },
      fingerprint: false,
    }).done;
    videoId = done.url.split("/").pop() ?? "";
    const video = await waitForStatus(videoId, creator);
    expect(video).toMatchObject({ status: "published", title: "A test clip", ownerId: "u-creator" });

    const feed = (await (await fetch(`${base}/feed`)).json()) as {
      items: Array<{ id: string; src: string; poster: string }>;
    };
    expect(feed.items[0]).toMatchObject({ id: videoId, src: `/media/${videoId}/master.m3u8` });
    const master = await fetch(`${base}${feed.items[0]?.src}`);
    expect(master.status).toBe(200);
    expect(master.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    const text = await master.text();
    const variant = text.split("\n").find((line) => line.endsWith("index.m3u8")) ?? "";
    const media = await (await fetch(`${base}/media/${videoId}/${variant}`)).text();
    const segment = media.split("\n").find((line) => line.endsWith(".m4s")) ?? "";
    const segmentUrl = `${base}/media/${videoId}/${variant.replace("index.m3u8", segment)}`;
    const whole = await fetch(segmentUrl);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("cache-control")).toContain("immutable");
    const etag = whole.headers.get("etag") ?? "";
    expect((await fetch(segmentUrl, { headers: { "if-none-match": etag } })).status).toBe(304);
    const part = await fetch(segmentUrl, { headers: { range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    // The feed page renders the first page inline.
    expect(await (await fetch(`${base}/`)).text()).toContain(videoId);
  }, 120_000);

  it("records telemetry and shows it in the video's counts", async () => {
    const viewer = await signIn("viewer");
    const sessionId = randomUUID();
    const now = Date.now();
    const event = (type: string, extra: Record<string, unknown> = {}) => ({
      id: randomUUID(),
      type,
      videoId,
      sessionId,
      ts: now,
      ...extra,
    });
    const batch = [
      event("impression"),
      event("view"),
      event("complete", { watchMs: 3000, positionMs: 3000, durationMs: 3000 }),
      event("like", { userId: "u-viewer" }),
    ];
    const res = await fetch(`${base}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(viewer) },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 4, duplicates: 0 });
    // A retry of the same batch changes nothing.
    const again = await fetch(`${base}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(viewer) },
      body: JSON.stringify(batch),
    });
    expect(await again.json()).toMatchObject({ duplicates: 4, rejected: [] }); // accepted, applied once
    const video = (await (await fetch(`${base}/videos/${videoId}`)).json()) as { counts: Record<string, number> };
    expect(video.counts).toMatchObject({ views: 1, likes: 1, completions: 1, impressions: 1, watchMs: 3000 });

    // Signed-in viewers get @reelkit/feed-ranker's pages: the viewer has seen the clip, another has not.
    const personal = async (token: string) =>
      (await (await fetch(`${base}/feed`, { headers: bearer(token) })).json()) as {
        items: Array<{ id: string }>;
        cursor: string | null;
      };
    const seen = await personal(viewer);
    expect(seen.items.map((i) => i.id)).not.toContain(videoId);
    const fresh = await personal(await signIn("u-creator-2"));
    expect(fresh.items.map((i) => i.id)).toContain(videoId);
    expect(fresh.cursor).toMatch(/^r\./);
    const next = await fetch(`${base}/feed?cursor=${encodeURIComponent(fresh.cursor ?? "")}`, {
      headers: bearer(await signIn("u-creator-2")),
    });
    expect(next.status).toBe(200);
    const forged = await fetch(`${base}/feed?cursor=r.forged`, { headers: bearer(viewer) });
    expect(forged.status).toBe(400);
  });

  it("moderates titles before publishing: profanity limits reach (published, kept out of the feed)", async () => {
    const creator = await signIn("creator");
    const id = await uploadClip(creator, "what a load of bullsh1t");
    const video = (await waitForStatus(id, creator)) as { status: string; error: string | null };
    expect(video.status).toBe("limited");
    expect(video.error).toContain("profanity");
    const feed = (await (await fetch(`${base}/feed?limit=50`)).json()) as { items: Array<{ id: string }> };
    expect(feed.items.map((i) => i.id)).not.toContain(id);
    expect((await fetch(`${base}/media/${id}/master.m3u8`)).status).toBe(200);
  }, 120_000);

  it("refuses what it must: missing or forged tokens, wrong roles, other users' uploads, bad bodies", async () => {
    const viewer = await signIn("viewer");
    const creator = await signIn("creator");
    const other = await signIn("u-creator-2");
    // The tus endpoint needs a creator; its OPTIONS discovery is open.
    expect((await fetch(`${base}/uploads/`, { method: "OPTIONS" })).status).toBe(204);
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/uploads/`, {
        method: "POST",
        headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "100", ...headers },
      });
    expect((await post({})).status).toBe(401);
    expect((await post(bearer(`${creator.split(".")[0]}.forged`))).status).toBe(401);
    expect((await post(bearer(viewer))).status).toBe(403);
    const created = await post(bearer(creator));
    expect(created.status).toBe(201);
    const location = created.headers.get("location") ?? "";
    // Another creator can neither read nor resume it.
    expect(
      (await fetch(`${base}${location}`, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0", ...bearer(other) } }))
        .status,
    ).toBe(404);
    expect(
      (await fetch(`${base}${location}`, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0", ...bearer(creator) } }))
        .status,
    ).toBe(200);
    // Telemetry: malformed bodies and spoofed users are 400 with a reason.
    const events = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/events`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const notJson = await events("{oops");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/JSON/);
    expect((await events("[]")).status).toBe(400);
    expect((await events(JSON.stringify([{ type: "view" }]))).status).toBe(400);
    const spoof = [{ id: randomUUID(), type: "like", videoId, sessionId: "s", ts: Date.now(), userId: "u-viewer" }];
    expect((await events(JSON.stringify(spoof))).status).toBe(400);
    // A tampered feed cursor, unknown videos, traversal attempts under /media.
    expect((await fetch(`${base}/feed?cursor=10.forged`)).status).toBe(400);
    expect((await fetch(`${base}/feed?limit=9999`)).status).toBe(400);
    expect((await fetch(`${base}/videos/${"x".repeat(22)}`)).status).toBe(404);
    for (const path of [
      `${videoId}/../../db/PG_VERSION`,
      `${videoId}/%2e%2e/token-secret`,
      "../token-secret",
      `${videoId}/master.m3u8.bak`,
    ])
      expect((await fetch(`${base}/media/${path}`)).status).toBe(404);
    // Someone else's unpublished video is invisible.
    expect((await fetch(`${base}/videos/${location.split("/").pop()}`, { headers: bearer(other) })).status).toBe(404);
  });

  it("keeps videos, counts and the feed across a restart", async () => {
    await close();
    await boot();
    const feed = (await (await fetch(`${base}/feed`)).json()) as { items: Array<{ id: string }> };
    expect(feed.items.map((i) => i.id)).toContain(videoId);
    const video = (await (await fetch(`${base}/videos/${videoId}`)).json()) as { counts: Record<string, number> };
    expect(video.counts).toMatchObject({ views: 1, likes: 1 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("reelkit_http_requests_total");
  }, 60_000);

  it("lets a running pipeline handler finish before close() closes the database", async () => {
    // Publishing is held up for a moment (the last status write waits 500 ms) and close() is
    // called meanwhile: the video must be published when close() returns, not left in moderation.
    const setStatus = platform.db.setStatus.bind(platform.db);
    let publishing: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      publishing = resolve;
    });
    platform.db.setStatus = async (id, status, ...rest) => {
      if (status === "published") {
        publishing();
        await new Promise((r) => setTimeout(r, 500));
      }
      return setStatus(id, status, ...rest);
    };
    const id = await uploadClip(await signIn("creator"), "Closing time");
    await reached;
    await close();
    const db = await openDatabase(join(root, "data", "db"));
    try {
      expect((await db.getVideo(id))?.status).toBe("published");
    } finally {
      await db.close();
    }
    await boot(); // for afterAll
  }, 120_000);
});
