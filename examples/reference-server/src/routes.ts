// The HTTP API as data: every route declares its method, path, access rule and zod schemas, and the
// router validates against those same schemas before a handler runs. The OpenAPI document
// (`GET /openapi.json`) is generated from this table, so it cannot drift from what is enforced.
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { Role, User } from "./auth.js";
import type { PackageInfo } from "./health.js";
import { HttpError, parseOr400, queryOf, readJson } from "./http.js";
import type { Platform } from "./platform.js";

export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/**
 * Who may call a route: `public` (no token read), `optional` (a token is read when sent: a forged
 * one is still 401), or the least role required (401 without a token, 403 below the role).
 */
export type Access = "public" | "optional" | Role;

export interface RouteContext<Q = unknown, B = unknown, P = Record<string, string>> {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters (`{id}` in the path), validated by `params` when given. */
  params: P;
  query: Q;
  body: B;
  /** The signed-in user (always set when `access` is a role). */
  user: User | undefined;
  /** The running platform (503 before the handler runs when there is none and `platform` is not false). */
  platform: Platform;
  app: AppContext;
}

export interface ResponseSpec {
  description: string;
  /** JSON body schema; omit for non-JSON answers. */
  schema?: z.ZodType;
  /** Content type when not JSON (e.g. text/html). */
  type?: string;
}

export interface Route<Q = unknown, B = unknown, P = Record<string, string>> {
  method: Method | readonly Method[];
  /** OpenAPI-style path: `/videos/{id}`; a trailing `{rest*}` matches the remainder, slashes included. */
  path: string;
  summary: string;
  /** OpenAPI tag (the area of the API). */
  tag: string;
  access?: Access;
  params?: z.ZodType<P>;
  /** Query schema (every value arrives as a string; use z.coerce). Unknown parameters: use strictObject to reject. */
  query?: z.ZodType<Q>;
  /** JSON body schema; the router reads and validates the body (415/413/400) before the handler. */
  body?: z.ZodType<B>;
  bodyLimit?: number;
  responses?: Record<number, ResponseSpec>;
  /**
   * Runs after the access check and before the body is read (e.g. a rate limit, so a refused
   * client costs no parsing). Throw an HttpError to answer.
   */
  beforeBody?(ctx: { req: IncomingMessage; user: User | undefined; platform: Platform }): Promise<void> | void;
  /** Set false for routes that work without a platform (health pages). */
  platform?: boolean;
  /** Left out of the OpenAPI document (static assets). */
  hidden?: boolean;
  handler(ctx: RouteContext<Q, B, P>): Promise<void> | void;
}

/** Identity, for type inference of a route's schemas in its handler. */
export function route<Q = Record<string, never>, B = undefined, P = Record<string, string>>(
  r: Route<Q, B, P>,
): Route<Q, B, P> {
  return r;
}

/** A route of the table, whatever its schemas (each is type-checked where it is defined). */
// biome-ignore lint/suspicious/noExplicitAny: the table holds routes with different schemas
export type AnyRoute = Route<any, any, any>;

/** Server-wide state routes share. */
export interface AppContext {
  platform: Platform | undefined;
  startedAt: number;
  packages: PackageInfo[];
  /**
   * A token bucket per key, `perMinute` requests refilled continuously; resolves false when empty.
   * In-process by default; scaled mode replaces it with one shared through Redis.
   */
  limiter(name: string, perMinute: number): (key: string) => Promise<boolean>;
}

/** Route modules contribute their routes from the shared app context. */
export type RouteModule = (app: AppContext) => AnyRoute[];

interface Compiled {
  route: AnyRoute;
  methods: readonly Method[];
  pattern: RegExp;
  names: string[];
}

export function compilePath(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split(/(\{[A-Za-z]+\*?\})/)
    .map((part) => {
      const param = /^\{([A-Za-z]+)(\*?)\}$/.exec(part);
      if (param === null) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(param[1] as string);
      return param[2] === "*" ? "(.*)" : "([^/]+)";
    })
    .join("");
  return { pattern: new RegExp(`^${source}$`), names };
}

export interface Router {
  routes: readonly AnyRoute[];
  /** Runs the matching route; answers with the route's path for metrics. 404/405 as HttpError. */
  dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string>;
}

export function createRouter(app: AppContext, modules: readonly RouteModule[]): Router {
  const routes = modules.flatMap((module) => module(app));
  const compiled: Compiled[] = routes.map((route) => ({
    route,
    methods: typeof route.method === "string" ? [route.method] : route.method,
    ...compilePath(route.path),
  }));
  return {
    routes,
    async dispatch(req, res, url) {
      const method = (req.method ?? "GET").toUpperCase() as Method;
      const allowed = new Set<string>();
      for (const { route, methods, pattern, names } of compiled) {
        const match = pattern.exec(url.pathname);
        if (match === null) continue;
        if (!methods.includes(method)) {
          for (const m of methods) allowed.add(m);
          continue;
        }
        const raw: Record<string, string> = {};
        names.forEach((name, i) => {
          let value = match[i + 1] ?? "";
          try {
            value = decodeURIComponent(value);
          } catch {
            throw new HttpError(400, `invalid path parameter ${name}`);
          }
          raw[name] = value;
        });
        if (route.platform !== false && app.platform === undefined)
          throw new HttpError(503, "the platform is not running");
        const platform = app.platform as Platform;
        const access = route.access ?? "public";
        const user =
          access === "public"
            ? undefined
            : access === "optional"
              ? platform.tokens.userOf(req)
              : platform.tokens.require(req, access);
        await route.beforeBody?.({ req, user, platform });
        const params = route.params ? parseOr400(route.params, raw, "path") : raw;
        const query = route.query ? parseOr400(route.query, queryOf(url), "query") : {};
        const body = route.body ? await readJson(req, route.body, route.bodyLimit) : undefined;
        await route.handler({ req, res, url, params, query, body, user, platform, app });
        return route.path;
      }
      if (allowed.size > 0) throw new HttpError(405, "method not allowed", { allow: [...allowed].join(", ") });
      throw new HttpError(404, `no route for ${url.pathname}`);
    },
  };
}

/** Token buckets per name and key. */
export function createLimiters(): AppContext["limiter"] {
  const all = new Map<string, (key: string) => boolean>();
  return (name, perMinute) => {
    const existing = all.get(name);
    if (existing !== undefined) return async (key) => existing(key);
    const buckets = new Map<string, { tokens: number; at: number }>();
    const allow = (key: string): boolean => {
      const now = Date.now();
      const bucket = buckets.get(key) ?? { tokens: perMinute, at: now };
      bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * perMinute);
      bucket.at = now;
      buckets.delete(key);
      buckets.set(key, bucket); // most recent last, so the oldest is evicted first
      if (buckets.size > 10_000) buckets.delete(buckets.keys().next().value ?? "");
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    };
    all.set(name, allow);
    return async (key) => allow(key);
  };
}

/** The error body every route answers with. */
export const errorSchema = z.object({ error: z.string() }).meta({ id: "Error" });
