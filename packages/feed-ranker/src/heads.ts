/** Features the heavy ranker reads, in order; each is scaled to roughly 0..1. */
export const featureNames = [
  "bias",
  "light",
  "coEngagement",
  "embedding",
  "trending",
  "following",
  "freshness",
  "itemModel",
  "topicAffinity",
  "creatorAffinity",
  "completionRate",
  "likeRate",
  "negativeRate",
] as const;
export type FeatureName = (typeof featureNames)[number];
export const F = Object.fromEntries(featureNames.map((n, i) => [n, i])) as Record<FeatureName, number>;

export const objectives = ["completion", "watchTime", "like", "share", "negative"] as const;
export type Objective = (typeof objectives)[number];

/** Starting weights: sensible before any learning (affinity and quality priors matter most). */
function prior(objective: Objective): Float64Array {
  const w = new Float64Array(featureNames.length);
  const set = (name: FeatureName, value: number) => {
    w[F[name]] = value;
  };
  if (objective === "negative") {
    set("bias", -3);
    set("topicAffinity", -1.5);
    set("creatorAffinity", -1);
    set("negativeRate", 3);
    return w;
  }
  set("bias", objective === "completion" || objective === "watchTime" ? -1 : -2.5);
  set("light", 1.5);
  set("coEngagement", 0.5);
  set("embedding", 0.5);
  set("itemModel", 1);
  set("following", 0.5);
  set("topicAffinity", 2);
  set("creatorAffinity", 1);
  set("completionRate", objective === "completion" || objective === "watchTime" ? 2 : 0.5);
  set("likeRate", objective === "like" || objective === "share" ? 2 : 0.3);
  set("negativeRate", -1);
  return w;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-Math.max(-30, Math.min(30, z))));

/** One logistic head per objective, trained online by stochastic gradient steps. */
export class Heads {
  readonly weights: Record<Objective, Float64Array>;

  constructor(private readonly learningRate: number) {
    this.weights = Object.fromEntries(objectives.map((o) => [o, prior(o)])) as Record<Objective, Float64Array>;
  }

  predict(objective: Objective, x: Float64Array): number {
    const w = this.weights[objective];
    let z = 0;
    for (let f = 0; f < x.length; f++) z += (w[f] as number) * (x[f] as number);
    return sigmoid(z);
  }

  /** Weighted sum of the objectives' predictions (negative feedback takes a negative weight). */
  score(x: Float64Array, objectiveWeights: Record<Objective, number>): number {
    let s = 0;
    for (const o of objectives) if (objectiveWeights[o] !== 0) s += objectiveWeights[o] * this.predict(o, x);
    return s;
  }

  /** Features that moved the score most: weight × value summed over the objectives. */
  contributions(
    x: Float64Array,
    objectiveWeights: Record<Objective, number>,
  ): Array<{ feature: FeatureName; contribution: number }> {
    return featureNames
      .map((feature, f) => {
        let c = 0;
        for (const o of objectives) c += objectiveWeights[o] * (this.weights[o][f] as number) * (x[f] as number);
        return { feature, contribution: c };
      })
      .filter((c) => c.feature !== "bias" && c.contribution !== 0);
  }

  learn(x: Float64Array, labels: Partial<Record<Objective, number>>): void {
    for (const o of objectives) {
      const y = labels[o];
      if (y === undefined) continue;
      const g = this.learningRate * (y - this.predict(o, x));
      const w = this.weights[o];
      for (let f = 0; f < x.length; f++) w[f] = (w[f] as number) + g * (x[f] as number);
    }
  }
}

/** Labels one engagement gives each objective (absent: that objective learns nothing from it). */
export function labelsOf(type: string, watchFraction: number): Partial<Record<Objective, number>> {
  switch (type) {
    case "complete":
      return { completion: 1, watchTime: 1, negative: 0 };
    case "view":
      return { watchTime: watchFraction, completion: watchFraction >= 0.95 ? 1 : 0 };
    case "skip":
      return { completion: 0, watchTime: watchFraction, like: 0, share: 0 };
    case "like":
      return { like: 1, negative: 0 };
    case "share":
      return { share: 1, negative: 0 };
    case "hide":
    case "report":
      return { negative: 1, completion: 0, like: 0 };
    default:
      return {};
  }
}
