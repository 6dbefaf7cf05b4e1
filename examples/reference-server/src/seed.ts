// `npm run seed`: demo videos for a first start, uploaded the way a creator would (our resumable
// client over the tus endpoint) so they go through transcode and moderation like any upload.
// Clips come from ../shared/data/media when it is there, else ffmpeg makes a few test clips.
// Idempotent: a title the demo creators already have is skipped.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { createUploadClient } from "@reelkit/upload/client";
import { fileSource } from "@reelkit/upload/client/node";
import { demoUsers } from "./auth.js";
import { ConfigError, loadConfig } from "./config.js";
import { startPlatform } from "./platform.js";
import { createReferenceServer } from "./server.js";

interface Clip {
  title: string;
  owner: string;
  path: string;
}

const SHARED = [
  ["portrait-1080x1920.mp4", "Big Buck Bunny, upright"],
  ["rotated-90-h264.mp4", "Rotated phone clip"],
  ["square-vp9-no-audio.webm", "A square VP9 clip"],
  ["anamorphic-sar2-no-audio.mp4", "Anamorphic pixels"],
  ["vfr-no-audio.mp4", "Variable frame rate"],
] as const;

const GENERATED = [
  ["testsrc2=size=720x1280:rate=30", 440, "Test pattern"],
  ["smptebars=size=720x1280:rate=30", 550, "Colour bars"],
  ["mandelbrot=size=720x1280:rate=30", 660, "Mandelbrot zoom"],
  ["life=size=720x1280:rate=30:mold=10:ratio=0.5", 330, "Game of life"],
] as const;

async function clips(work: string): Promise<Clip[]> {
  const creators = demoUsers.filter((u) => u.role === "creator").map((u) => u.id);
  const owner = (i: number) => creators[i % creators.length] ?? "u-creator";
  const shared = resolve(
    process.env.REELKIT_SHARED_DATA ?? join(process.cwd(), "..", "..", "..", "shared", "data"),
    "media",
  );
  if (existsSync(shared)) {
    const found = SHARED.filter(([file]) => existsSync(join(shared, file)));
    if (found.length > 0)
      return found.map(([file, title], i) => ({ title, owner: owner(i), path: join(shared, file) }));
  }
  const ffmpeg = process.env.FFMPEG_PATH ?? "ffmpeg";
  const made: Clip[] = [];
  for (const [i, [source, tone, title]] of GENERATED.entries()) {
    const path = join(work, `clip-${i}.mp4`);
    await promisify(execFile)(ffmpeg, [
      ...["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", source],
      ...["-f", "lavfi", "-i", `sine=frequency=${tone}:sample_rate=48000`, "-t", "8"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path],
    ]);
    made.push({ title, owner: owner(i), path });
  }
  return made;
}

/** How long one clip may take from upload to a final status. */
const SETTLE_TIMEOUT_MS = 5 * 60_000;

try {
  const config = loadConfig();
  await mkdir(config.DATA_DIR, { recursive: true });
  const platform = await startPlatform(config, () => {});
  const app = createReferenceServer({ platform });
  const { url } = await app.listen(0, "127.0.0.1");
  const work = await mkdtemp(join(tmpdir(), "reelkit-seed-"));
  let failed = 0;
  try {
    for (const clip of await clips(work)) {
      const owner = demoUsers.find((u) => u.id === clip.owner);
      if (owner === undefined) continue;
      if ((await platform.db.byOwner(owner.id)).some((v) => v.title === clip.title)) {
        console.log(`skip  ${clip.title} (already there)`);
        continue;
      }
      const token = platform.tokens.issue(owner);
      const client = createUploadClient({ endpoint: `${url}/uploads/`, headers: { Authorization: `Bearer ${token}` } });
      const done = await client.upload(await fileSource(clip.path), {
        metadata: { title: clip.title, filename: clip.path.split("/").pop() ?? "clip" },
        fingerprint: false,
      }).done;
      const id = done.url.split("/").pop() ?? "";
      // In scaled mode the transcoder processes do the work: bounded, with a hint when none runs.
      const video = await Promise.race([
        platform.settled(id),
        new Promise<never>((_, reject) =>
          setTimeout(
            () =>
              reject(
                new Error(
                  `${clip.title} was not processed within ${SETTLE_TIMEOUT_MS / 1000} s` +
                    (platform.mode === "scaled"
                      ? ": in scaled mode, run `npm run seed` while `npm run start:scaled` is up (its transcoders do the work)"
                      : ""),
                ),
              ),
            SETTLE_TIMEOUT_MS,
          ).unref(),
        ),
      ]);
      if (video.status === "failed") failed += 1;
      console.log(`${video.status.padEnd(9)} ${clip.title} (${id}, by ${owner.name})`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    await app.close();
    await platform.close();
  }
  console.log(`seeded into ${config.DATA_DIR}; start the server with \`npm start\``);
  process.exit(failed > 0 ? 1 : 0);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
