// HTTP load on the reference server, in embedded and in scaled mode, with autocannon, next to a
// bare `node:http` server answering the same bytes: the practical limit of one Node process on
// this machine.
//
//   npm run bench -- reference-server
//   LOAD_BENCH_MODES=embedded npm run bench -- reference-server   one mode (default embedded,scaled)
//   LOAD_BENCH_SECONDS=5 npm run bench -- reference-server     shorter runs (default 10 s each)
//   LOAD_BENCH_VIDEOS=2000 npm run bench -- reference-server   catalog size (default 500)
//
// Other knobs: LOAD_BENCH_RATE (the /feed rate, default 500 req/s), LOAD_BENCH_CONNECTIONS (for
// /feed, default 10), LOAD_BENCH_EVENTS_CONNECTIONS (default 8), LOAD_BENCH_BATCH (events per
// request, default 50), LOAD_BENCH_DIR (where DATA_DIR goes, default os.tmpdir()),
// LOAD_BENCH_CPU_PROF (a folder: the embedded server runs with --cpu-prof and writes its profile there).
//
// Scaled mode needs the engines (.reelkit/services.env, or REDIS_URL & co.): the API, a transcoder
// and the engagement aggregator run as processes of their own (src/__tests__/scaled-harness.ts)
// with a Redis prefix, Kafka topics and a Cassandra keyspace of this run, all removed afterwards.
// When the engines do not answer, scaled mode is skipped with a message; the run then exits 1 only
// if LOAD_BENCH_MODES named scaled. /events there answers once Kafka acknowledged the batch; after
// the run the benchmark waits (bounded) until the aggregator applied every accepted event.
//
// Each mode's server is src/main.ts in its own process (the load generator must not share its event
// loop), on a fresh DATA_DIR on disk (embedded: the engagement journal fdatasyncs every batch, so the disk
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
// last stdout line is the JSON scripts/bench.mjs reads, each name starting with the mode. Figures
// only: no threshold fails the run. The peer runs once, in the first mode.
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
import {
  createScaledHarness,
  enginesDown,
  type ScaledHarness,
  serverFreeEnv,
} from "../src/__tests__/scaled-harness.js";
import { createTokens, demoUsers } from "../src/auth.js";
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

type Mode = "embedded" | "scaled";

interface ModeResults {
  mode: Mode;
  feedAnonymous: Measured;
  feedRanked: Measured;
  events: Measured;
  /** What the server's counter says it accepted during the /events run, against the 202s. */
  accounted: string;
  /** Scaled mode: how the aggregator kept up (every accepted event applied, and how long it took). */
  aggregated?: string;
}

/** LOAD_BENCH_MODES (`embedded,scaled`, the default both), and whether scaled was asked for by name. */
function modesOf(value: string | undefined): { modes: Mode[]; scaledRequested: boolean } {
  if (value === undefined || value.trim() === "") return { modes: ["embedded", "scaled"], scaledRequested: false };
  const modes = [...new Set(value.split(",").map((m) => m.trim()))];
  for (const m of modes)
    if (m !== "embedded" && m !== "scaled") throw new Error(`LOAD_BENCH_MODES: unknown mode ${m} (embedded, scaled)`);
  if (modes.length === 0) throw new Error("LOAD_BENCH_MODES names no mode");
  return { modes: modes as Mode[], scaledRequested: modes.includes("scaled") };
}

