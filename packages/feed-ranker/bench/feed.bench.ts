// Feed latency and memory on synthetic data. Prints progress on stderr and, as its last stdout
// line, {"results":[{name,unit,ours,peer,peerValue}]} (see scripts/bench.mjs).
//   npm run bench -- feed-ranker
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type AnnIndex, Catalog, createFeedRanker, type Scored } from "../src/index.js";
import { createRandom, gaussian } from "../src/random.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const log = (line: string) => process.stderr.write(`${line}\n`);
const p = (samples: number[], q: number) => {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((q / 100) * s.length) - 1)] as number;
};
// JS heap plus off-heap buffers (typed arrays live outside the heap).
const heapMiB = () => {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.external) / 2 ** 20;
};
const results: Array<{ name: string; unit: string; ours: number; peer: string; peerValue: number }> = [];
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);

// 1. Rank 2,000 candidates into a page of 20 (light scorer → heavy heads → diversity/exploration).
{
  const r = createRandom(1);
  const catalog = new Catalog();
  catalog.upsert(
    Array.from({ length: 2000 }, (_, i) => ({
      videoId: `v${i}`,
      creatorId: `c${i % 300}`,
      topics: [`t${i % 40}`],
      createdAt: NOW - Math.floor(r() * 7 * DAY),
    })),
  );
  const candidates: Scored[] = Array.from({ length: 2000 }, (_, i) => ({ videoId: `v${i}`, score: r() }));
  const make = (lightKeep: number) =>
    createFeedRanker({
      catalog,
      secret: "bench-secret-0123456789",
      now: () => NOW,
      lightKeep,
      sources: {
        following: { enabled: false },
        trending: { enabled: false },
        coEngagement: { enabled: false },
        embedding: { enabled: false },
        fresh: { enabled: false },
        coldStart: { enabled: false },
      },
      extraSources: [{ name: "bench", fetch: async () => candidates, quota: 2000 }],
    });
  const time = async (lightKeep: number, n: number) => {
    const ranker = make(lightKeep);
    const samples: number[] = [];
    for (let i = 0; i < n + 50; i++) {
      const t = performance.now();
      const page = await ranker.feed({ userId: `u${i}`, limit: 20 });
      if (i >= 50) samples.push(performance.now() - t);
      if (page.items.length !== 20) throw new Error("short page");
    }
    return p(samples, 99);
  };
  const ours = await time(300, 1000);
  const peer = await time(2000, 300);
  log(`rank 2,000 → 20: p99 ${ours.toFixed(2)} ms (heavy ranker on all 2,000: ${peer.toFixed(2)} ms)`);
  results.push({
    name: "rank 2,000 candidates into 20, p99",
    unit: "ms",
    ours,
    peer: "no light stage (heavy on all 2,000)",
    peerValue: peer,
  });
}

// 2. Candidate retrieval from a 1,000,000-video catalogue: embedding neighbours through the ANN index.
{
  const N = 1_000_000;
  const dim = 32;
  const r = createRandom(2);
  const centres = Array.from({ length: 1000 }, () => Array.from({ length: dim }, () => gaussian(r)));
  const vector = () => {
    const c = centres[Math.floor(r() * centres.length)] as number[];
    return c.map((x) => x + 0.6 * gaussian(r));
  };
  const before = heapMiB();
  const catalog = new Catalog({ ann: { probes: 10 } }); // √n ≈ 1,000 cells
  let t = performance.now();
  for (let at = 0; at < N; at += 50_000) {
    catalog.upsert(
      Array.from({ length: 50_000 }, (_, k) => ({
        videoId: `v${at + k}`,
        creatorId: `c${(at + k) % 50_000}`,
        topics: [`t${(at + k) % 500}`],
        createdAt: NOW - Math.floor(r() * 30 * DAY),
        embedding: vector(),
      })),
    );
  }
  log(`loaded ${N} videos in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const index = catalog.index as AnnIndex;
  t = performance.now();
  index.build();
  log(`built the IVF index in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const ours = heapMiB() - before;

  const queries = Array.from({ length: 600 }, vector);
  const annMs: number[] = [];
  let found = 0;
  const exactMs: number[] = [];
  queries.forEach((q, i) => {
    let s = performance.now();
    const approx = index.search(q, 200);
    annMs.push(performance.now() - s);
    if (i < 40) {
      s = performance.now();
      const exact = index.searchExact(q, 200);
      exactMs.push(performance.now() - s);
      const truth = new Set(exact.slice(0, 10).map((e) => e.videoId));
      found += approx.slice(0, 10).filter((a) => truth.has(a.videoId)).length;
    }
  });
  const annP99 = p(annMs.slice(100), 99);
  const exactP99 = p(exactMs, 99);
  log(
    `retrieve 200 of 1M: p99 ${annP99.toFixed(2)} ms (brute force ${exactP99.toFixed(1)} ms), recall@10 ${(found / 400).toFixed(3)}`,
  );
  results.push({
    name: "retrieve 200 candidates from 1M videos, p99",
    unit: "ms",
    ours: annP99,
    peer: "brute-force scan",
    peerValue: exactP99,
  });

  // Full feed (all built-in sources, filters, ranking) on the 1M catalogue.
  const ranker = createFeedRanker({ catalog, secret: "bench-secret-0123456789", now: () => NOW });
  const users = Array.from({ length: 300 }, (_, u) => `u${u}`);
  await ranker.engage(
    users.flatMap((userId) =>
      Array.from({ length: 10 }, () => ({
        userId,
        videoId: `v${Math.floor(r() * N)}`,
        type: "complete" as const,
        ts: NOW - 3_600_000,
      })),
    ),
  );
  const feedMs: number[] = [];
  for (const userId of users) {
    const s = performance.now();
    await ranker.feed({ userId, limit: 20 });
    feedMs.push(performance.now() - s);
  }
  log(`feed() on the 1M catalogue: p50 ${p(feedMs, 50).toFixed(2)} ms, p99 ${p(feedMs.slice(20), 99).toFixed(2)} ms`);

  // Memory: ours (Catalog + IVF, Float32 vectors) against the same videos as plain objects with number[] embeddings.
  const ourMiB = ours;
  const naiveBefore = heapMiB();
  const naive = new Map<string, unknown>();
  for (let i = 0; i < N; i++) {
    naive.set(`n${i}`, {
      videoId: `n${i}`,
      creatorId: `c${i % 50_000}`,
      topics: [`t${i % 500}`],
      createdAt: NOW,
      embedding: vector(),
    });
  }
  const naiveMiB = heapMiB() - naiveBefore;
  log(
    `memory per 1M videos: ${ourMiB.toFixed(0)} MiB (plain objects with number[] embeddings: ${naiveMiB.toFixed(0)} MiB, ${naive.size})`,
  );
  results.push({
    name: "memory per 1M videos (32-d embeddings)",
    unit: "MiB",
    ours: ourMiB,
    peer: "plain objects + number[] embeddings",
    peerValue: naiveMiB,
  });
}

console.log(JSON.stringify({ results }));
