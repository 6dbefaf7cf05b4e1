// Scaled mode as processes of their own, for the integration tests and the load benchmark: the API,
// a transcoder and the engagement aggregator (src/main.ts with REELKIT_ROLE), as
// `npm run start:scaled` runs them, against the real engines with a Redis prefix, Kafka topic
// prefix, Cassandra keyspace and PostgreSQL database of this run only — and the clean-up that
// removes all four.
// Free of vitest: bench/load.bench.ts uses it too.
//
// Each process is `node --import tsx …/main.ts` (not the tsx CLI, which would run the server in a
// child process): the pid is the server's own, so a signal reaches it directly.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client as CassandraClient } from "cassandra-driver";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { repoRoot, sourceArgs } from "../../../../test/run.js";
import { serviceEnv } from "../../../../test/services.js";
import { configSchema, type ProcessRole } from "../config.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const main = fileURLToPath(new URL("../main.ts", import.meta.url));

/** The engines' settings; a missing one throws (integration tests fail, never skip, without them). */
export function engineSettings() {
  return {
    REDIS_URL: serviceEnv("REDIS_URL"),
    KAFKA_BROKERS: serviceEnv("KAFKA_BROKERS"),
    CASSANDRA_CONTACT_POINTS: serviceEnv("CASSANDRA_CONTACT_POINTS"),
    CASSANDRA_LOCAL_DATACENTER: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
    /** The server's PostgreSQL; each run creates a database of its own there (`ScaledHarness.database`). */
    DATABASE_URL: serviceEnv("DATABASE_URL"),
  };
}
export type EngineSettings = ReturnType<typeof engineSettings>;

/**
 * Why the engines cannot be used (not configured, or a port that does not accept a connection
 * within `timeoutMs`), or undefined when each of them answers.
 */
export async function enginesDown(timeoutMs = 2000): Promise<string | undefined> {
  let settings: EngineSettings;
  try {
    settings = engineSettings();
  } catch (error) {
    return (error as Error).message;
  }
  const targets = [
    ["redis", new URL(settings.REDIS_URL).host],
    ...settings.KAFKA_BROKERS.split(",").map((hp) => ["kafka", hp.trim()]),
    ...settings.CASSANDRA_CONTACT_POINTS.split(",").map((hp) => ["cassandra", hp.trim()]),
    ["postgres", postgresHostPort(settings.DATABASE_URL)],
  ] as const;
  const problems = await Promise.all(
    targets.map(
      ([engine, hostPort]) =>
        new Promise<string | undefined>((resolve) => {
          const at = hostPort.lastIndexOf(":");
          const socket = new Socket();
          const done = (problem?: string) => {
            socket.destroy();
            resolve(problem);
          };
          socket.setTimeout(timeoutMs, () => done(`${engine} at ${hostPort}: no answer within ${timeoutMs} ms`));
          socket.once("error", (error) => done(`${engine} at ${hostPort}: ${error.message}`));
          socket.connect(Number(hostPort.slice(at + 1)), hostPort.slice(0, at), () => done());
        }),
    ),
  );
  const down = problems.filter((p) => p !== undefined);
  return down.length === 0 ? undefined : down.join("; ");
}

