// The database: PGlite (PostgreSQL compiled to WebAssembly) persisted to DATA_DIR/db in embedded
// mode; a real PostgreSQL (DATABASE_URL, through a `pg` pool) in scaled mode. Plain SQL: the very
// same statements run on both.
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { User } from "./auth.js";

export const videoStatuses = [
  "uploaded",
  "transcoding",
  "moderation",
  "published",
  "limited",
  "held",
  "rejected",
  "failed",
] as const;
export type VideoStatus = (typeof videoStatuses)[number];

export interface Video {
  id: string;
  ownerId: string;
  title: string;
  status: VideoStatus;
  error: string | null;
  durationMs: number | null;
  createdAt: number;
  publishedAt: number | null;
}

const SCHEMA = `
create table if not exists users (
  id text primary key,
  name text not null,
  role text not null,
  created_at bigint not null
);
create table if not exists videos (
  id text primary key,
  owner_id text not null references users(id),
  title text not null,
  status text not null,
  error text,
  duration_ms integer,
  created_at bigint not null,
  published_at bigint
);
create index if not exists videos_feed on videos (status, published_at desc);
create index if not exists videos_owner on videos (owner_id, created_at desc);
-- Lifecycle stream bookkeeping: every status change bumps status_version; lifecycle_sent holds the
-- highest version published per video, so changes a crash kept off the stream are sent later.
alter table videos add column if not exists status_version integer not null default 1;
alter table videos add column if not exists status_at bigint;
create index if not exists videos_status_at on videos (status_at);
create table if not exists lifecycle_sent (
  video_id text primary key,
  version integer not null
);
`;

interface VideoRow {
  id: string;
  owner_id: string;
  title: string;
  status: VideoStatus;
  error: string | null;
  duration_ms: number | null;
  created_at: string | number;
  published_at: string | number | null;
}

const toVideo = (row: VideoRow): Video => ({
  id: row.id,
  ownerId: row.owner_id,
  title: row.title,
  status: row.status,
  error: row.error,
  durationMs: row.duration_ms,
  createdAt: Number(row.created_at),
  publishedAt: row.published_at === null ? null : Number(row.published_at),
});

/** Plain PostgreSQL access: PGlite embedded; the same statements run on a real PostgreSQL. */
export interface Sql {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(text: string): Promise<unknown>;
  transaction<T>(fn: (tx: Omit<Sql, "transaction">) => Promise<T>): Promise<T>;
}

