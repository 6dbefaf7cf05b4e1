// Offline quality on MovieLens-100k (RecBole protocol: random 80/10/10 per user, full ranking over
// unseen items), read from the shared data folder — never copied into the repository.
//   npm run bench -- feed-ranker
import { join } from "node:path";
import { sharedDataDir } from "../../../test/services.js";
import { evaluate, loadInteractions } from "../src/eval/index.js";

const data = await loadInteractions(join(sharedDataDir(), "movielens-100k", "ml-100k.inter"));
const report = await evaluate(data, {
  protocol: "recbole",
  k: 10,
  seed: 2020,
  progress: (l) => process.stderr.write(`${l}\n`),
});
const by = (name: string) => report.models.find((m) => m.model === name);
const ours = by("reelkit");
const results = ["ease", "itemknn", "pop"].map((peer) => ({
  name: `ml-100k NDCG@10 (RecBole protocol, seed 2020), reelkit vs ${peer}`,
  unit: "ndcg@10",
  ours: ours?.metrics.ndcg ?? 0,
  peer,
  peerValue: by(peer)?.metrics.ndcg ?? 0,
}));
results.push({
  name: "ml-100k full-ranking request latency p99 (1,682 items)",
  unit: "ms",
  ours: ours?.p99Ms ?? 0,
  peer: "itemknn",
  peerValue: by("itemknn")?.p99Ms ?? 0,
});
console.log(JSON.stringify({ results }));
