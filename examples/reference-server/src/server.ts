import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { health, type PackageInfo, readPackages } from "./health.js";
import { healthPage } from "./pages.js";

export interface ReferenceServer {
  server: Server;
  /** Resolves with the bound address once listening (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ url: string }>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function createReferenceServer(options: { packages?: PackageInfo[] } = {}): ReferenceServer {
  const startedAt = Date.now();
  const packages = options.packages ?? readPackages();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "application/json", JSON.stringify({ error: "method not allowed" }));
    }
    switch (pathname) {
      case "/":
        return send(res, 200, "text/html; charset=utf-8", healthPage(health(packages, startedAt)));
      case "/healthz":
        return send(res, 200, "application/json", JSON.stringify(health(packages, startedAt)));
      default:
        return send(res, 404, "application/json", JSON.stringify({ error: `no route for ${pathname}` }));
    }
  };

  const server = createServer(handle);
  return {
    server,
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
