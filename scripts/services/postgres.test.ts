import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// postgres.mjs makes its service folder when it loads: point the state at a folder of this test's own.
const state = mkdtempSync(join(tmpdir(), "reelkit-services-pg-"));
process.env.REELKIT_STATE_DIR = state;
const postgres = await import("./postgres.mjs");
afterAll(() => rmSync(state, { recursive: true, force: true }));

describe("postgres service", () => {
  it("finds the newest Debian server binaries that hold both initdb and postgres", () => {
    const root = join(state, "lib-postgresql");
    for (const [major, files] of [
      ["13", ["initdb", "postgres"]],
      ["15", ["initdb", "postgres"]],
      ["16", ["psql"]], // a client-only install: no server
    ] as const) {
      mkdirSync(join(root, major, "bin"), { recursive: true });
      for (const file of files) writeFileSync(join(root, major, "bin", file), "");
    }
    expect(postgres.findBinDir(root)).toBe(join(root, "15", "bin"));
    expect(postgres.findBinDir(join(state, "nowhere"))).toBeUndefined();
  });

  it("trusts TCP from 127.0.0.1 only", () => {
    const rules = postgres
      .hbaConf()
      .split("\n")
      .filter((line: string) => line.trim() !== "" && !line.startsWith("#"));
    expect(rules).toEqual(["host all all 127.0.0.1/32 trust"]);
  });

  it("listens on loopback port 15432 without a Unix socket, and publishes that URL", () => {
    const args = postgres.serverArgs("/data");
    expect(args.slice(0, 4)).toEqual(["-D", "/data", "-p", "15432"]);
    expect(args).toContain("listen_addresses=127.0.0.1");
    expect(args).toContain("unix_socket_directories=");
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      expect(postgres.default.env()).toEqual({ DATABASE_URL: "postgres://postgres@127.0.0.1:15432/postgres" });
      expect(postgres.default.external()).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });
});
