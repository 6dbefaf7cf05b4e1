// Follows and creator analytics. Follows live in our own table (one row per follow episode, with
// followed_at / unfollowed_at, so follower growth per day can be computed for any past range) and
// are handed to @reelkit/feed-ranker, whose "following" candidate source serves the followed
// creators' videos. Analytics read @reelkit/engagement (creatorStats, counts, retention), which the
// in-process store updates inside `record`: what POST /events accepted shows at once.
// The table is the truth: its active follows are replayed into the ranker at start (its state is
// in memory in embedded mode).
import type { Role } from "./auth.js";
import type { Sql, Video } from "./db.js";
import type { Platform } from "./platform.js";
import { serialized } from "./serial.js";

export const DAY_MS = 86_400_000;

const SCHEMA = `
create table if not exists creator_follows (
  id bigserial primary key,
  follower_id text not null,
  creator_id text not null,
  followed_at bigint not null,
  unfollowed_at bigint
);
create unique index if not exists creator_follows_active
  on creator_follows (follower_id, creator_id) where unfollowed_at is null;
create index if not exists creator_follows_by_creator on creator_follows (creator_id, followed_at);
`;

/** Roles that can publish: a "creator" is a user with one of these. */
const publishingRoles: readonly Role[] = ["creator", "moderator", "admin"];

export interface CreatorProfile {
  id: string;
  name: string;
  followers: number;
  /** Videos anyone can watch: published or limited. */
  publishedVideos: number;
}

export interface FollowerDay {
  date: string;
  gained: number;
  lost: number;
  /** Followers at the end of the day. */
  total: number;
}

/** A UTC day number (days since the epoch) as YYYY-MM-DD. */
export const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** YYYY-MM-DD as a UTC day number, or undefined when it is not a real date. */
export function dayOfIso(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== text) return undefined;
  return Math.floor(ms / DAY_MS);
}

export interface Creators {
  /** The table exists and the active follows were replayed into the ranker. */
  ready: Promise<void>;
  /** A user who may publish, or undefined. */
  creator(id: string): Promise<{ id: string; name: string } | undefined>;
  profile(id: string): Promise<CreatorProfile | undefined>;
  /** Idempotent: true when this call started following. */
  follow(followerId: string, creatorId: string): Promise<boolean>;
  /** Idempotent: true when this call stopped following. */
  unfollow(followerId: string, creatorId: string): Promise<boolean>;
  isFollowing(followerId: string, creatorId: string): Promise<boolean>;
  following(followerId: string): Promise<string[]>;
  followers(creatorId: string): Promise<number>;
  /** Gained, lost and the end-of-day total for every UTC day `fromDay`..`toDay`. */
  growth(creatorId: string, fromDay: number, toDay: number): Promise<FollowerDay[]>;
  /** The owner's video, or undefined (also for someone else's). */
  ownVideo(ownerId: string, videoId: string): Promise<Video | undefined>;
}

const services = new WeakMap<Platform, Creators>();

/** One follows service per platform (route modules of several servers share it). */
export function creatorsOf(platform: Platform): Creators {
  let service = services.get(platform);
  if (service === undefined) {
    service = createCreators(platform);
    services.set(platform, service);
  }
  return service;
}

const count = async (sql: Sql, text: string, params: unknown[]) =>
  Number((await sql.query<{ n: number | string }>(text, params)).rows[0]?.n ?? 0);

