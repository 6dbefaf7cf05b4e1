// Mounting the handler in Express 5, as the README documents it, next to other routes and a
// JSON body parser: a whole tus upload goes through, and the other routes keep working.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createUploadServer, type UploadServer } from "../server.js";
import { OCTET, sha256, TUS } from "./harness.js";

let server: Server | undefined;
let upload: UploadServer | undefined;
let root = "";

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
  await upload?.close();
  await rm(root, { recursive: true, force: true });
});

describe("mounted in Express", () => {
  it("serves tus under /uploads/ beside JSON routes", async () => {
    root = await mkdtemp(join(tmpdir(), "reelkit-upload-express-"));
    const tus = createUploadServer({ dir: join(root, "store"), path: "/uploads/", sniff: false });
    upload = tus;
    const app = express();
    app.use(express.json()); // only parses application/json bodies; tus bodies pass untouched
    app.post("/api/echo", (req, res) => {
      res.json(req.body);
    });
    // app.all keeps req.url intact (app.use("/uploads", …) would strip the mount path).
    app.all(["/uploads", "/uploads/{*rest}"], (req, res) => {
      void tus.handle(req, res);
    });
    const listening = app.listen(0, "127.0.0.1");
    server = listening;
    await new Promise((done) => listening.once("listening", done));
    const base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;

    const sums: string[] = [];
    tus.on("completed", ({ sha256 }) => sums.push(sha256));
    const data = randomBytes(100_000);
    const created = await fetch(`${base}/uploads/`, {
      method: "POST",
      headers: { ...TUS, "Upload-Length": String(data.length) },
    });
    expect(created.status).toBe(201);
    const url = `${base}${created.headers.get("location")}`;
    expect(url).toMatch(/\/uploads\/[A-Za-z0-9_-]{22}$/);
    for (const from of [0, 60_000]) {
      const res = await fetch(url, {
        method: "PATCH",
        headers: { ...OCTET, "Upload-Offset": String(from) },
        body: data.subarray(from, from === 0 ? 60_000 : undefined),
      });
      expect(res.status).toBe(204);
    }
    expect(sums).toEqual([sha256(data)]);
    const download = await fetch(url, { headers: { Range: "bytes=0-9" } });
    expect(download.status).toBe(206);
    expect(Buffer.from(await download.arrayBuffer()).equals(data.subarray(0, 10))).toBe(true);
    const options = await fetch(`${base}/uploads/`, { method: "OPTIONS" });
    expect(options.headers.get("tus-version")).toBe("1.0.0");

    const echo = await fetch(`${base}/api/echo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ok: true }),
    });
    expect(await echo.json()).toEqual({ ok: true });
  });
});