export interface Database {
  /** For modules that keep their own tables (comments, reviews, analytics): create them with `create table if not exists`. */
  sql: Sql;
  upsertUser(user: User): Promise<void>;
  /** Insert a video once (by id); a second call returns the existing row unchanged. */
  createVideo(video: { id: string; ownerId: string; title: string; status: VideoStatus }): Promise<Video>;
  getVideo(id: string): Promise<Video | undefined>;
  /** Several videos in one query, in the order of `ids` (unknown ids left out). */
  getVideos(ids: readonly string[]): Promise<Video[]>;
  /**
   * Move a video to `status`; with `from`, only if it is in one of those statuses (an atomic claim:
   * of several processes handling the same event, one wins). Resolves whether the row changed.
   */
  setStatus(
    id: string,
    status: VideoStatus,
    changes?: { error?: string | null; durationMs?: number },
    from?: readonly VideoStatus[],
  ): Promise<boolean>;
  /** Published videos, newest first (embedded: pages are cached until a video's status changes; PostgreSQL: not cached). */
  published(limit: number, offset: number): Promise<Video[]>;
  byOwner(ownerId: string): Promise<Video[]>;
  byStatus(statuses: readonly VideoStatus[]): Promise<Video[]>;
  /** Videos whose status was set (at creation or by `setStatus`) at or after `since` (epoch ms). */
  statusChangedSince(since: number): Promise<Video[]>;
  /** A video's status version (1 at creation, +1 per change) and when its status last changed. */
  statusVersion(id: string): Promise<{ version: number; at: number } | undefined>;
  /**
   * Videos whose current status version is not marked as published on the lifecycle stream, and
   * whose status changed before `before` (epoch ms), oldest change first.
   */
  lifecycleBacklog(before: number, limit: number): Promise<Array<{ video: Video; version: number; at: number }>>;
  /** Record that `version` of the video's status is on the lifecycle stream (keeps the highest). */
  markLifecycleSent(videoId: string, version: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The database of this process: a real PostgreSQL when `url` is given (scaled mode, shared by every
 * API process), else PGlite persisted in `dir` (embedded mode, one process owns it).
 */
export async function openDatabase(dir: string, url?: string): Promise<Database> {
  if (url !== undefined) return openPostgres(url);
  const db = new PGlite(dir);
  await db.exec(SCHEMA);
  // The anonymous feed reads the same few pages over and over; they change only when a video
  // enters or leaves `published`, which goes through this module (one process owns the database).
  return databaseOn(db as unknown as Sql, () => db.close(), { cachePages: true });
}

/** int8 as PGlite returns it: a number when it is a safe integer, else its text (never a BigInt). */
const int8 = (text: string): number | string => {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
};
const INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? int8
      : pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/** Serializes DDL across every process on the database: `create … if not exists` races otherwise. */
const SCHEMA_LOCK = 0x5265_656c; // "Reel"

/**
 * `Sql` on a real PostgreSQL: `query` on the pool (`$1` parameters), `exec` runs multi-statement text
 * (schema DDL) in a transaction holding an advisory lock (processes starting together create their
 * tables one at a time), `transaction` on one dedicated client with BEGIN/COMMIT/ROLLBACK.
 */
export function postgresSql(pool: pg.Pool): Sql {
  const on = (client: pg.PoolClient): Omit<Sql, "transaction"> => ({
    query: async <T>(text: string, params?: unknown[]) =>
      (await client.query(text, params)) as unknown as { rows: T[] },
    exec: (text: string) => client.query(text),
  });
  const inTransaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("begin");
      try {
        const result = await work(client);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        throw error;
      }
    } finally {
      // A client whose rollback failed is in an unknown state: discard it rather than reuse it.
      client.release(broken);
    }
  };
  return {
    query: async <T>(text: string, params?: unknown[]) => (await pool.query(text, params)) as unknown as { rows: T[] },
    exec: (text) =>
      inTransaction(async (client) => {
        await client.query("select pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        return client.query(text);
      }),
    transaction: (fn) => inTransaction((client) => fn(on(client))),
  };
}

/** A `pg` pool on `url` whose int8 columns read as PGlite's do (see `int8`). */
export function postgresPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types: pgTypes, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection (a restart of the server) must not crash the process:
  // the pool drops it and the next query connects afresh.
  pool.on("error", () => {});
  return pool;
}

/**
 * The database on a real PostgreSQL. Several API processes share it, so the anonymous feed's page
 * cache is off here (another process's status change could not invalidate it).
 */
