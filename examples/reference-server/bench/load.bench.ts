// HTTP load on the reference server (embedded mode) with autocannon, next to a bare `node:http`
// server answering the same bytes: the practical limit of one Node process on this machine.
//
//   npm run bench -- reference-server
//   LOAD_BENCH_SECONDS=5 npm run bench -- reference-server     shorter runs (default 10 s each)
//   LOAD_BENCH_VIDEOS=2000 npm run bench -- reference-server   catalog size (default 500)
//
// Other knobs: LOAD_BENCH_RATE (the /feed rate, default 500 req/s), LOAD_BENCH_CONNECTIONS (for
// /feed, default 10), LOAD_BENCH_EVENTS_CONNECTIONS (default 8), LOAD_BENCH_BATCH (events per
// request, default 50), LOAD_BENCH_DIR (where DATA_DIR goes, default os.tmpdir()),
// LOAD_BENCH_CPU_PROF (a folder: the server runs with --cpu-prof and writes its profile there).
//
// The server is src/main.ts in its own process (the load generator must not share its event
// loop), on a fresh DATA_DIR on disk (the engagement journal fdatasyncs every batch, so the disk
// is part of what /events measures). N published videos are written straight into the database
// before it starts (no transcodes: /feed reads only the database and the ranker's catalog). The
// peer is this file in a second process (role `peer`): GET answers a real anonymous /feed page of
// ours, byte for byte; POST /events reads the body, JSON.parses it and answers 202.
//
// 1. GET /feed at a fixed LOAD_BENCH_RATE for LOAD_BENCH_SECONDS: anonymous (newest first, the
//    first five pages through signed cursors) and signed in (@reelkit/feed-ranker, 100 synthetic
//    viewers, tokens minted with the server's TOKEN_SECRET). Achieved req/s, p50, p99.
// 2. POST /events, LOAD_BENCH_BATCH events per request (unique ids per request, through
//    autocannon's setupRequest; anonymous sessions), as fast as it goes. Events/s, p50, p99.
//    The server runs with EVENTS_PER_MINUTE raised so its per-address limit does not answer 429.
//
// How autocannon paces a fixed rate: each connection sends its share of the rate back to back at
// the start of every second, then waits — so latencies include queueing behind those bursts. Its
// coordinated-omission correction assumes a 1 ms send interval (ceil(1 / rate)) and would pad every
// slow answer with one synthetic sample per millisecond, so it is off: the latencies are the
// measured ones, and an achieved rate below the target shows when sends were held back.
// Goals: /feed p99 < 50 ms at 500 req/s; /events ≥ 10,000 events/s. A table goes to stderr; the
// last stdout line is the JSON scripts/bench.mjs reads. Figures only: no threshold fails the run.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon, { type AutocannonOptions, type AutocannonRequest, type AutocannonResult } from "autocannon";
import { repoRoot } from "../../../test/run.js";
import { createTokens, demoUsers } from "../src/auth.js";
import { configSchema } from "../src/config.js";
import { openDatabase } from "../src/db.js";

const log = (line: string) => process.stderr.write(`${line}\n`);
const int = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

// ---------------------------------------------------------------------------------------------
// Peer: a bare node:http server, the practical limit.

async function peer(feedFile: string) {
  const page = await readFile(feedFile);
  const server = createServer((req, res) => {
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const events = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown[];
        const body = JSON.stringify({ accepted: events.length, duplicates: 0, rejected: [] });
        res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": page.length });
    res.end(page);
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ message: "listening", url: `http://127.0.0.1:${port}` })}\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Parent: seed, start both servers, drive them.

interface Child {
  process: ChildProcess;
  url: string;
}

/** This environment without the server's variables (REDIS_URL & co. would start scaled mode). */
function serverFreeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(configSchema.shape)) delete env[name];
  return env;
}

