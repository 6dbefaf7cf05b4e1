import { resolve } from "node:path";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65_535);
/** An unset variable and an empty one mean the same: not given. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
/** A comma-separated `host:port` list. */
const hostPorts = z
  .string()
  .transform((list) =>
    list
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ""),
  )
  .pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, "each entry is host:port")).min(1));

/** The processes of scaled mode; embedded mode runs everything in `api`. */
export const roles = ["api", "transcoder", "aggregator"] as const;
export type ProcessRole = (typeof roles)[number];
export type Mode = "embedded" | "scaled";

/** Everything the server reads from its environment, validated once at start-up. */
export const configSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Where uploads, media, the database and the engagement journal live. */
  DATA_DIR: z
    .string()
    .min(1)
    .default(".data")
    .transform((dir) => resolve(dir)),
  /** Signs tokens and cursors; generated and kept in DATA_DIR when not given. At least 32 characters. */
  TOKEN_SECRET: z.string().min(32).optional(),
  /** x264 preset for transcodes. */
  TRANSCODE_PRESET: z.enum(["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]).default("veryfast"),
  /** Largest upload in bytes. */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
  /** Telemetry requests (`POST /events`) allowed per client address and minute (the load benchmark raises it). */
  EVENTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000_000).default(240),
  // Scaled mode: all four engines given (any one alone is a configuration error).
  /** Redis (a single server): upload locks, the transcode job queue, ranker signals, the review queue, rate limits. */
  REDIS_URL: optional(z.url({ protocol: /^rediss?$/, error: "a redis:// or rediss:// URL" })),
  /** Kafka bootstrap brokers, `host:port,host:port`: engagement events and the video lifecycle. */
  KAFKA_BROKERS: optional(hostPorts),
  /** Cassandra contact points, `host:port,…`: engagement aggregates. */
  CASSANDRA_CONTACT_POINTS: optional(hostPorts),
  CASSANDRA_LOCAL_DATACENTER: z.string().min(1).default("datacenter1"),
  /** PostgreSQL, `postgres://user@host:port/database`: users, videos and the route modules' tables (PGlite when embedded). */
  DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/, error: "a postgres:// or postgresql:// URL" })),
  /** The keyspace of the engagement aggregates (created when missing, replication factor 1). */
  CASSANDRA_KEYSPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/, "lower-case letters, digits and _, starting with a letter")
    .default("reelkit"),
  /** Topics are `<prefix>.engagement.events` and `<prefix>.videos.lifecycle` (consumer groups `<prefix>-…`). */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, "a-z A-Z 0-9 . _ - (Kafka's topic characters)")
    .default("reelkit"),
  /** Every Redis key starts with `<prefix>:`, so deployments (and test runs) can share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[^{}\s]{1,100}$/, "no braces or whitespace")
    .default("reelkit"),
  /** Which process this is in scaled mode: the HTTP API, a transcode worker or the engagement aggregator. */
  REELKIT_ROLE: z.enum(roles).default("api"),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The variables that choose scaled mode (all four, or none). */
export const engineVariables = ["REDIS_URL", "KAFKA_BROKERS", "CASSANDRA_CONTACT_POINTS", "DATABASE_URL"] as const;

/**
 * `env` with the engine variables blanked (empty means unset): a child process started with it runs
 * embedded mode even where the engines are configured (the integration tests' environment is).
 */
export function embeddedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, ...Object.fromEntries(engineVariables.map((name) => [name, ""])) };
}

/** Scaled when the engines are configured (loadConfig guarantees all four or none). */
export function modeOf(config: Config): Mode {
  return config.REDIS_URL !== undefined ? "scaled" : "embedded";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) throw new ConfigError(`invalid environment:\n${z.prettifyError(result.error)}`);
  const config = result.data;
  const given = engineVariables.filter((name) => config[name] !== undefined);
  if (given.length > 0 && given.length < engineVariables.length) {
    const missing = engineVariables.filter((name) => config[name] === undefined);
    throw new ConfigError(
      `invalid environment: scaled mode needs ${engineVariables.join(", ")}; ${given.join(", ")} ${given.length === 1 ? "is" : "are"} set but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not (start the engines with \`node scripts/services.mjs up redis kafka cassandra postgres\` and read .reelkit/services.env, or unset them all for embedded mode)`,
    );
  }
  if (given.length === 0 && config.REELKIT_ROLE !== "api") {
    throw new ConfigError(
      `invalid environment: REELKIT_ROLE=${config.REELKIT_ROLE} is a process of scaled mode; set ${engineVariables.join(", ")}`,
    );
  }
  return config;
}
