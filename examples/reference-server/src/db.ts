// The embedded database: PGlite (PostgreSQL compiled to WebAssembly) persisted to DATA_DIR/db.
// Plain SQL, so the same statements run on a real PostgreSQL when the platform scales out.
import { PGlite } from "@electric-sql/pglite";
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
  setStatus(id: string, status: VideoStatus, changes?: { error?: string | null; durationMs?: number }): Promise<void>;
  /** Published videos, newest first (pages are cached until a video's status changes). */
  published(limit: number, offset: number): Promise<Video[]>;
  byOwner(ownerId: string): Promise<Video[]>;
  byStatus(statuses: readonly VideoStatus[]): Promise<Video[]>;
  close(): Promise<void>;
}

export async function openDatabase(dir: string): Promise<Database> {
  const db = new PGlite(dir);
  await db.exec(SCHEMA);
  // The anonymous feed reads the same few pages over and over; they change only when a video
  // enters or leaves `published`, which goes through this module (one process owns the database).
  const publishedPages = new Map<string, Promise<Video[]>>();
  return {
    sql: db as unknown as Sql,
    async upsertUser(user) {
      await db.query(
        "insert into users (id, name, role, created_at) values ($1, $2, $3, $4) on conflict (id) do update set name = $2, role = $3",
        [user.id, user.name, user.role, Date.now()],
      );
    },
    async createVideo(video) {
      await db.query(
        "insert into videos (id, owner_id, title, status, created_at) values ($1, $2, $3, $4, $5) on conflict (id) do nothing",
        [video.id, video.ownerId, video.title, video.status, Date.now()],
      );
      const row = (await db.query<VideoRow>("select * from videos where id = $1", [video.id])).rows[0];
      if (row === undefined) throw new Error(`video ${video.id} was not stored`);
      return toVideo(row);
    },
    async getVideos(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<VideoRow>("select * from videos where id = any($1::text[])", [[...ids]]);
      const byId = new Map(rows.rows.map((row) => [row.id, toVideo(row)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
    async getVideo(id) {
      const row = (await db.query<VideoRow>("select * from videos where id = $1", [id])).rows[0];
      return row === undefined ? undefined : toVideo(row);
    },
    async setStatus(id, status, changes = {}) {
      publishedPages.clear();
      const publishing = status === "published" || status === "limited";
      await db.query(
        `update videos set status = $2,
           error = case when $3::boolean then $4 else error end,
           duration_ms = coalesce($5, duration_ms),
           published_at = case when $6::boolean and published_at is null then $7 else published_at end
         where id = $1`,
        [
          id,
          status,
          changes.error !== undefined,
          changes.error ?? null,
          changes.durationMs ?? null,
          publishing,
          Date.now(),
        ],
      );
      publishedPages.clear(); // again: a page read while the update ran may hold the old status
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
        page.catch(() => publishedPages.delete(key));
        if (publishedPages.size >= 256) publishedPages.clear();
        publishedPages.set(key, page);
      }
      return (await page).map((video) => ({ ...video }));
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
    close: () => db.close(),
  };
}
