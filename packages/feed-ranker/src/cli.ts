#!/usr/bin/env node
// reelkit-feed-eval --data <file> [--protocol recbole|temporal] [--k 10] [--seed 2020] [--refit] [--ignore-ratings] [--json]
// Splits the interactions, tunes every model on validation, reports test metrics of pop, itemknn,
// ease and reelkit (which replays ratings as shares watched unless --ignore-ratings). Progress on
// stderr; a table (or one JSON document with --json) on stdout.
// On failure: `CODE: message` on stderr, exit 1; usage errors exit 2.
import { parseArgs } from "node:util";
import { isFeedRankerError } from "./errors.js";
import { loadInteractions } from "./eval/data.js";
import { evaluate, reportJson, reportTable } from "./eval/run.js";

const usage =
  "usage: reelkit-feed-eval --data <file> [--protocol recbole|temporal] [--k 10] [--seed 2020] [--refit] [--ignore-ratings] [--json]";

async function main(): Promise<number> {
  let values: {
    data?: string;
    protocol?: string;
    k?: string;
    seed?: string;
    refit?: boolean;
    "ignore-ratings"?: boolean;
    json?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: "string" },
        protocol: { type: "string", default: "recbole" },
        k: { type: "string", default: "10" },
        seed: { type: "string", default: "2020" },
        refit: { type: "boolean", default: false },
        "ignore-ratings": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`INVALID_OPTIONS: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const k = Number(values.k);
  const seed = Number(values.seed);
  const fail = (message: string) => {
    process.stderr.write(`INVALID_OPTIONS: ${message}\n${usage}\n`);
    return 2;
  };
  if (values.data === undefined) return fail("--data is required");
  if (values.protocol !== "recbole" && values.protocol !== "temporal")
    return fail("--protocol must be recbole or temporal");
  if (!Number.isInteger(k) || k < 1 || k > 1000) return fail("--k must be an integer from 1 to 1000");
  if (!Number.isInteger(seed)) return fail("--seed must be an integer");
  try {
    const loaded = await loadInteractions(values.data);
    const interactions = values["ignore-ratings"] ? loaded.map(({ rating: _r, ...rest }) => rest) : loaded;
    const report = await evaluate(interactions, {
      protocol: values.protocol,
      k,
      seed,
      refit: values.refit === true,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(values.json ? `${JSON.stringify(reportJson(report))}\n` : `${reportTable(report)}\n`);
    return 0;
  } catch (error) {
    const code = isFeedRankerError(error) ? error.code : "INTERNAL";
    const message = error instanceof Error ? error.message.replace(/^\[@reelkit\/feed-ranker\] /, "") : String(error);
    process.stderr.write(`${code}: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main();
