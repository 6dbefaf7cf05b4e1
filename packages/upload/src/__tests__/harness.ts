// Shared set-up for tests that talk HTTP to a real upload server on an ephemeral loopback port.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { createUploadServer, type UploadServer, type UploadServerOptions } from "../server.js";

export const TUS = { "Tus-Resumable": "1.0.0" };
export const OCTET = { ...TUS, "Content-Type": "application/offset+octet-stream" };
export const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export interface Harness {
  /** Store directory of the current test (fresh per test). */
  dir: string;
  /** Temp root of the current test; removed afterwards. */
  root: string;
  /** `http://127.0.0.1:<port>` once `start` ran. */
  base: string;
  upload: UploadServer;
  http: Server;
  /** Start a server with `defaults` overridden by `options`, storing in `dir`. */
  start(options?: Partial<UploadServerOptions>): Promise<void>;
  /** Replace the upload server (a process restart: nothing kept in memory) on the same port. */
  restart(options?: Partial<UploadServerOptions>): Promise<void>;
}

/** Registers per-test set-up and tear-down; call at the top of a test file. */
export function useUploadServer(defaults: Partial<UploadServerOptions> = {}): Harness {
  const harness = {
    async start(options: Partial<UploadServerOptions> = {}) {
      harness.upload = createUploadServer({ dir: harness.dir, ...defaults, ...options });
      harness.http = createServer((req, res) => void harness.upload.handle(req, res));
      await new Promise<void>((done) => harness.http.listen(0, "127.0.0.1", done));
      harness.base = `http://127.0.0.1:${(harness.http.address() as AddressInfo).port}`;
    },
    async restart(options: Partial<UploadServerOptions> = {}) {
      await harness.upload.close();
      harness.upload = createUploadServer({ dir: harness.dir, ...defaults, ...options });
    },
  } as Harness;
  beforeEach(async () => {
    harness.root = await mkdtemp(join(tmpdir(), "reelkit-upload-"));
    harness.dir = join(harness.root, "store");
  });
  afterEach(async () => {
    const { http, upload, root } = harness;
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise((done) => http.close(done));
    }
    await upload?.close();
    await rm(root, { recursive: true, force: true });
    harness.http = undefined as unknown as Server;
    harness.upload = undefined as unknown as UploadServer;
  });
  return harness;
}
