// The command-line engines the packages drive directly: ffmpeg/ffprobe (transcode, moderation) and
// Chromium (player browser tests, via playwright-core). Installed from Debian; nothing to start.
import { ensureApt, which } from "./lib.mjs";

const commands = { ffmpeg: "ffmpeg", ffprobe: "ffmpeg", chromium: "chromium" };

export default {
  name: "tools",
  logFile: undefined,
  pidNames: [],
  startTimeoutMs: 5_000,
  env: () => ({
    FFMPEG_PATH: process.env.FFMPEG_PATH ?? which("ffmpeg") ?? "ffmpeg",
    FFPROBE_PATH: process.env.FFPROBE_PATH ?? which("ffprobe") ?? "ffprobe",
    CHROMIUM_PATH: process.env.CHROMIUM_PATH ?? which("chromium") ?? "/usr/bin/chromium",
  }),
  install() {
    ensureApt("tools", commands);
  },
  async start() {},
  async check() {
    return Object.keys(commands).every((command) => which(command) !== undefined);
  },
  async stop() {
    return false;
  },
};