function createCreators(platform: Platform): Creators {
  const sql = platform.db.sql;
  const now = () => Date.now();
  const ready = (async () => {
    await sql.exec(SCHEMA);
    // The ranker keeps follows in memory: give it the active ones again after a restart.
    const active = await sql.query<{ follower_id: string; creator_id: string }>(
      "select follower_id, creator_id from creator_follows where unfollowed_at is null",
    );
    for (const row of active.rows) await platform.ranker.follow(row.follower_id, row.creator_id);
  })();
  ready.catch((error: unknown) => platform.log("follows not ready", { error: String(error) }));

  /**
   * Write a follow change, then give the ranker what the table now says (the table is the truth;
   * also when nothing changed, since the ranker's state may be in memory and lost). One change per
   * pair at a time in this process, so a follow and an unfollow racing each other cannot leave the
   * ranker disagreeing with the table.
   */
  const changeFollow = (followerId: string, creatorId: string, write: () => Promise<boolean>) =>
    serialized(platform, `follow:${followerId}>${creatorId}`, async () => {
      await ready;
      const changed = await write();
      if (await service.isFollowing(followerId, creatorId)) await platform.ranker.follow(followerId, creatorId);
      else await platform.ranker.unfollow(followerId, creatorId);
      return changed;
    });

  const service: Creators = {
    ready,
    async creator(id) {
      const row = (
        await sql.query<{ id: string; name: string; role: Role }>("select id, name, role from users where id = $1", [
          id,
        ])
      ).rows[0];
      return row !== undefined && publishingRoles.includes(row.role) ? { id: row.id, name: row.name } : undefined;
    },
    async profile(id) {
      const creator = await service.creator(id);
      if (creator === undefined) return undefined;
      const [followers, publishedVideos] = await Promise.all([
        service.followers(id),
        count(sql, "select count(*)::int as n from videos where owner_id = $1 and status in ('published', 'limited')", [
          id,
        ]),
      ]);
      return { ...creator, followers, publishedVideos };
    },
    follow: (followerId, creatorId) =>
      changeFollow(followerId, creatorId, async () => {
        const inserted = await sql.query(
          `insert into creator_follows (follower_id, creator_id, followed_at) values ($1, $2, $3)
           on conflict (follower_id, creator_id) where unfollowed_at is null do nothing returning id`,
          [followerId, creatorId, now()],
        );
        return inserted.rows.length > 0;
      }),
    unfollow: (followerId, creatorId) =>
      changeFollow(followerId, creatorId, async () => {
        const updated = await sql.query(
          `update creator_follows set unfollowed_at = $3
           where follower_id = $1 and creator_id = $2 and unfollowed_at is null returning id`,
          [followerId, creatorId, now()],
        );
        return updated.rows.length > 0;
      }),
    async isFollowing(followerId, creatorId) {
      await ready;
      return (
        (await count(
          sql,
          "select count(*)::int as n from creator_follows where follower_id = $1 and creator_id = $2 and unfollowed_at is null",
          [followerId, creatorId],
        )) > 0
      );
    },
    async following(followerId) {
      await ready;
      const rows = await sql.query<{ creator_id: string }>(
        "select creator_id from creator_follows where follower_id = $1 and unfollowed_at is null order by creator_id",
        [followerId],
      );
      return rows.rows.map((r) => r.creator_id);
    },
    async followers(creatorId) {
      await ready;
      return count(
        sql,
        "select count(*)::int as n from creator_follows where creator_id = $1 and unfollowed_at is null",
        [creatorId],
      );
    },
    async growth(creatorId, fromDay, toDay) {
      await ready;
      const start = fromDay * DAY_MS;
      const end = (toDay + 1) * DAY_MS;
      const [base, gained, lost] = await Promise.all([
        count(
          sql,
          `select count(*)::int as n from creator_follows
           where creator_id = $1 and followed_at < $2 and (unfollowed_at is null or unfollowed_at >= $2)`,
          [creatorId, start],
        ),
        sql.query<{ day: number | string; n: number | string }>(
          `select (followed_at / ${DAY_MS})::int as day, count(*)::int as n from creator_follows
           where creator_id = $1 and followed_at >= $2 and followed_at < $3 group by 1`,
          [creatorId, start, end],
        ),
        sql.query<{ day: number | string; n: number | string }>(
          `select (unfollowed_at / ${DAY_MS})::int as day, count(*)::int as n from creator_follows
           where creator_id = $1 and unfollowed_at >= $2 and unfollowed_at < $3 group by 1`,
          [creatorId, start, end],
        ),
      ]);
      const byDay = (rows: Array<{ day: number | string; n: number | string }>) =>
        new Map(rows.map((r) => [Number(r.day), Number(r.n)]));
      const gainedBy = byDay(gained.rows);
      const lostBy = byDay(lost.rows);
      const days: FollowerDay[] = [];
      let total = base;
      for (let day = fromDay; day <= toDay; day++) {
        const g = gainedBy.get(day) ?? 0;
        const l = lostBy.get(day) ?? 0;
        total += g - l;
        days.push({ date: isoDay(day), gained: g, lost: l, total });
      }
      return days;
    },
    async ownVideo(ownerId, videoId) {
      const video = await platform.db.getVideo(videoId);
      return video?.ownerId === ownerId ? video : undefined;
    },
  };
  return service;
}
