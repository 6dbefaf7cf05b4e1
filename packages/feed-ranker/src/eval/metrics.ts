/** Top-K ranking metrics as RecBole defines them, averaged over users with at least one positive. */
export interface RankingMetrics {
  recall: number;
  ndcg: number;
  hit: number;
  mrr: number;
}

/** Metrics of one ranked list against one user's held-out positives. */
export function userMetrics(ranked: readonly string[], positives: ReadonlySet<string>, k: number): RankingMetrics {
  let hits = 0;
  let dcg = 0;
  let firstRank = 0;
  const top = Math.min(k, ranked.length);
  for (let i = 0; i < top; i++) {
    if (positives.has(ranked[i] as string)) {
      hits += 1;
      dcg += 1 / Math.log2(i + 2);
      if (firstRank === 0) firstRank = i + 1;
    }
  }
  let idcg = 0;
  for (let i = 0; i < Math.min(k, positives.size); i++) idcg += 1 / Math.log2(i + 2);
  return {
    recall: positives.size === 0 ? 0 : hits / positives.size,
    ndcg: idcg === 0 ? 0 : dcg / idcg,
    hit: hits > 0 ? 1 : 0,
    mrr: firstRank === 0 ? 0 : 1 / firstRank,
  };
}

/** Running mean of per-user metrics. */
export class MetricsAccumulator {
  private sum: RankingMetrics = { recall: 0, ndcg: 0, hit: 0, mrr: 0 };
  private n = 0;

  add(m: RankingMetrics): void {
    this.sum.recall += m.recall;
    this.sum.ndcg += m.ndcg;
    this.sum.hit += m.hit;
    this.sum.mrr += m.mrr;
    this.n += 1;
  }

  get count(): number {
    return this.n;
  }

  mean(): RankingMetrics {
    const n = Math.max(this.n, 1);
    return { recall: this.sum.recall / n, ndcg: this.sum.ndcg / n, hit: this.sum.hit / n, mrr: this.sum.mrr / n };
  }
}

/** Latency percentile (nearest rank) of a list of samples in ms. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
