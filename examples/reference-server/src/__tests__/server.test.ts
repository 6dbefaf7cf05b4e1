import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { packageNames } from "../health.js";
import { createReferenceServer, type ReferenceServer } from "../server.js";

let app: ReferenceServer;
let base: string;
beforeAll(async () => {
  app = createReferenceServer();
  base = (await app.listen(0, "127.0.0.1")).url;
});
afterAll(() => app.close());

describe("health", () => {
  it("reports every package with the version from its own manifest", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; packages: Array<{ name: string; version: string }> };
    expect(body.status).toBe("ok");
    expect(body.packages.map((p) => p.name)).toEqual([...packageNames]);
    for (const p of body.packages) expect(p.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("serves the status page listing the packages", async () => {
    const res = await fetch(`${base}/status`);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    for (const name of packageNames) expect(html).toContain(`<code>${name}</code>`);
  });

  it("answers unknown paths with 404 and other methods with 405", async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const res = await fetch(`${base}/healthz`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    // Without a platform the API answers 503 rather than pretending.
    expect((await fetch(`${base}/feed`)).status).toBe(503);
  });
});

describe("loadConfig", () => {
  it("defaults to 127.0.0.1:3000 with data in ./.data", () => {
    expect(loadConfig({})).toMatchObject({ PORT: 3000, HOST: "127.0.0.1", TRANSCODE_PRESET: "veryfast" });
    expect(loadConfig({}).DATA_DIR).toMatch(/\.data$/);
  });

  it("rejects a port that is not a port", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
  });

  it("needs DATABASE_URL (a postgres:// URL) for scaled mode, beside the other engines", () => {
    const engines = {
      REDIS_URL: "redis://127.0.0.1:6390",
      KAFKA_BROKERS: "127.0.0.1:19092",
      CASSANDRA_CONTACT_POINTS: "127.0.0.1:19042",
    };
    expect(() => loadConfig(engines)).toThrow(/DATABASE_URL is not/);
    expect(() => loadConfig({ ...engines, DATABASE_URL: "mysql://127.0.0.1/x" })).toThrow(/DATABASE_URL/);
    const url = "postgres://postgres@127.0.0.1:15432/postgres";
    expect(loadConfig({ ...engines, DATABASE_URL: url }).DATABASE_URL).toBe(url);
    // Alone it is a configuration error too; absent with the others, embedded mode on PGlite.
    expect(() => loadConfig({ DATABASE_URL: url })).toThrow(
      /REDIS_URL, KAFKA_BROKERS, CASSANDRA_CONTACT_POINTS are not/,
    );
    expect(loadConfig({}).DATABASE_URL).toBeUndefined();
  });
});

describe("OpenAPI", () => {
  it("documents every route from the router's own schemas", async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { parameters: Array<{ name: string; in: string }>; requestBody?: unknown; security?: unknown }>
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const r of app.router.routes.filter((r) => !r.hidden)) {
      const path = r.path.replace("*}", "}");
      expect(doc.paths[path], path).toBeDefined();
    }
    // Query parameters come from the query schema, bodies from the body schema.
    expect(doc.paths["/feed"]?.get?.parameters.map((p) => p.name)).toEqual(["cursor", "limit"]);
    expect(doc.paths["/auth/sign-in"]?.post?.requestBody).toMatchObject({
      content: { "application/json": { schema: { type: "object", required: ["user"] } } },
    });
    expect(doc.paths["/me/videos"]?.get?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/videos/{id}"]?.get?.parameters).toContainEqual(
      expect.objectContaining({ name: "id", in: "path" }),
    );
  });
});
