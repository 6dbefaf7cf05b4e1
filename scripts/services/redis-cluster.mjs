// A 3-master Redis Cluster (no replicas) on 127.0.0.1:7110-7112, for tests of hot-key spreading:
// keys without a shared {hash tag} land on different masters.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  ensureApt,
  portOpen,
  ServiceError,
  serviceDir,
  spawnDaemon,
  stopDaemon,
  waitFor,
  withTimeout,
} from "./lib.mjs";

const ports = [7110, 7111, 7112];
const dir = serviceDir("redis-cluster");
const logFile = join(dir, "cluster.log");
const nodeName = (port) => `redis-cluster-${port}`;

export default {
  name: "redis-cluster",
  logFile,
  pidNames: ports.map(nodeName),
  startTimeoutMs: 30_000,
  env: () => ({ REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES ?? ports.map((p) => `127.0.0.1:${p}`).join(",") }),
  external: () => (process.env.REDIS_CLUSTER_NODES ? "REDIS_CLUSTER_NODES" : undefined),
  install() {
    ensureApt("redis-cluster", { "redis-server": "redis-server", "redis-cli": "redis-tools" });
  },
  async start() {
    for (const port of ports) {
      const nodeDir = serviceDir(nodeName(port));
      // A fresh cluster each start: stale nodes.conf from a killed run would keep old slot maps.
      rmSync(join(nodeDir, "nodes.conf"), { force: true });
      spawnDaemon({
        name: nodeName(port),
        command: "redis-server",
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          "5000",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          nodeDir,
        ],
        logFile: join(nodeDir, "redis.log"),
      });
    }
    await waitFor("redis-cluster", async () => (await Promise.all(ports.map((p) => portOpen(p)))).every(Boolean), {
      timeoutMs: 15_000,
      logFile: join(serviceDir(nodeName(ports[0])), "redis.log"),
    });
    const result = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8" },
    );
    require_ok(result);
  },
  async check() {
    const { Cluster } = await import("ioredis");
    const nodes = this.env()
      .REDIS_CLUSTER_NODES.split(",")
      .map((hp) => {
        const [host, port] = hp.split(":");
        return { host, port: Number(port) };
      });
    const cluster = new Cluster(nodes, {
      lazyConnect: true,
      clusterRetryStrategy: () => null,
      redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 0 },
    });
    cluster.on("error", () => {});
    try {
      await withTimeout(cluster.connect(), 5000, "cluster connect");
      const info = await cluster.cluster("INFO");
      if (!String(info).includes("cluster_state:ok")) return false;
      const masters = cluster.nodes("master").length;
      if (masters < 3) return false;
      // Three keys on three different slots: a write and read through the cluster's redirections.
      for (const k of ["a", "b", "c"]) {
        await cluster.set(`reelkit:health:${k}`, k, "EX", 10);
        if ((await cluster.get(`reelkit:health:${k}`)) !== k) return false;
      }
      return true;
    } finally {
      cluster.disconnect();
    }
  },
  async stop() {
    let any = false;
    for (const port of ports) any = (await stopDaemon(nodeName(port))) || any;
    return any;
  },
};

function require_ok(result) {
  if (result.status !== 0) {
    throw new ServiceError("redis-cluster", `redis-cli --cluster create failed:\n${result.stdout}\n${result.stderr}`);
  }
}
