import { randomUUID } from "node:crypto";
import { Client } from "cassandra-driver";
import { describe, expect, it } from "vitest";
import { serviceEnv } from "../services.js";

describe("Cassandra from Node (cassandra-driver)", () => {
  it("creates a keyspace and a table, writes and reads back", async () => {
    const client = new Client({
      contactPoints: serviceEnv("CASSANDRA_CONTACT_POINTS").split(","),
      localDataCenter: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
      encoding: { useBigIntAsLong: true },
    });
    const keyspace = `smoke_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    try {
      await client.connect();
      await client.execute(
        `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await client.execute(`CREATE TABLE ${keyspace}.videos (id text PRIMARY KEY, views bigint, title text)`);
      await client.execute(`INSERT INTO ${keyspace}.videos (id, views, title) VALUES (?, ?, ?)`, ["v1", 42n, "hello"], {
        prepare: true,
      });
      const result = await client.execute(`SELECT views, title FROM ${keyspace}.videos WHERE id = ?`, ["v1"], {
        prepare: true,
      });
      expect(result.rows).toHaveLength(1);
      expect(result.rows[0]?.get("views")).toBe(42n);
      expect(result.rows[0]?.get("title")).toBe("hello");
    } finally {
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      await client.shutdown();
    }
  });
});