/** Runs a TypeScript entry from source in its own process; resolves once it logs `listening`. */
async function startChild(entry: string, args: string[], env: NodeJS.ProcessEnv, node: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...node, "--import", "tsx", "--conditions=@reelkit/source", entry, ...args], {
    cwd: repoRoot,
    env: { ...serverFreeEnv(), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within 90 s`)), 90_000);
    child.once("exit", (code) => reject(new Error(`${entry} exited (${code}) before listening`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { message?: string; url?: string };
        if (entry.message === "listening" && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {} // not a log line
    });
  });
  return { process: child, url };
}

async function stop(child: Child | undefined) {
  if (child === undefined || child.process.exitCode !== null) return;
  const exited = new Promise((resolve) => child.process.once("exit", resolve));
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

interface Measured {
  reqPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  ok: number;
  bad: number;
}

/** The q-th percentile of ascending `sorted`. */
const percentile = (sorted: readonly number[], q: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)] ?? 0);

async function load(label: string, options: AutocannonOptions): Promise<Measured> {
  // Latencies of 2xx answers from autocannon's per-response event: its histograms keep whole ms.
  const samples: number[] = [];
  const run = autocannon({ timeout: 10, ...options });
  run.on("response", (_client, status, _bytes, ms) => {
    if (Number(status) >= 200 && Number(status) < 300) samples.push(ms);
  });
  const result: AutocannonResult = await run;
  samples.sort((a, b) => a - b);
  const bad = result.non2xx + result.errors + result.timeouts;
  const measured = {
    reqPerSecond: result["2xx"] / result.duration,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    ok: result["2xx"],
    bad,
  };
  const problems =
    bad > 0
      ? `, ${bad} NOT 2xx: ${JSON.stringify(result.statusCodeStats)}, ${result.errors} errors, ${result.timeouts} timeouts`
      : "";
  log(
    `${label}: ${measured.reqPerSecond.toFixed(0)} req/s, p50 ${measured.p50.toFixed(2)} ms, ` +
      `p99 ${measured.p99.toFixed(2)} ms, max ${measured.max.toFixed(1)} ms (${measured.ok} × 2xx${problems})`,
  );
  return measured;
}

async function parent() {
  const seconds = int("LOAD_BENCH_SECONDS", 10);
  const videos = int("LOAD_BENCH_VIDEOS", 500);
  const rate = int("LOAD_BENCH_RATE", 500);
  const feedConnections = int("LOAD_BENCH_CONNECTIONS", 10);
  const eventsConnections = int("LOAD_BENCH_EVENTS_CONNECTIONS", 8);
  const batch = int("LOAD_BENCH_BATCH", 50);
  const secret = randomBytes(32).toString("base64url");
  const tokens = createTokens(secret);
  const root = await mkdtemp(join(process.env.LOAD_BENCH_DIR ?? tmpdir(), "reelkit-load-"));
  const dataDir = join(root, "data");
  let server: Child | undefined;
  let peerServer: Child | undefined;
  try {
    // Seed: published videos straight into the database the server will open.
    let started = performance.now();
    await mkdir(dataDir, { recursive: true });
    const db = await openDatabase(join(dataDir, "db"));
    for (const user of demoUsers) await db.upsertUser(user);
    const creators = demoUsers.filter((u) => u.role === "creator");
    const ids = Array.from({ length: videos }, () => randomBytes(16).toString("base64url"));
    const now = Date.now();
    // One statement (a row at a time through createVideo/setStatus takes ~10 s on a busy machine).
    await db.sql.query(
      `insert into videos (id, owner_id, title, status, duration_ms, created_at, published_at)
       select id, owner_id, title, 'published', 15000, at, at
       from unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) as v(id, owner_id, title, at)`,
      [
        ids,
        ids.map((_, i) => creators[i % creators.length]?.id ?? "u-creator"),
        ids.map((_, i) => `Benchmark clip ${i}`),
        ids.map((_, i) => now - i * 60_000),
      ],
    );
    const stored = (await db.published(videos + 1, 0)).length;
    if (stored !== videos) throw new Error(`seeded ${stored} published videos, not ${videos}`);
    await db.close();
    log(`seeded ${videos} published videos in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    started = performance.now();
    const profile = process.env.LOAD_BENCH_CPU_PROF;
    server = await startChild(
      fileURLToPath(new URL("../src/main.ts", import.meta.url)),
      [],
      {
        PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        TOKEN_SECRET: secret,
        EVENTS_PER_MINUTE: "100000000",
      },
      profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`],
    );
    log(`server up at ${server.url} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const firstPage = Buffer.from(await (await fetch(`${server.url}/feed`)).arrayBuffer());
    const feedFile = join(root, "feed.json");
    await writeFile(feedFile, firstPage);
    peerServer = await startChild(fileURLToPath(import.meta.url), ["peer", feedFile], {});
    log(`peer up at ${peerServer.url}; a feed page is ${firstPage.length} bytes`);

    // 1. GET /feed at a fixed rate.
    const cursors = [undefined, 10, 20, 30, 40].map((offset) =>
      offset === undefined
        ? "/feed"
        : `/feed?cursor=${encodeURIComponent(`${offset}.${tokens.sign(`feed:${offset}`)}`)}`,
    );
    let nextPage = 0;
    const anonymous: AutocannonRequest = {
      setupRequest: (request) => ({ ...request, path: cursors[nextPage++ % cursors.length] ?? "/feed" }),
    };
    const viewers = Array.from({ length: 100 }, (_, i) =>
      tokens.issue({ id: `u-bench-${i}`, name: `Bench viewer ${i}`, role: "viewer" }),
    );
    let nextViewer = 0;
    const signedIn: AutocannonRequest = {
      setupRequest: (request) => ({
        ...request,
        path: "/feed",
        headers: { ...request.headers, authorization: `Bearer ${viewers[nextViewer++ % viewers.length]}` },
      }),
    };
    const paced = { connections: feedConnections, overallRate: rate, ignoreCoordinatedOmission: true };
    for (const [url, requests] of [
      [server.url, [anonymous]],
      [server.url, [signedIn]],
      [peerServer.url, [{}]],
    ] as const satisfies ReadonlyArray<readonly [string, readonly AutocannonRequest[]]>)
      await autocannon({ url: `${url}/feed`, duration: 2, connections: 4, requests: [...requests] }); // warm-up
    const feedAnonymous = await load(`GET /feed anonymous @ ${rate}/s`, {
      url: server.url,
      duration: seconds,
      ...paced,
      requests: [anonymous],
    });
    const feedRanked = await load(`GET /feed signed in (ranked) @ ${rate}/s`, {
      url: server.url,
      duration: seconds,
      ...paced,
      requests: [signedIn],
    });
    const feedPeer = await load(`peer: static page @ ${rate}/s`, {
      url: `${peerServer.url}/feed`,
      duration: seconds,
      ...paced,
    });

    // 2. POST /events, as fast as it goes.
    const run = randomUUID().slice(0, 8);
    let sent = 0;
    const types = ["impression", "view", "watch", "complete", "skip"] as const;
    const events: AutocannonRequest = {
      method: "POST",
      path: "/events",
      headers: { "content-type": "application/json" },
      setupRequest: (request) => {
        const n = sent++;
        const sessionId = `bench-${run}-${n}`;
        const ts = Date.now();
        const body = Array.from({ length: batch }, (_, j) => {
          const type = types[j % types.length] as string;
          return {
            id: `${sessionId}-${j}`,
            type,
            videoId: ids[(n * batch + j) % ids.length],
            sessionId,
            ts,
            ...(type === "watch" || type === "complete" || type === "skip" ? { watchMs: 1000 } : {}),
          };
        });
        return { ...request, body: JSON.stringify(body) };
      },
    };
    for (const url of [server.url, peerServer.url])
      await autocannon({ url, duration: 2, connections: 4, requests: [events] }); // warm-up
    const metricsBefore = await acceptedEvents(server.url);
    const eventsOurs = await load(`POST /events × ${batch}`, {
      url: server.url,
      duration: seconds,
      connections: eventsConnections,
      requests: [events],
    });
    // Every 202 counted, plus requests still in flight when autocannon stopped (answered, not counted).
    const accepted = (await acceptedEvents(server.url)) - metricsBefore;
    const expected = eventsOurs.ok * batch;
    const inFlight = (accepted - expected) / batch;
    log(
      `server accepted ${accepted} events for ${eventsOurs.ok} × 202 × ${batch} = ${expected}` +
        (inFlight >= 0 && inFlight <= eventsConnections
          ? ` (+ ${inFlight} requests in flight at the stop: all accounted for)`
          : " (MISMATCH)"),
    );
    const eventsPeer = await load(`peer: JSON.parse + 202 × ${batch}`, {
      url: peerServer.url,
      duration: seconds,
      connections: eventsConnections,
      requests: [events],
    });

    // Report.
    const eps = (m: Measured) => m.reqPerSecond * batch;
    const rows: string[][] = [
      ["", "req/s", "p50 ms", "p99 ms", "max ms", "not 2xx"],
      ...(
        [
          [`GET /feed anonymous @ ${rate}/s`, feedAnonymous],
          [`GET /feed signed in @ ${rate}/s`, feedRanked],
          [`peer static page @ ${rate}/s`, feedPeer],
          [`POST /events × ${batch}`, eventsOurs],
          [`peer JSON.parse + 202 × ${batch}`, eventsPeer],
        ] as const
      ).map(([name, m]) => [
        name,
        m.reqPerSecond.toFixed(0),
        m.p50.toFixed(2),
        m.p99.toFixed(2),
        m.max.toFixed(0),
        String(m.bad),
      ]),
    ];
    const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
    log(`\n${line(rows[0] ?? [])}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
    for (const row of rows.slice(1)) log(line(row));
    const goal = (ok: boolean) => (ok ? "met" : "NOT met");
    log(
      `\n${videos} videos, ${seconds} s per run, ${feedConnections} connections for /feed, ${eventsConnections} for /events`,
    );
    log(
      `goal /feed p99 < 50 ms at ${rate} req/s: anonymous ${feedAnonymous.p99.toFixed(1)} ms (${goal(feedAnonymous.p99 < 50 && feedAnonymous.reqPerSecond >= rate * 0.95)}), signed in ${feedRanked.p99.toFixed(1)} ms (${goal(feedRanked.p99 < 50 && feedRanked.reqPerSecond >= rate * 0.95)})`,
    );
    log(
      `goal /events ≥ 10,000 events/s: ${eps(eventsOurs).toFixed(0)} events/s (${goal(eps(eventsOurs) >= 10_000)}); the bare peer reaches ${eps(eventsPeer).toFixed(0)}`,
    );

    const results = [
      {
        name: `GET /feed anonymous @ ${rate} req/s, p99`,
        unit: "ms",
        ours: feedAnonymous.p99,
        peer: "bare node:http, same page",
        peerValue: feedPeer.p99,
      },
      {
        name: `GET /feed anonymous @ ${rate} req/s, p50`,
        unit: "ms",
        ours: feedAnonymous.p50,
        peer: "bare node:http, same page",
        peerValue: feedPeer.p50,
      },
      {
        name: `GET /feed signed in (ranked) @ ${rate} req/s, p99`,
        unit: "ms",
        ours: feedRanked.p99,
        peer: "bare node:http, same page",
        peerValue: feedPeer.p99,
      },
      {
        name: `GET /feed signed in (ranked) @ ${rate} req/s, p50`,
        unit: "ms",
        ours: feedRanked.p50,
        peer: "bare node:http, same page",
        peerValue: feedPeer.p50,
      },
      {
        name: `GET /feed anonymous, achieved of ${rate} req/s`,
        unit: "req/s",
        ours: feedAnonymous.reqPerSecond,
        peer: "bare node:http, same page",
        peerValue: feedPeer.reqPerSecond,
      },
      {
        name: `GET /feed signed in, achieved of ${rate} req/s`,
        unit: "req/s",
        ours: feedRanked.reqPerSecond,
        peer: "bare node:http, same page",
        peerValue: feedPeer.reqPerSecond,
      },
      {
        name: `POST /events, ${batch} per request, max`,
        unit: "events/s",
        ours: eps(eventsOurs),
        peer: "bare node:http, JSON.parse + 202",
        peerValue: eps(eventsPeer),
      },
      {
        name: "POST /events at max, p50",
        unit: "ms",
        ours: eventsOurs.p50,
        peer: "bare node:http, JSON.parse + 202",
        peerValue: eventsPeer.p50,
      },
      {
        name: "POST /events at max, p99",
        unit: "ms",
        ours: eventsOurs.p99,
        peer: "bare node:http, JSON.parse + 202",
        peerValue: eventsPeer.p99,
      },
    ];
    console.log(JSON.stringify({ results }));
  } finally {
    await stop(server);
    await stop(peerServer);
    await rm(root, { recursive: true, force: true });
  }
}

/** The server's reelkit_events_accepted_total (its /metrics). */
async function acceptedEvents(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = /^reelkit_events_accepted_total(?:\{\})? (\d+)/m.exec(text)?.[1];
  return Number(value ?? 0);
}

const [role, feedFile] = process.argv.slice(2);
if (role === "peer" && feedFile !== undefined) await peer(feedFile);
else if (role !== undefined) throw new Error(`unknown role ${role}`);
else await parent();
