// How every integration test and benchmark finds the real engines: the caller's own variables,
// else those `scripts/services.mjs up` published in .reelkit/services.env.
// A missing variable fails loudly; no integration test is ever skipped.
import { existsSync, readFileSync } from "node:fs";

export type ServiceVariable =
  | "REDIS_URL"
  | "REDIS_CLUSTER_NODES"
  | "KAFKA_BROKERS"
  | "CASSANDRA_CONTACT_POINTS"
  | "DATABASE_URL";

const starters: Record<ServiceVariable, string> = {
  REDIS_URL: "redis",
  REDIS_CLUSTER_NODES: "redis-cluster",
  KAFKA_BROKERS: "kafka",
  CASSANDRA_CONTACT_POINTS: "cassandra",
  DATABASE_URL: "postgres",
};

function published(name: string): string | undefined {
  const file = new URL("../.reelkit/services.env", import.meta.url);
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1);
}

export function serviceEnv(name: ServiceVariable): string {
  const value = process.env[name] ?? published(name);
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: start the engine with \`node scripts/services.mjs up ${starters[name]}\``);
  }
  return value;
}

/** REDIS_CLUSTER_NODES as ioredis Cluster start-up nodes. */
export function clusterNodes(): Array<{ host: string; port: number }> {
  return hostPorts("REDIS_CLUSTER_NODES");
}

/** A comma-separated `host:port` list from one of the variables. */
export function hostPorts(name: ServiceVariable): Array<{ host: string; port: number }> {
  return serviceEnv(name)
    .split(",")
    .map((entry) => {
      const [host = "", port = ""] = entry.trim().split(":");
      return { host, port: Number(port) };
    });
}

/** Shared test data (real media, PDQ vectors); never copied into the repository. Missing, it fails loudly. */
export function sharedDataDir(): string {
  const dir = process.env.REELKIT_SHARED_DATA ?? new URL("../../shared/data", import.meta.url).pathname;
  if (!existsSync(dir)) {
    throw new Error(
      `shared test data not found at ${dir}: put the shared folder beside the repository or set REELKIT_SHARED_DATA`,
    );
  }
  return dir;
}
