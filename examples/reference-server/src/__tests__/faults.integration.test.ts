// Fault tests: the real server (src/main.ts) as a child process, killed with SIGKILL at the worst
// moments — in the middle of an upload, in the middle of a transcode, right after telemetry was
// acknowledged — and started again on the same DATA_DIR. Nothing acknowledged may be lost, nothing
// may be applied twice, and no half-written media may be served.
//
// The server runs as `node --import tsx …/main.ts`, not through the tsx CLI: the CLI runs the script
// in a child node process, so a SIGKILL to its pid would leave the server running. Each server is
// its own process group (detached), so afterAll can also reach the ffmpeg processes a killed server
// left behind. The second server listens on the first one's port, so the upload client's endpoint
// (and the fingerprint store's key, which includes it) stays the same.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createUploadClient, type UploadClientOptions } from "@reelkit/upload/client";
import { createFileFingerprintStore } from "@reelkit/upload/client/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, sourceArgs } from "../../../../test/run.js";
import { configSchema } from "../config.js";
import { bearer, makeClip, signInAt } from "./helpers.js";

const mainPath = fileURLToPath(new URL("../main.ts", import.meta.url));
const TOKEN_SECRET = "fault-tests-token-secret-0123456789abcdef"; // fixed: tokens survive restarts
const FINAL = ["published", "limited", "held", "rejected", "failed"];
// Generous bounds: the machines running this are often shared and loaded (start-up compiles TypeScript).
const STARTUP_MS = 90_000;
const PIPELINE_MS = 180_000;

interface Server {
  child: ChildProcess;
  url: string;
  port: number;
  /** Every stdout line so far (JSON logs). */
  lines: string[];
  /** Resolves with the signal or exit code once the process is gone. */
  exited: Promise<string>;
}

interface VideoJson {
  id: string;
  title: string;
  status: string;
  counts?: Record<string, number>;
}

let root: string;
let dataDir: string;
let clip: Buffer;
let server: Server;
const children: ChildProcess[] = [];
/** Every server's JSON log lines, in order, across restarts. */
const logs: Array<{ message?: string; videoId?: string }> = [];
/** How many times any server logged `message` for `videoId`. */
const logged = (message: string, videoId: string) =>
  logs.filter((entry) => entry.message === message && entry.videoId === videoId).length;

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `probe` until it answers something other than undefined; bounded by `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${lastSeen}\nthe server's last log lines:\n` +
          server.lines.slice(-15).join("\n"),
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
/** What the last poll saw, for the timeout message. */
let lastSeen = "";

/**
 * This process's environment without any of the server's own variables: the integration project
 * exports the scaled-mode engines (REDIS_URL, …) to tests, and these tests are about embedded mode.
 */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(configSchema.shape)) delete env[name];
  return env;
}