export async function openPostgres(url: string): Promise<Database> {
  const pool = postgresPool(url);
  const sql = postgresSql(pool);
  try {
    await sql.exec(SCHEMA);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return databaseOn(sql, () => pool.end(), { cachePages: false });
}

function databaseOn(db: Sql, close: () => Promise<void>, options: { cachePages: boolean }): Database {
  const publishedPages = new Map<string, Promise<Video[]>>();
  // Embedded mode (one process owns the database): rows read for feed pages are kept until their
  // status changes, so a ranked page costs no query (PGlite runs on this thread's CPU).
  const rows = new Map<string, Video>();
  const remember = (video: Video) => {
    if (!options.cachePages) return;
    if (rows.size >= 10_000) rows.clear();
    rows.set(video.id, video);
  };
  return {
    sql: db,
    async upsertUser(user) {
      await db.query(
        "insert into users (id, name, role, created_at) values ($1, $2, $3, $4) on conflict (id) do update set name = $2, role = $3",
        [user.id, user.name, user.role, Date.now()],
      );
    },
    async createVideo(video) {
      await db.query(
        "insert into videos (id, owner_id, title, status, created_at, status_at) values ($1, $2, $3, $4, $5, $5) on conflict (id) do nothing",
        [video.id, video.ownerId, video.title, video.status, Date.now()],
      );
      const row = (await db.query<VideoRow>("select * from videos where id = $1", [video.id])).rows[0];
      if (row === undefined) throw new Error(`video ${video.id} was not stored`);
      return toVideo(row);
    },
    async getVideos(ids) {
      if (ids.length === 0) return [];
      const missing = ids.filter((id) => !rows.has(id));
      const byId = new Map<string, Video>();
      if (missing.length > 0) {
        const found = await db.query<VideoRow>("select * from videos where id = any($1::text[])", [missing]);
        for (const row of found.rows) {
          const video = toVideo(row);
          byId.set(video.id, video);
          remember(video);
        }
      }
      return ids.flatMap((id) => {
        const video = byId.get(id) ?? rows.get(id);
        return video === undefined ? [] : [{ ...video }];
      });
    },
    async getVideo(id) {
      const row = (await db.query<VideoRow>("select * from videos where id = $1", [id])).rows[0];
      return row === undefined ? undefined : toVideo(row);
    },
    async setStatus(id, status, changes = {}, from) {
      publishedPages.clear();
      rows.delete(id);
      const publishing = status === "published" || status === "limited";
      const updated = await db.query<{ id: string }>(
        `update videos set status = $2, status_version = status_version + 1, status_at = $7,
           error = case when $3::boolean then $4 else error end,
           duration_ms = coalesce($5, duration_ms),
           published_at = case when $6::boolean and published_at is null then $7 else published_at end
         where id = $1 and ($8::text[] is null or status = any($8::text[]))
         returning id`,
        [
          id,
          status,
          changes.error !== undefined,
          changes.error ?? null,
          changes.durationMs ?? null,
          publishing,
          Date.now(),
          from === undefined ? null : [...from],
        ],
      );
      publishedPages.clear(); // again: a page read while the update ran may hold the old status
      rows.delete(id);
      return updated.rows.length > 0;
    },
    async published(limit, offset) {
      const key = `${limit}:${offset}`;
      let page = publishedPages.get(key);
      if (page === undefined) {
        page = db
          .query<VideoRow>(
            "select * from videos where status = 'published' order by published_at desc, id limit $1 offset $2",
            [limit, offset],
          )
          .then((rows) => rows.rows.map(toVideo));
        if (options.cachePages) {
          page.catch(() => publishedPages.delete(key));
          if (publishedPages.size >= 256) publishedPages.clear();
          publishedPages.set(key, page);
        }
      }
      return (await page).map((video) => ({ ...video }));
    },
    async statusChangedSince(since) {
      const rows = await db.query<VideoRow>("select * from videos where status_at >= $1 order by status_at", [since]);
      return rows.rows.map(toVideo);
    },
    async statusVersion(id) {
      const row = (
        await db.query<{ status_version: number; status_at: string | number | null; created_at: string | number }>(
          "select status_version, status_at, created_at from videos where id = $1",
          [id],
        )
      ).rows[0];
      return row === undefined
        ? undefined
        : { version: Number(row.status_version), at: Number(row.status_at ?? row.created_at) };
    },
    async lifecycleBacklog(before, limit) {
      const rows = await db.query<VideoRow & { status_version: number; status_at: string | number | null }>(
        `select v.* from videos v left join lifecycle_sent s on s.video_id = v.id
         where (s.version is null or s.version < v.status_version) and coalesce(v.status_at, v.created_at) < $1
         order by coalesce(v.status_at, v.created_at), v.id limit $2`,
        [before, limit],
      );
      return rows.rows.map((row) => ({
        video: toVideo(row),
        version: Number(row.status_version),
        at: Number(row.status_at ?? row.created_at),
      }));
    },
    async markLifecycleSent(videoId, version) {
      await db.query(
        `insert into lifecycle_sent (video_id, version) values ($1, $2)
         on conflict (video_id) do update set version = greatest(lifecycle_sent.version, excluded.version)`,
        [videoId, version],
      );
    },
    async byOwner(ownerId) {
      const rows = await db.query<VideoRow>("select * from videos where owner_id = $1 order by created_at desc", [
        ownerId,
      ]);
      return rows.rows.map(toVideo);
    },
    async byStatus(statuses) {
      const rows = await db.query<VideoRow>("select * from videos where status = any($1::text[]) order by created_at", [
        [...statuses],
      ]);
      return rows.rows.map(toVideo);
    },
    close,
  };
}
