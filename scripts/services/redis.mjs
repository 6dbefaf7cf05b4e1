// Single Redis server on 127.0.0.1:6390 (non-default port so it never collides with a system Redis),
// persistence off: it holds test and development data only.
import { join } from "node:path";
import { ensureApt, serviceDir, spawnDaemon, stopDaemon, withTimeout } from "./lib.mjs";

const port = 6390;
const dir = serviceDir("redis");
const logFile = join(dir, "redis.log");

export default {
  name: "redis",
  logFile,
  pidNames: ["redis"],
  startTimeoutMs: 30_000,
  env: () => ({ REDIS_URL: process.env.REDIS_URL ?? `redis://127.0.0.1:${port}` }),
  external: () => (process.env.REDIS_URL ? "REDIS_URL" : undefined),
  install() {
    ensureApt("redis", { "redis-server": "redis-server", "redis-cli": "redis-tools" });
  },
  async start() {
    // Foreground (no --daemonize) so the recorded pid is the server itself.
    spawnDaemon({
      name: "redis",
      command: "redis-server",
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      logFile,
    });
  },
  async check() {
    const { Redis } = await import("ioredis");
    const client = new Redis(this.env().REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2000,
    });
    client.on("error", () => {});
    try {
      await withTimeout(client.connect(), 5000, "connect");
      const key = `reelkit:health:${process.pid}`;
      await client.set(key, "ok", "EX", 10);
      return (await client.get(key)) === "ok";
    } finally {
      client.disconnect();
    }
  },
  stop: () => stopDaemon("redis"),
};