function postgresHostPort(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || "5432"}`;
}

/** `url` with another database name (the path). */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs `work` with a client on `url` (the engine's admin database), always closing it. */
async function onPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** This environment without the server's own variables (the integration project exports REDIS_URL & co.). */
export function serverFreeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(configSchema.shape)) delete env[name];
  return env;
}

export interface Proc {
  role: ProcessRole;
  child: ChildProcess;
  /** Every stdout and stderr line so far. */
  lines: string[];
  /** Resolves with the first line (seen or to come) matching; rejects after `timeoutMs` or when the process exits. */
  line(match: RegExp, timeoutMs: number): Promise<string>;
  /** Calls `listener` with every line to come. */
  onLine(listener: (line: string) => void): void;
  /** Signals the process (SIGTERM: graceful) and waits for it to exit; SIGKILL after 20 s. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ScaledHarnessOptions {
  /** DATA_DIR of every process (the transcoders share the API's). */
  dataDir: string;
  /** The names' prefix; a random run id is appended. */
  prefix?: string;
  /** More variables for every process (TOKEN_SECRET, EVENTS_PER_MINUTE, …). */
  env?: Record<string, string>;
  /** Keep only the last this many lines per process (the benchmark's aggregator logs every batch). */
  keepLines?: number;
}

export interface ScaledHarness {
  run: string;
  engines: EngineSettings;
  names: { REDIS_PREFIX: string; KAFKA_TOPIC_PREFIX: string; CASSANDRA_KEYSPACE: string };
  /** The PostgreSQL database of this run (created before the first API process starts, dropped by cleanup). */
  database: { name: string; url: string };
  eventsTopic: string;
  lifecycleTopic: string;
  aggregatorGroup: string;
  /** The latest process of each role. */
  processes: Map<ProcessRole, Proc>;
  start(role: ProcessRole, extra?: Record<string, string>): Proc;
  /** Starts an API process (another one each call); resolves with its URL once it listens (in scaled mode). */
  startApi(timeoutMs?: number): Promise<string>;
  /** Starts the three processes together, as the launcher does; resolves with the API's URL once all are ready. */
  startAll(timeoutMs?: number): Promise<string>;
  /**
   * Stops every process, then removes the topics, `groups` and the aggregator's group, the keyspace,
   * the database and the Redis keys of this run (nothing when no process was started).
   */
  cleanup(groups?: readonly string[]): Promise<void>;
}

export function createScaledHarness(options: ScaledHarnessOptions): ScaledHarness {
  const engines = engineSettings();
  const run = randomUUID().replaceAll("-", "").slice(0, 12);
  const prefix = options.prefix ?? "reelkit-test";
  const names = {
    REDIS_PREFIX: `${prefix}-${run}`,
    KAFKA_TOPIC_PREFIX: `${prefix}-${run}`,
    CASSANDRA_KEYSPACE: `${prefix.replaceAll(/[^a-z0-9_]/g, "_")}_${run}`,
  };
  const databaseName = `${prefix.replaceAll(/[^a-z0-9_]/g, "_")}_${run}`;
  const database = { name: databaseName, url: withDatabase(engines.DATABASE_URL, databaseName) };
  let databaseCreated: Promise<void> | undefined;
  const createDatabase = () => {
    databaseCreated ??= onPostgres(engines.DATABASE_URL, async (client) => {
      await client.query(`create database ${databaseName}`);
    });
    return databaseCreated;
  };
  const processes = new Map<ProcessRole, Proc>();
  const all: Proc[] = [];
  const keep = options.keepLines ?? Number.POSITIVE_INFINITY;

  function start(role: ProcessRole, extra: Record<string, string> = {}): Proc {
    const child = spawn(process.execPath, ["--import", "tsx", ...sourceArgs(main)], {
      cwd: repoRoot,
      env: {
        ...serverFreeEnv(),
        ...engines,
        ...names,
        DATABASE_URL: database.url,
        DATA_DIR: options.dataDir,
        TOKEN_SECRET: "a-test-secret-of-at-least-32-characters!",
        TRANSCODE_PRESET: "ultrafast",
        PORT: "0",
        HOST: "127.0.0.1",
        ...options.env,
        REELKIT_ROLE: role,
        ...extra,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    const listeners = new Set<(line: string) => void>();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream as NodeJS.ReadableStream }).on("line", (line) => {
        lines.push(line);
        if (lines.length > keep) lines.splice(0, lines.length - keep);
        for (const listener of listeners) listener(line);
      });
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    const proc: Proc = {
      role,
      child,
      lines,
      onLine: (listener) => listeners.add(listener),
      line(match, timeoutMs) {
        const seen = lines.find((l) => match.test(l));
        if (seen !== undefined) return Promise.resolve(seen);
        const output = () => lines.slice(-30).join("\n");
        if (gone()) return Promise.reject(new Error(`${role} exited before ${match}; its output:\n${output()}`));
        return new Promise((resolve, reject) => {
          const finish = (error?: Error, line?: string) => {
            listeners.delete(listener);
            clearTimeout(timer);
            child.off("exit", onExit);
            if (error !== undefined) reject(error);
            else resolve(line ?? "");
          };
          const listener = (line: string) => {
            if (match.test(line)) finish(undefined, line);
          };
          const onExit = (code: number | null, signal: string | null) =>
            finish(new Error(`${role} exited (${signal ?? code}) before ${match}; its output:\n${output()}`));
          const timer = setTimeout(
            () =>
              finish(new Error(`${role}: no line matching ${match} within ${timeoutMs} ms; its output:\n${output()}`)),
            timeoutMs,
          );
          listeners.add(listener);
          child.once("exit", onExit);
        });
      },
      async stop(signal = "SIGTERM") {
        if (gone()) return;
        child.kill(signal);
        const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(killer);
      },
    };
    processes.set(role, proc);
    all.push(proc);
    return proc;
  }

  async function startApi(timeoutMs = 120_000): Promise<string> {
    await createDatabase();
    const api = start("api");
    const listening = JSON.parse(await api.line(/"message":"listening"/, timeoutMs)) as { url: string; mode: string };
    if (listening.mode !== "scaled") throw new Error(`the API runs ${listening.mode} mode, not scaled`);
    return listening.url;
  }

  const harness: ScaledHarness = {
    run,
    engines,
    names,
    database,
    eventsTopic: `${names.KAFKA_TOPIC_PREFIX}.engagement.events`,
    lifecycleTopic: `${names.KAFKA_TOPIC_PREFIX}.videos.lifecycle`,
    aggregatorGroup: `${names.KAFKA_TOPIC_PREFIX}-engagement-aggregator`,
    processes,
    start,
    startApi,
    async startAll(timeoutMs = 120_000) {
      // Fail at once, naming the engine, rather than after the processes' own 60 s wait per engine.
      const down = await enginesDown();
      if (down !== undefined)
        throw new Error(
          `the engines of scaled mode do not answer (${down}): start them with \`node scripts/services.mjs up redis kafka cassandra postgres\``,
        );
      const transcoder = start("transcoder");
      const aggregator = start("aggregator");
      const [url] = await Promise.all([
        startApi(timeoutMs),
        transcoder.line(/"message":"transcoder ready"/, timeoutMs),
        aggregator.line(/"message":"aggregator ready"/, timeoutMs),
      ]);
      return url;
    },
    async cleanup(groups = []) {
      await Promise.all(all.map((p) => p.stop()));
      if (all.length === 0) return; // nothing was started: nothing of this run is in the engines
      // Each step on its own: one engine failing must not leave the others' names behind.
      const problems: string[] = [];
      const step = async (what: string, work: () => Promise<unknown>) => {
        await work().catch((error: unknown) => problems.push(`${what}: ${String(error)}`));
      };
      await step("kafka", async () => {
        const admin = new Kafka({
          clientId: "reelkit-harness-cleanup",
          brokers: engines.KAFKA_BROKERS.split(","),
          logLevel: logLevel.NOTHING,
        }).admin();
        await admin.connect();
        try {
          await admin.deleteGroups([harness.aggregatorGroup, ...groups]).catch(() => {});
          await admin.deleteTopics({ topics: [harness.eventsTopic, harness.lifecycleTopic], timeout: 10_000 });
        } finally {
          await admin.disconnect();
        }
      });
      await step("cassandra", async () => {
        const cassandra = new CassandraClient({
          contactPoints: engines.CASSANDRA_CONTACT_POINTS.split(","),
          localDataCenter: engines.CASSANDRA_LOCAL_DATACENTER,
        });
        try {
          await cassandra.execute(`DROP KEYSPACE IF EXISTS ${names.CASSANDRA_KEYSPACE}`);
        } finally {
          await cassandra.shutdown();
        }
      });
      if (databaseCreated !== undefined)
        await step("postgres", () =>
          onPostgres(engines.DATABASE_URL, (client) =>
            client.query(`drop database if exists ${databaseName} with (force)`),
          ),
        );
      await step("redis", async () => {
        const redis = new Redis(engines.REDIS_URL, { maxRetriesPerRequest: 2 });
        try {
          let cursor = "0";
          do {
            const [next, keys] = await redis.scan(cursor, "MATCH", `${names.REDIS_PREFIX}:*`, "COUNT", 1000);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== "0");
        } finally {
          redis.disconnect();
        }
      });
      if (problems.length > 0) throw new Error(`clean-up of run ${run} incomplete: ${problems.join("; ")}`);
    },
  };
  return harness;
}

/** Polls `probe` until it answers something other than undefined; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
