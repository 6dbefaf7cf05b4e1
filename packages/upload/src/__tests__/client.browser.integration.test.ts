// The client in a real browser (headless Chromium): the `@reelkit/upload/client` entry bundled for
// the browser platform (so a Node built-in anywhere in its graph fails the build), a parallel
// checksummed upload of a File, an abort, a page reload, and a resume found in localStorage.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUploadServer, type UploadServer } from "../server.js";

// As test/browser.ts (outside this package's TypeScript project): Debian's Chromium, no download.
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** The page globals used below (this project compiles without the DOM library). */
interface PageGlobals {
  document: { title: string };
  localStorage: { length: number; key(index: number): string | null };
  upload: typeof import("../client/index.js");
}

let root: string;
let http: Server;
let uploads: UploadServer;
let browser: Browser;
let base: string;
let bundle: string;

beforeAll(async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("../client/index.ts", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "esm",
    conditions: ["@reelkit/source"],
    write: false,
    logLevel: "silent",
  });
  bundle = result.outputFiles[0]?.text ?? "";
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-browser-"));
  uploads = createUploadServer({ dir: join(root, "store"), sniff: false });
  http = createServer((req, res) => {
    // Page, bundle and tus endpoint on one origin: no CORS needed.
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>upload</title><script type="module">
        import * as upload from "/client.js"; window.upload = upload; document.title = "ready";
      </script>`);
    } else if (req.url === "/client.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(bundle);
    } else {
      void uploads.handle(req, res);
    }
  });
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
});

afterAll(async () => {
  await browser?.close();
  http?.closeAllConnections();
  await new Promise((done) => (http ? http.close(done) : done(undefined)));
  await uploads?.close();
  await rm(root, { recursive: true, force: true });
});

async function open(page: Page) {
  await page.goto(`${base}/`);
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.title === "ready");
}

interface Outcome {
  code?: string;
  url?: string;
  resumedBytes?: number;
  parts?: number;
  sha256: string;
  storageKeys: string[];
  checksums: number;
}

/** In the page: the same deterministic 3 MB File each time; upload it, aborting once `abortAt` bytes are acknowledged. */
function run(page: Page, abortAt: number | null): Promise<Outcome> {
  return page.evaluate(
    async ({ endpoint, abortAt }) => {
      const size = 3_000_000;
      const data = new Uint8Array(size);
      let x = 2463534242;
      for (let i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        data[i] = x & 0xff;
      }
      const file = new File([data], "clip.mp4", { type: "video/mp4", lastModified: 1_700_000_000_000 });
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      const sha256 = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
      let checksums = 0;
      const counting: typeof fetch = (input, init) => {
        if ((init?.headers as Record<string, string> | undefined)?.["Upload-Checksum"]?.startsWith("sha256 "))
          checksums++;
        return fetch(input, init);
      };
      const page = globalThis as unknown as PageGlobals; // types only: this runs in the page
      const upload = page.upload;
      const client = upload.createUploadClient({ endpoint, parallel: 3, chunkSize: 64 * 1024, fetch: counting });
      const handle = client.upload(file, { metadata: { filename: file.name } });
      if (abortAt !== null)
        handle.on("progress", ({ bytesUploaded }) => {
          if (bytesUploaded >= abortAt) handle.abort();
        });
      const storageKeys = () => {
        const keys: string[] = [];
        for (let i = 0; i < page.localStorage.length; i++) keys.push(page.localStorage.key(i) ?? "");
        return keys.filter((k) => k.startsWith("reelkit-upload:"));
      };
      try {
        const result = await handle.done;
        return {
          url: result.url,
          resumedBytes: result.resumedBytes,
          parts: result.parts.length,
          sha256,
          storageKeys: storageKeys(),
          checksums,
        };
      } catch (error) {
        return {
          code: (error as { code?: string }).code ?? String(error),
          sha256,
          storageKeys: storageKeys(),
          checksums,
        };
      }
    },
    { endpoint: `${base}/files/`, abortAt },
  );
}

describe("upload client in Chromium", () => {
  it("uploads in parallel, is aborted, and resumes after a page reload from localStorage", async () => {
    const page = await browser.newPage();
    await open(page);
    const aborted = await run(page, 1_000_000);
    expect(aborted.code).toBe("ABORTED");
    expect(aborted.storageKeys).toHaveLength(1);
    expect(aborted.checksums).toBeGreaterThan(0);

    await page.reload();
    await open(page);
    const resumed = await run(page, null);
    expect(resumed.code).toBeUndefined();
    expect(resumed.parts).toBe(3);
    expect(resumed.resumedBytes).toBeGreaterThanOrEqual(1_000_000);
    expect(resumed.storageKeys).toEqual([]);
    const id = new URL(resumed.url ?? "").pathname.split("/").pop() ?? "";
    const stored = await readFile(join(root, "store", id));
    expect(stored.length).toBe(3_000_000);
    expect(createHash("sha256").update(stored).digest("hex")).toBe(resumed.sha256);
    await page.close();
  }, 60_000);
});
