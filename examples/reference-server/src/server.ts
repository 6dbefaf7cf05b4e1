import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { routeModules } from "./api/index.js";
import { openApiRoutes } from "./api/openapi.js";
import { type PackageInfo, readPackages } from "./health.js";
import { HttpError, sendJson } from "./http.js";
import type { Platform } from "./platform.js";
import { type AppContext, createLimiters, createRouter, type Router } from "./routes.js";

export interface ReferenceServer {
  server: Server;
  router: Router;
  /** Resolves with the bound address once listening (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ url: string }>;
  close(): Promise<void>;
}

export function createReferenceServer(
  options: {
    platform?: Platform;
    packages?: PackageInfo[];
    /** Rate limits; default: the platform's (shared through Redis in scaled mode), else in-process buckets. */
    limiter?: AppContext["limiter"];
  } = {},
): ReferenceServer {
  const app: AppContext = {
    platform: options.platform,
    startedAt: Date.now(),
    packages: options.packages ?? readPackages(),
    limiter: options.limiter ?? options.platform?.limiter ?? createLimiters(),
  };
  const router: Router = createRouter(app, [...routeModules, openApiRoutes(() => router.routes)]);
  const metrics = options.platform?.metrics;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { error: "invalid request target" });
      return;
    }
    void router.dispatch(req, res, url).then(
      (name) => metrics?.inc("reelkit_http_requests_total", { route: name, status: String(res.statusCode) }),
      (error: unknown) => {
        const http = error instanceof HttpError ? error : new HttpError(500, "internal error");
        if (http.status === 500) console.error(error);
        metrics?.inc("reelkit_http_requests_total", { route: "error", status: String(http.status) });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        sendJson(res, http.status, { error: http.message }, http.headers);
      },
    );
  };

  const server = createServer(handle);
  return {
    server,
    router,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          const boundPort = typeof address === "object" && address !== null ? address.port : port;
          resolve({ url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}` });
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
