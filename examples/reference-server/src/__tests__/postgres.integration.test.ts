// The `Sql` adapter on a real PostgreSQL (scaled mode's database): query with $1 parameters, exec
// of multi-statement DDL, transactions that commit or roll back, int8 read as PGlite reads it, and
// several processes creating the schema at once. A database of this run's own, dropped at the end.
// No PostgreSQL fails the file: start it with `node scripts/services.mjs up postgres`.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { type Database, openPostgres, postgresPool, postgresSql, type Sql } from "../db.js";
import { withDatabase } from "./scaled-harness.js";

const admin = serviceEnv("DATABASE_URL");
const name = `reelkit_sql_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const url = withDatabase(admin, name);

async function onAdmin(text: string) {
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

let pool: pg.Pool;
let sql: Sql;
const opened: Database[] = [];

beforeAll(async () => {
  await onAdmin(`create database ${name}`);
  pool = postgresPool(url);
  sql = postgresSql(pool);
});

afterAll(async () => {
  await Promise.all(opened.map((db) => db.close()));
  await pool?.end();
  await onAdmin(`drop database if exists ${name} with (force)`);
});

describe("the pg Sql adapter", () => {
  it("runs multi-statement DDL with exec and parameterised queries with query", async () => {
    await sql.exec(`
      create table if not exists t_items (id text primary key, n bigint not null, big bigint, note text);
      create index if not exists t_items_n on t_items (n);
    `);
    await sql.query("insert into t_items (id, n, big, note) values ($1, $2, $3, $4)", [
      "a",
      Date.now(),
      "9007199254740993",
      null,
    ]);
    const { rows } = await sql.query<{ id: string; n: number; big: string; note: null; c: number }>(
      "select *, count(*) over () as c from t_items where id = any($1::text[])",
      [["a", "b"]],
    );
    expect(rows).toHaveLength(1);
    // int8 as PGlite returns it: a number when safe, else its text.
    expect(typeof rows[0]?.n).toBe("number");
    expect(rows[0]?.big).toBe("9007199254740993");
    expect(rows[0]?.c).toBe(1);
    expect(rows[0]?.note).toBeNull();
  });

  it("commits a transaction's statements together", async () => {
    const result = await sql.transaction(async (tx) => {
      await tx.query("insert into t_items (id, n) values ($1, 1)", ["c1"]);
      await tx.exec("insert into t_items (id, n) values ('c2', 2)");
      return (await tx.query<{ n: number }>("select count(*)::int as n from t_items where id like 'c%'")).rows[0]?.n;
    });
    expect(result).toBe(2);
    expect((await sql.query("select id from t_items where id like 'c%'")).rows).toHaveLength(2);
  });

  it("rolls a failed transaction back and rethrows its error", async () => {
    await expect(
      sql.transaction(async (tx) => {
        await tx.query("insert into t_items (id, n) values ($1, 1)", ["r1"]);
        await tx.query("insert into t_items (id, n) values ($1, 1)", ["a"]); // duplicate key
      }),
    ).rejects.toThrow(/duplicate key/);
    expect((await sql.query("select id from t_items where id = 'r1'")).rows).toHaveLength(0);
    await expect(
      sql.transaction(async (tx) => {
        await tx.query("insert into t_items (id, n) values ($1, 1)", ["r2"]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await sql.query("select id from t_items where id = 'r2'")).rows).toHaveLength(0);
    // The pool's clients are all usable afterwards.
    const counts = await Promise.all(
      Array.from({ length: 12 }, () => sql.query<{ n: number }>("select count(*)::int as n from t_items")),
    );
    expect(new Set(counts.map((c) => c.rows[0]?.n))).toEqual(new Set([3]));
  });

  it("creates the schema once when several processes open the database at the same time", async () => {
    // Separate pools stand for separate API processes; `create table if not exists` alone races.
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openPostgres(url)));
    opened.push(...dbs);
    const [first, second] = dbs as [Database, Database];
    await first.upsertUser({ id: "u1", name: "One", role: "creator" });
    const video = await first.createVideo({ id: "v1", ownerId: "u1", title: "t", status: "uploaded" });
    expect(typeof video.createdAt).toBe("number");
    await first.setStatus("v1", "published", { durationMs: 1500 });
    // Another process sees the change at once: no page cache on PostgreSQL.
    expect((await second.published(10, 0)).map((v) => v.id)).toEqual(["v1"]);
    expect(await second.getVideo("v1")).toMatchObject({ status: "published", durationMs: 1500 });
    await first.setStatus("v1", "held");
    expect(await second.published(10, 0)).toEqual([]);
  });

  it("versions status changes for the lifecycle relay and finds recent changes for the catalogue", async () => {
    const db = await openPostgres(url);
    opened.push(db);
    await db.upsertUser({ id: "u2", name: "Two", role: "creator" });
    const before = Date.now();
    await db.createVideo({ id: "v2", ownerId: "u2", title: "t", status: "uploaded" });
    expect(await db.statusVersion("v2")).toMatchObject({ version: 1 });
    expect(await db.setStatus("v2", "transcoding")).toBe(true);
    expect(await db.setStatus("v2", "moderation", {}, ["uploaded"])).toBe(false); // not claimed: no bump
    expect(await db.setStatus("v2", "published")).toBe(true);
    const version = await db.statusVersion("v2");
    expect(version?.version).toBe(3);
    expect(version?.at).toBeGreaterThanOrEqual(before);
    expect((await db.statusChangedSince(before)).map((v) => v.id)).toContain("v2");
    expect(await db.statusChangedSince(Date.now() + 60_000)).toEqual([]);
    // The backlog: unmarked changes older than `before`; marking keeps the highest version.
    const now = Date.now() + 1;
    expect((await db.lifecycleBacklog(now, 100)).find((b) => b.video.id === "v2")).toMatchObject({ version: 3 });
    await db.markLifecycleSent("v2", 3);
    await db.markLifecycleSent("v2", 2); // a late, older mark
    expect((await db.lifecycleBacklog(now, 100)).map((b) => b.video.id)).not.toContain("v2");
    await db.setStatus("v2", "held");
    expect((await db.lifecycleBacklog(Date.now() + 1, 100)).find((b) => b.video.id === "v2")).toMatchObject({
      version: 4,
      video: { status: "held" },
    });
    expect(await db.lifecycleBacklog(before - 60_000, 100)).toEqual([]); // nothing changed that long ago
  });
});
