#!/usr/bin/env node
// reelkit-upload serve --dir <dir> [--port 1080] [--host 127.0.0.1] [--max-size <bytes>] [--no-sniff]
//   Serves the tus server on http://<host>:<port>/files/ (no auth) and prints that URL on stdout.
//   SIGINT/SIGTERM stop it cleanly (in-flight requests get a grace period, then close()).
// reelkit-upload send <file> <endpoint> [--parallel n] [--chunk-size bytes] [--resume-file path]
//                     [--header "Name: value"]... [--json]
//   Uploads with a progress bar on a terminal, JSON lines on stderr otherwise, and prints the upload
//   URL on stdout. Re-running the same command resumes. On failure: `CODE: message` on stderr, exit 1.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { basename, isAbsolute, join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { createUploadClient, type UploadProgress } from "./client/index.js";
import { createFileFingerprintStore, fileSource } from "./client/node.js";
import { isUploadError, UploadErrorCode } from "./errors.js";
import { createUploadServer } from "./server.js";
import { parseWith } from "./validate.js";

const usage = `usage:
  reelkit-upload serve --dir <dir> [--port <port>] [--host <host>] [--max-size <bytes>] [--no-sniff]
  reelkit-upload send <file> <endpoint> [--parallel <n>] [--chunk-size <bytes>] [--resume-file <path>]
                      [--header "Name: value"]... [--json]

serve   tus 1.0 server on http://<host>:<port>/files/ storing in <dir> (default port 1080, host
        127.0.0.1, no auth). Only video containers are accepted unless --no-sniff.
send    upload <file> to the tus creation URL <endpoint>; prints the upload URL on stdout. Progress
        goes to stderr: a bar on a terminal, JSON lines otherwise (or with --json). Unfinished
        uploads are remembered in --resume-file (default $XDG_CACHE_HOME/reelkit/upload-fingerprints.json,
        else ~/.cache/reelkit/upload-fingerprints.json): re-running the same command resumes.`;

/** A decimal integer argument. */
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+$/, "expected a whole number").transform(Number).pipe(z.number().int().min(min).max(max));

const serveSchema = z.object({
  dir: z.string({ error: "--dir is required" }).min(1),
  port: integer(0, 65_535).default(1080),
  host: z.string().min(1).default("127.0.0.1"),
  maxSize: integer(1).optional(),
  sniff: z.boolean(),
});

const sendSchema = z.object({
  file: z.string().min(1),
  endpoint: z.string().min(1),
  parallel: integer(1, 64).default(1),
  chunkSize: integer(1, 2 ** 31 - 1).default(8 * 1024 * 1024),
  resumeFile: z.string().min(1).optional(),
  headers: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:.*$/, 'headers look like "Name: value"')).default([]),
  json: z.boolean(),
});

class UsageError extends Error {}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        dir: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "max-size": { type: "string" },
        "no-sniff": { type: "boolean", default: false },
        parallel: { type: "string" },
        "chunk-size": { type: "string" },
        "resume-file": { type: "string" },
        header: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Where `send` remembers unfinished uploads by default. */
function defaultResumeFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cache = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  return join(cache, "reelkit", "upload-fingerprints.json");
}

const MiB = 1024 * 1024;
function bar({ bytesUploaded, bytesTotal }: UploadProgress, width = 30): string {
  const ratio = bytesTotal === 0 ? 1 : bytesUploaded / bytesTotal;
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${(bytesUploaded / MiB).toFixed(1)}/${(bytesTotal / MiB).toFixed(1)} MiB`;
}

async function serve(values: ReturnType<typeof parse>["values"], positionals: string[]): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`serve takes no positional arguments: ${positionals.join(" ")}`);
  const options = parseWith(
    serveSchema,
    { dir: values.dir, port: values.port, host: values.host, maxSize: values["max-size"], sniff: !values["no-sniff"] },
    UploadErrorCode.INVALID_OPTIONS,
    "serve options",
  );
  const uploads = createUploadServer({
    dir: options.dir,
    sniff: options.sniff,
    ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}),
  });
  uploads.on("completed", ({ id, length, sha256 }) =>
    process.stderr.write(`${JSON.stringify({ event: "completed", id, length, sha256 })}\n`),
  );
  const http = createServer((req, res) => void uploads.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  process.stdout.write(`http://${host}:${port}/files/\n`);
  const sweeper = setInterval(() => void uploads.sweep().catch(() => {}), 60 * 60 * 1000);
  sweeper.unref();

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      // A second signal stops at once.
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  clearInterval(sweeper);
  const closing = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeIdleConnections();
  // In-flight PATCHes get a grace period; then their connections are cut (acknowledged bytes are durable).
  const grace = setTimeout(() => http.closeAllConnections(), 5000);
  await uploads.close();
  clearTimeout(grace);
  http.closeAllConnections();
  await closing;
  return 0;
}