/** Start src/main.ts on DATA_DIR; resolves once it logged `listening` (its url parsed from that line). */
async function startServer(port = 0): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", ...sourceArgs(mainPath)], {
    cwd: repoRoot,
    env: {
      ...baseEnv(),
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      TOKEN_SECRET,
      TRANSCODE_PRESET: "ultrafast",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? String(code))),
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  });
  const lines: string[] = [];
  const url = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        lines.push(line);
        try {
          const entry = JSON.parse(line) as { message?: string; url?: string; videoId?: string };
          logs.push(entry);
          if (entry.message === "listening" && typeof entry.url === "string") resolve(entry.url);
        } catch {} // the human-readable banner
      });
      void exited.then((how) => reject(new Error(`the server exited (${how}) before listening:\n${stderr}`)));
    }),
    STARTUP_MS,
    "the server to log `listening`",
  ).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\nstdout:\n${lines.join("\n")}\nstderr:\n${stderr}`);
  });
  return { child, url, port: Number(new URL(url).port), lines, exited };
}

/** SIGKILL the server process (no cleanup of any kind runs) and wait until it is gone. */
async function crash(target: Server) {
  target.child.kill("SIGKILL");
  expect(await within(target.exited, 10_000, "the server to die")).toBe("SIGKILL");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const idOf = (url: string) => new URL(url).pathname.split("/").pop() ?? "";

const signIn = (user: string) => signInAt(server.url, user);

async function myVideos(token: string): Promise<VideoJson[]> {
  const res = await fetch(`${server.url}/me/videos`, { headers: bearer(token) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { videos: VideoJson[] }).videos;
}

async function videoOf(id: string, token?: string): Promise<VideoJson> {
  const res = await fetch(`${server.url}/videos/${id}`, token === undefined ? {} : { headers: bearer(token) });
  expect(res.status).toBe(200);
  return (await res.json()) as VideoJson;
}

/** Waits for the video to leave the pipeline; fails fast on a final status other than published. */
async function published(id: string, token: string, timeoutMs = PIPELINE_MS): Promise<VideoJson> {
  return until(
    `${id} to be published`,
    async () => {
      const video = await videoOf(id, token);
      lastSeen = JSON.stringify(video);
      if (video.status === "published") return video;
      if (FINAL.includes(video.status)) throw new Error(`${id} ended ${video.status}: ${JSON.stringify(video)}`);
      return undefined;
    },
    timeoutMs,
    200,
  );
}

/** master.m3u8, every variant playlist, and each variant's init and first segment answer 200. */
async function expectPlayable(id: string) {
  const master = await fetch(`${server.url}/media/${id}/master.m3u8`);
  expect(master.status).toBe(200);
  const text = await master.text();
  const variants = [
    ...text.split("\n").filter((line) => line.endsWith(".m3u8")),
    ...[...text.matchAll(/URI="([^"]+\.m3u8)"/g)].map((m) => m[1] ?? ""),
  ];
  expect(variants.length).toBeGreaterThan(1);
  for (const variant of variants) {
    const playlist = await fetch(`${server.url}/media/${id}/${variant}`);
    expect(playlist.status, variant).toBe(200);
    const lines = (await playlist.text()).split("\n");
    const dir = variant.includes("/") ? variant.slice(0, variant.lastIndexOf("/") + 1) : "";
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(lines.join("\n"))?.[1];
    const segment = lines.find((line) => line !== "" && !line.startsWith("#"));
    for (const file of [init, segment]) {
      if (file === undefined) continue;
      const res = await fetch(`${server.url}/media/${id}/${dir}${file}`);
      expect(res.status, `${dir}${file}`).toBe(200);
      await res.arrayBuffer();
    }
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-faults-"));
  dataDir = join(root, "data");
  // 8 s of 720x1280: ~7 MB (≈30 PATCHes of 256 KiB) and a transcode of a few seconds (a 4-rung ladder).
  clip = await makeClip(join(root, "clip.mp4"), { width: 720, height: 1280, seconds: 8 });
  server = await startServer(0);
}, 180_000);

afterAll(async () => {
  for (const child of children) {
    try {
      // The whole group: the server and any ffmpeg it left running when it was killed.
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {} // already gone
  }
  await Promise.all(
    children.map((child) =>
      child.exitCode === null && child.signalCode === null
        ? within(new Promise((r) => child.once("exit", r)), 5000, "exit").catch(() => {})
        : undefined,
    ),
  );
  await rm(root, { recursive: true, force: true });
});

let publishedId = "";

describe("reference server under SIGKILL (embedded mode, a real child process)", () => {
  it("resumes an upload cut by SIGKILL on the same upload URL and publishes it exactly once", async () => {
    const creator = await signIn("creator");
    const fingerprints = createFileFingerprintStore(join(root, "fingerprints.json"));
    const clientOptions = (): UploadClientOptions => ({
      endpoint: `${server.url}/uploads/`,
      headers: bearer(creator),
      chunkSize: 256 * 1024,
      fingerprintStore: fingerprints,
      retry: { retries: 0 }, // the first client gives up when the server dies; a new one resumes
    });
    const title = "Resumed after a crash";
    const upload = { metadata: { title, filename: "clip.mp4" }, fingerprint: "faults:clip" };

    const first = createUploadClient(clientOptions()).upload(new Uint8Array(clip), upload);
    let killedAt = -1;
    first.on("progress", ({ bytesUploaded, bytesTotal }) => {
      if (killedAt < 0 && bytesUploaded >= bytesTotal * 0.3) {
        killedAt = bytesUploaded;
        server.child.kill("SIGKILL");
      }
    });
    const failure = await within(
      first.done.then(
        () => undefined,
        (error: unknown) => error,
      ),
      120_000,
      "the first upload to end",
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(Error); // the cut reached the client
    expect(await within(server.exited, 10_000, "the server to die")).toBe("SIGKILL");

    // The client's fingerprint store remembers the upload URL.
    const stored = await fingerprints.get(`${server.url}/uploads/ faults:clip`);
    const uploadUrl = stored?.parts[0]?.url ?? "";
    expect(uploadUrl).toMatch(/\/uploads\/[^/]+$/);

    server = await startServer(server.port);
    // The server kept what it acknowledged, and no more than the file.
    const head = await fetch(uploadUrl, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0", ...bearer(creator) } });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get("upload-offset"));
    expect(offset).toBeGreaterThanOrEqual(killedAt);
    expect(offset).toBeLessThan(clip.length);

    const done = await within(
      createUploadClient(clientOptions()).upload(new Uint8Array(clip), upload).done,
      120_000,
      "the resumed upload",
    );
    expect(done.url).toBe(uploadUrl);
    expect(done.resumedBytes).toBe(offset);
    expect(await fingerprints.get(`${server.url}/uploads/ faults:clip`)).toBeUndefined();

    const id = idOf(done.url);
    await published(id, creator);
    const mine = await myVideos(creator);
    expect(mine.filter((v) => v.id === id)).toHaveLength(1);
    expect(mine.filter((v) => v.title === title)).toHaveLength(1);
    await expectPlayable(id);
    // One completion, one transcode, one moderation decision, across both servers.
    expect(logged("upload completed", id) + logged("recovered completed upload", id)).toBe(1);
    expect(logged("video moderated", id)).toBe(1);
    // The stored upload is byte for byte the source.
    expect(sha256(await readFile(join(dataDir, "uploads", id)))).toBe(sha256(clip));
    publishedId = id;
  }, 420_000);

  it("runs a transcode cut by SIGKILL again after the restart, publishes once, and serves no media before", async () => {
    const creator = await signIn("creator");
    const title = "Transcoded after a restart";
    const done = await within(
      createUploadClient({ endpoint: `${server.url}/uploads/`, headers: bearer(creator) }).upload(
        new Uint8Array(clip),
        { metadata: { title, filename: "clip.mp4" }, fingerprint: false },
      ).done,
      120_000,
      "the upload",
    );
    const id = idOf(done.url);
    const mediaDir = join(dataDir, "media");
    // Kill while ffmpeg is at work: the status is `transcoding` and the job's work folder exists.
    await until(
      "ffmpeg to be transcoding",
      async () => {
        const video = (await myVideos(creator)).find((v) => v.id === id);
        lastSeen = JSON.stringify(video);
        if (video !== undefined && FINAL.includes(video.status))
          throw new Error(`the transcode ended (${video.status}) before it could be killed`);
        if (video?.status !== "transcoding") return undefined;
        const names = await readdir(mediaDir).catch(() => [] as string[]);
        return names.some((name) => name.startsWith(`.${id}.part-`)) ? true : undefined;
      },
      PIPELINE_MS,
      25,
    );
    expect((await fetch(`${server.url}/media/${id}/master.m3u8`)).status).toBe(404);
    await crash(server);

    server = await startServer(server.port);
    // Until the video is published, its media answers 404 (media first, then the status: a 200
    // means it was published already, and publishing is for good).
    let polls = 0;
    await until(
      `${id} to be published again`,
      async () => {
        const media = await fetch(`${server.url}/media/${id}/master.m3u8`);
        await media.arrayBuffer();
        const video = await videoOf(id, creator);
        lastSeen = JSON.stringify(video);
        polls += 1;
        if (video.status === "published") return video;
        expect(FINAL).not.toContain(video.status);
        expect(media.status, `media of a ${video.status} video`).toBe(404);
        return undefined;
      },
      PIPELINE_MS,
      50,
    );
    expect(polls).toBeGreaterThan(1);
    const mine = await myVideos(creator);
    expect(mine.filter((v) => v.id === id)).toHaveLength(1);
    expect(mine.filter((v) => v.title === title)).toHaveLength(1);
    expect(mine.filter((v) => v.status === "published")).toHaveLength(2);
    await expectPlayable(id);
    expect(logged("upload completed", id)).toBe(1);
    expect(logged("resuming transcode", id)).toBe(1);
    expect(logged("video moderated", id)).toBe(1);
    // The killed job's work folder was removed when the job ran again (the job's lease is the new
    // worker's); anything hidden in media/ is never served anyway.
    const left = await readdir(mediaDir);
    expect(left.filter((name) => name.startsWith(`.${id}.part-`))).toEqual([]);
    for (const name of left)
      if (name.startsWith(".")) expect((await fetch(`${server.url}/media/${name}/master.m3u8`)).status).toBe(404);
    publishedId ||= id;
  }, 420_000);

  it("keeps acknowledged telemetry across SIGKILL and applies a re-sent batch once", async () => {
    expect(publishedId).not.toBe("");
    const videoId = publishedId;
    const viewer = await signIn("viewer");
    const before = (await videoOf(videoId)).counts ?? {};
    const ts = Date.now();
    const sessions = 5;
    // Fixed ids: the same batch sent again must change nothing.
    const batch: Array<Record<string, unknown>> = Array.from({ length: sessions }, (_, i) => {
      const sessionId = `faults-session-${i}`;
      const base = { videoId, sessionId, ts };
      return [
        { ...base, id: `faults-${i}-impression`, type: "impression" },
        { ...base, id: `faults-${i}-view`, type: "view" },
        { ...base, id: `faults-${i}-watch`, type: "watch", watchMs: 2000, positionMs: 2000, durationMs: 8000 },
        { ...base, id: `faults-${i}-complete`, type: "complete", watchMs: 1000, positionMs: 8000, durationMs: 8000 },
      ];
    }).flat();
    batch.push({ videoId, sessionId: "faults-session-0", ts, id: "faults-like", type: "like", userId: "u-viewer" });
    const post = () =>
      fetch(`${server.url}/events`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(viewer) },
        body: JSON.stringify(batch),
      });

    const res = await post();
    server.child.kill("SIGKILL"); // as soon as the 202 is in: the events were acknowledged
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: batch.length, duplicates: 0, rejected: [] });
    expect(await within(server.exited, 10_000, "the server to die")).toBe("SIGKILL");

    server = await startServer(server.port);
    const expected = {
      impressions: (before.impressions ?? 0) + sessions,
      views: (before.views ?? 0) + sessions,
      completions: (before.completions ?? 0) + sessions,
      watchMs: (before.watchMs ?? 0) + sessions * 3000,
      likes: (before.likes ?? 0) + 1,
    };
    expect((await videoOf(videoId)).counts).toMatchObject(expected);

    // The client retries the batch (it never knew the 202 arrived): counted once.
    const again = await post();
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ accepted: batch.length, duplicates: batch.length, rejected: [] });
    expect((await videoOf(videoId)).counts).toMatchObject(expected);

    // And once more across a second crash, with a fresh event mixed in.
    const fresh = { videoId, sessionId: randomUUID(), ts: Date.now(), id: randomUUID(), type: "impression" };
    const mixed = await fetch(`${server.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([...batch.filter((e) => e.type !== "like"), fresh]),
    });
    expect(mixed.status).toBe(202);
    await crash(server);
    server = await startServer(server.port);
    expect((await videoOf(videoId)).counts).toMatchObject({ ...expected, impressions: expected.impressions + 1 });
  }, 360_000);
});
