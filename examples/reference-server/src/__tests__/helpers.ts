// Set-up shared by the reference server's HTTP suites: a generated test clip and signing in.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { expect } from "vitest";
import { loadConfig } from "../config.js";
import { type Platform, startPlatform } from "../platform.js";
import { createReferenceServer, type ReferenceServer } from "../server.js";

export interface ClipOptions {
  width?: number;
  height?: number;
  /** Frames per second. @default 30 */
  rate?: number;
  seconds?: number;
}

/**
 * A test clip at `path`: ffmpeg's testsrc2 pattern with a 440 Hz tone, H.264/AAC in MP4
 * (360×640, 30 fps, 4 s unless told); resolves its bytes.
 */
export async function makeClip(path: string, options: ClipOptions = {}): Promise<Buffer> {
  const { width = 360, height = 640, rate = 30, seconds = 4 } = options;
  await promisify(execFile)(process.env.FFMPEG_PATH ?? "ffmpeg", [
    ...["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${rate}`],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", String(seconds)],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path],
  ]);
  return readFile(path);
}

/** Sign in as a demo user at `base` (expects 200); resolves the bearer token. */
export async function signInAt(base: string, user: string): Promise<string> {
  const res = await fetch(`${base}/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

export interface TestServer {
  platform: Platform;
  app: ReferenceServer;
  /** The server's URL, no trailing slash. */
  base: string;
  /** The server, then the platform. */
  close(): Promise<void>;
}

/** The embedded platform (PGlite and files in `dataDir`) behind the HTTP server on a free loopback port. */
export async function startTestServer(dataDir: string): Promise<TestServer> {
  const platform = await startPlatform(loadConfig({ DATA_DIR: dataDir, TRANSCODE_PRESET: "ultrafast" }), () => {});
  const app = createReferenceServer({ platform });
  const base = (await app.listen(0, "127.0.0.1")).url;
  return {
    platform,
    app,
    base,
    async close() {
      await app.close();
      await platform.close();
    },
  };
}