async function send(values: ReturnType<typeof parse>["values"], positionals: string[]): Promise<number> {
  const [file, endpoint, ...extra] = positionals;
  if (file === undefined || endpoint === undefined || extra.length > 0)
    throw new UsageError("send expects a file and an endpoint");
  const options = parseWith(
    sendSchema,
    {
      file,
      endpoint,
      parallel: values.parallel,
      chunkSize: values["chunk-size"],
      resumeFile: values["resume-file"],
      headers: values.header,
      json: values.json,
    },
    UploadErrorCode.INVALID_OPTIONS,
    "send options",
  );
  const headers: Record<string, string> = {};
  for (const line of options.headers) {
    const at = line.indexOf(":");
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  const client = createUploadClient({
    endpoint: options.endpoint,
    parallel: options.parallel,
    chunkSize: options.chunkSize,
    headers,
    fingerprintStore: createFileFingerprintStore(options.resumeFile ?? defaultResumeFile()),
  });
  const source = await fileSource(options.file);
  const json = options.json || !process.stderr.isTTY;
  const line = (event: Record<string, unknown>) => process.stderr.write(`${JSON.stringify(event)}\n`);

  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));
  process.once("SIGTERM", () => controller.abort(new Error("terminated")));
  const handle = client.upload(source, { metadata: { filename: basename(options.file) }, signal: controller.signal });
  handle.on("start", ({ parts, resumedBytes, bytesTotal }) => {
    if (json) line({ event: "start", parts, resumedBytes, bytesTotal });
    else if (resumedBytes > 0)
      process.stderr.write(`resuming: ${(resumedBytes / MiB).toFixed(1)} MiB already uploaded\n`);
  });
  handle.on("progress", (progress) => {
    if (json) line({ event: "progress", ...progress });
    else process.stderr.write(`\r${bar(progress)}`);
  });
  handle.on("retry", ({ attempt, delayMs, error }) => {
    if (json) line({ event: "retry", attempt, delayMs, message: error.message });
    else process.stderr.write(`\nretry ${attempt} in ${delayMs} ms: ${error.message}\n`);
  });
  handle.on("warning", ({ message }) => {
    if (json) line({ event: "warning", message });
    else process.stderr.write(`\nwarning: ${message}\n`);
  });
  try {
    const result = await handle.done;
    if (json) line({ event: "done", url: result.url, size: result.size, resumedBytes: result.resumedBytes });
    process.stdout.write(`${result.url}\n`);
    return 0;
  } finally {
    if (!json) process.stderr.write("\n");
  }
}

async function main(): Promise<number> {
  try {
    const { values, positionals } = parse(process.argv.slice(2));
    const [command, ...rest] = positionals;
    if (values.help || command === "help") {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (command === "serve") return await serve(values, rest);
    if (command === "send") return await send(values, rest);
    throw new UsageError(command === undefined ? "missing command" : `unknown command ${command}`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`INVALID_OPTIONS: ${error.message}\n${usage}\n`);
      return 2;
    }
    if (isUploadError(error) && error.code === UploadErrorCode.INVALID_OPTIONS) {
      process.stderr.write(`${error.code}: ${error.message.replace(/^\[@reelkit\/upload\] /, "")}\n${usage}\n`);
      return 2;
    }
    const code = isUploadError(error)
      ? error.code
      : typeof (error as { code?: unknown }).code === "string"
        ? (error as { code: string }).code
        : "INTERNAL";
    const message = error instanceof Error ? error.message.replace(/^\[@reelkit\/upload\] /, "") : String(error);
    process.stderr.write(`${code}: ${message.replace(/\n+/g, " ")}\n`);
    return 1;
  }
}

process.exitCode = await main();
