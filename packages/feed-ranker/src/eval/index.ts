export { ease, itemKnn, popularity, type Recommender, type Vocabulary, vocabulary } from "./baselines.js";
export { type Interaction, loadInteractions, parseInteractions } from "./data.js";
export { MetricsAccumulator, percentile, type RankingMetrics, userMetrics } from "./metrics.js";
export { type EvalOptions, type EvalReport, evaluate, type ModelReport, reportJson, reportTable } from "./run.js";
export { type Protocol, randomSplit, type Split, splitBy, temporalSplit } from "./split.js";