async function parent() {
  const seconds = int("LOAD_BENCH_SECONDS", 10);
  const videos = int("LOAD_BENCH_VIDEOS", 500);
  const rate = int("LOAD_BENCH_RATE", 500);
  const feedConnections = int("LOAD_BENCH_CONNECTIONS", 10);
  const eventsConnections = int("LOAD_BENCH_EVENTS_CONNECTIONS", 8);
  const batch = int("LOAD_BENCH_BATCH", 50);
  const { modes: wanted, scaledRequested } = modesOf(process.env.LOAD_BENCH_MODES);
  const modes = [...wanted];
  let failed = false;
  if (modes.includes("scaled")) {
    const down = await enginesDown();
    if (down !== undefined) {
      log(
        `scaled mode SKIPPED: its engines do not answer (${down}); start them with ` +
          "`node scripts/services.mjs up redis kafka cassandra`" +
          (scaledRequested ? " (LOAD_BENCH_MODES asked for scaled: this run exits 1)" : ""),
      );
      modes.splice(modes.indexOf("scaled"), 1);
      failed = scaledRequested;
    }
  }
  if (modes.length === 0) {
    process.exitCode = 1;
    return;
  }
  const secret = randomBytes(32).toString("base64url");
  const tokens = createTokens(secret);
  const root = await mkdtemp(join(process.env.LOAD_BENCH_DIR ?? tmpdir(), "reelkit-load-"));
  let peerServer: Child | undefined;
  let feedPeer: Measured | undefined;
  let eventsPeer: Measured | undefined;
  const measured: ModeResults[] = [];
  const paced = { connections: feedConnections, overallRate: rate, ignoreCoordinatedOmission: true };
  try {
    for (const mode of modes) {
      log(`\n== ${mode} mode ==`);
      const dataDir = join(root, mode, "data");
      const ids = await seed(dataDir, videos);
      const started = performance.now();
      let server: Child | undefined;
      let harness: ScaledHarness | undefined;
      try {
        const env = { TOKEN_SECRET: secret, EVENTS_PER_MINUTE: "100000000" };
        let url: string;
        if (mode === "embedded") {
          const profile = process.env.LOAD_BENCH_CPU_PROF;
          server = await startChild(
            fileURLToPath(new URL("../src/main.ts", import.meta.url)),
            [],
            { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ...env },
            profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`],
          );
          url = server.url;
        } else {
          // The API, a transcoder and the aggregator, with a Redis prefix, topics and a keyspace of this run.
          harness = createScaledHarness({ dataDir, prefix: "reelkit-bench", env, keepLines: 200 });
          url = await harness.startAll(120_000);
        }
        log(`${mode} server up at ${url} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        if (peerServer === undefined) {
          const firstPage = Buffer.from(await (await fetch(`${url}/feed`)).arrayBuffer());
          const feedFile = join(root, "feed.json");
          await writeFile(feedFile, firstPage);
          peerServer = await startChild(fileURLToPath(import.meta.url), ["peer", feedFile], {});
          log(`peer up at ${peerServer.url}; a feed page is ${firstPage.length} bytes`);
        }
        const peerUrl = peerServer.url;
        const measurePeer = feedPeer === undefined;

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
        const warmUps: Array<readonly [string, AutocannonRequest[]]> = [
          [url, [anonymous]],
          [url, [signedIn]],
        ];
        if (measurePeer) warmUps.push([peerUrl, [{}]]);
        for (const [target, requests] of warmUps)
          await autocannon({ url: `${target}/feed`, duration: 2, connections: 4, requests }); // warm-up
        const feedAnonymous = await load(`${mode}: GET /feed anonymous @ ${rate}/s`, {
          url,
          duration: seconds,
          ...paced,
          requests: [anonymous],
        });
        const feedRanked = await load(`${mode}: GET /feed signed in (ranked) @ ${rate}/s`, {
          url,
          duration: seconds,
          ...paced,
          requests: [signedIn],
        });
        if (measurePeer)
          feedPeer = await load(`peer: static page @ ${rate}/s`, {
            url: `${peerUrl}/feed`,
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
        for (const target of measurePeer ? [url, peerUrl] : [url])
          await autocannon({ url: target, duration: 2, connections: 4, requests: [events] }); // warm-up
        // Scaled mode: the aggregator's running total of applied events (its `events applied` log lines).
        let applied = 0;
        harness?.processes.get("aggregator")?.onLine((line) => {
          const total = /"message":"events applied".*"total":(\d+)/.exec(line)?.[1];
          if (total !== undefined) applied = Math.max(applied, Number(total));
        });
        const metricsBefore = await acceptedEvents(url);
        const eventsOurs = await load(`${mode}: POST /events × ${batch}`, {
          url,
          duration: seconds,
          connections: eventsConnections,
          requests: [events],
        });
        // Every 202 counted, plus requests still in flight when autocannon stopped (answered, not counted).
        const acceptedTotal = await acceptedEvents(url);
        const accepted = acceptedTotal - metricsBefore;
        const expected = eventsOurs.ok * batch;
        const inFlight = (accepted - expected) / batch;
        const accounted =
          `accepted ${accepted} events for ${eventsOurs.ok} × 202 × ${batch} = ${expected}` +
          (inFlight >= 0 && inFlight <= eventsConnections
            ? ` (+ ${inFlight} requests in flight at the stop: all accounted for)`
            : " (MISMATCH)");
        log(`${mode} server ${accounted}`);
        let aggregated: string | undefined;
        if (harness !== undefined) {
          // Every event the API acknowledged (warm-up included) goes through Kafka to the aggregator,
          // which applies it to Cassandra: wait (bounded) until it applied as many as the API accepted.
          const stopped = performance.now();
          const behind = applied;
          const deadline = stopped + 90_000;
          while (applied < acceptedTotal && performance.now() < deadline) await sleep(250);
          const drain = (performance.now() - stopped) / 1000;
          aggregated =
            applied >= acceptedTotal
              ? `the aggregator applied all ${acceptedTotal} accepted events (warm-up included) ${drain.toFixed(1)} s after the load stopped (it was ${acceptedTotal - behind} behind then)`
              : `the aggregator applied ${applied} of ${acceptedTotal} accepted events within ${drain.toFixed(0)} s (INCOMPLETE)`;
          log(aggregated);
        }
        if (measurePeer)
          eventsPeer = await load(`peer: JSON.parse + 202 × ${batch}`, {
            url: peerUrl,
            duration: seconds,
            connections: eventsConnections,
            requests: [events],
          });
        measured.push({
          mode,
          feedAnonymous,
          feedRanked,
          events: eventsOurs,
          accounted,
          ...(aggregated !== undefined && { aggregated }),
        });
      } finally {
        await stop(server);
        // Stops the three processes, then removes the topics, the group, the keyspace and the Redis keys.
        await harness?.cleanup().catch((error: unknown) => log(String(error)));
      }
    }
    if (feedPeer === undefined || eventsPeer === undefined) throw new Error("no mode ran");
    report({ measured, feedPeer, eventsPeer, rate, batch, videos, seconds, feedConnections, eventsConnections });
  } finally {
    await stop(peerServer);
    await rm(root, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

/** N published videos written straight into the database the server will open; their ids. */
async function seed(dataDir: string, videos: number): Promise<string[]> {
  const started = performance.now();
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
  return ids;
}

function report(r: {
  measured: ModeResults[];
  feedPeer: Measured;
  eventsPeer: Measured;
  rate: number;
  batch: number;
  videos: number;
  seconds: number;
  feedConnections: number;
  eventsConnections: number;
}) {
  const { measured, feedPeer, eventsPeer, rate, batch } = r;
  const eps = (m: Measured) => m.reqPerSecond * batch;
  const rows: string[][] = [
    ["", "req/s", "p50 ms", "p99 ms", "max ms", "not 2xx"],
    ...(
      [
        ...measured.flatMap(
          (m) =>
            [
              [`${m.mode}: GET /feed anonymous @ ${rate}/s`, m.feedAnonymous],
              [`${m.mode}: GET /feed signed in @ ${rate}/s`, m.feedRanked],
              [`${m.mode}: POST /events × ${batch}`, m.events],
            ] as const,
        ),
        [`peer: static page @ ${rate}/s`, feedPeer],
        [`peer: JSON.parse + 202 × ${batch}`, eventsPeer],
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
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  log(`\n${line(rows[0] ?? [])}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows.slice(1)) log(line(row));
  const goal = (ok: boolean) => (ok ? "met" : "NOT met");
  log(
    `\n${r.videos} videos, ${r.seconds} s per run, ${r.feedConnections} connections for /feed, ${r.eventsConnections} for /events`,
  );
  for (const m of measured) {
    log(
      `${m.mode}: goal /feed p99 < 50 ms at ${rate} req/s: anonymous ${m.feedAnonymous.p99.toFixed(1)} ms (${goal(m.feedAnonymous.p99 < 50 && m.feedAnonymous.reqPerSecond >= rate * 0.95)}), signed in ${m.feedRanked.p99.toFixed(1)} ms (${goal(m.feedRanked.p99 < 50 && m.feedRanked.reqPerSecond >= rate * 0.95)})`,
    );
    log(
      `${m.mode}: goal /events ≥ 10,000 events/s: ${eps(m.events).toFixed(0)} events/s (${goal(eps(m.events) >= 10_000)}); the bare peer reaches ${eps(eventsPeer).toFixed(0)}`,
    );
    log(`${m.mode}: the server ${m.accounted}`);
    if (m.aggregated !== undefined) log(`${m.mode}: ${m.aggregated}`);
  }

  const feedPeerName = "bare node:http, same page";
  const eventsPeerName = "bare node:http, JSON.parse + 202";
  const results = measured.flatMap(({ mode, feedAnonymous, feedRanked, events }) => [
    {
      name: `${mode}: GET /feed anonymous @ ${rate} req/s, p99`,
      unit: "ms",
      ours: feedAnonymous.p99,
      peer: feedPeerName,
      peerValue: feedPeer.p99,
    },
    {
      name: `${mode}: GET /feed anonymous @ ${rate} req/s, p50`,
      unit: "ms",
      ours: feedAnonymous.p50,
      peer: feedPeerName,
      peerValue: feedPeer.p50,
    },
    {
      name: `${mode}: GET /feed signed in (ranked) @ ${rate} req/s, p99`,
      unit: "ms",
      ours: feedRanked.p99,
      peer: feedPeerName,
      peerValue: feedPeer.p99,
    },
    {
      name: `${mode}: GET /feed signed in (ranked) @ ${rate} req/s, p50`,
      unit: "ms",
      ours: feedRanked.p50,
      peer: feedPeerName,
      peerValue: feedPeer.p50,
    },
    {
      name: `${mode}: GET /feed anonymous, achieved of ${rate} req/s`,
      unit: "req/s",
      ours: feedAnonymous.reqPerSecond,
      peer: feedPeerName,
      peerValue: feedPeer.reqPerSecond,
    },
    {
      name: `${mode}: GET /feed signed in, achieved of ${rate} req/s`,
      unit: "req/s",
      ours: feedRanked.reqPerSecond,
      peer: feedPeerName,
      peerValue: feedPeer.reqPerSecond,
    },
    {
      name: `${mode}: POST /events, ${batch} per request, max`,
      unit: "events/s",
      ours: eps(events),
      peer: eventsPeerName,
      peerValue: eps(eventsPeer),
    },
    {
      name: `${mode}: POST /events at max, requests`,
      unit: "req/s",
      ours: events.reqPerSecond,
      peer: eventsPeerName,
      peerValue: eventsPeer.reqPerSecond,
    },
    {
      name: `${mode}: POST /events at max, p50`,
      unit: "ms",
      ours: events.p50,
      peer: eventsPeerName,
      peerValue: eventsPeer.p50,
    },
    {
      name: `${mode}: POST /events at max, p99`,
      unit: "ms",
      ours: events.p99,
      peer: eventsPeerName,
      peerValue: eventsPeer.p99,
    },
  ]);
  console.log(JSON.stringify({ results }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
