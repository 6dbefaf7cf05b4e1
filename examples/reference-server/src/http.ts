// Small HTTP helpers: JSON answers, zod-validated bodies and queries, and errors with a status.
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";

/** An error answered as `{ error }` with its status (and extra headers). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The request body parsed as JSON and validated: 413 past `maxBytes`, 400 with the reason otherwise. */
export async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>, maxBytes = 1024 * 1024): Promise<T> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type) && !/^text\/plain\b/i.test(type))
    throw new HttpError(415, "send application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
  return parseOr400(schema, parsed, "body");
}

export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new HttpError(400, `invalid ${what}: ${z.prettifyError(result.error).replaceAll("\n", "; ")}`);
  return result.data;
}

/** Query parameters as a plain object (the last value wins). */
export function queryOf(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}
