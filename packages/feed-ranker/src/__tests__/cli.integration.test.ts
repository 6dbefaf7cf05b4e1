import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSource } from "../../../../test/run.js";
import { tasteData } from "./fixtures.js";

const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));

const runCli = (args: string[]) => runSource(cli, args);

let dir: string;
let csv: string;
let inter: string;
let mixed: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-feed-eval-"));
  const rows = tasteData(3, 80);
  csv = join(dir, "ratings.csv");
  await writeFile(
    csv,
    `userId,itemId,rating,timestamp\n${rows.map((r) => `${r.userId},${r.itemId},5,${r.timestamp}`).join("\n")}\n`,
  );
  // The same rows with ratings from 1 to 5.
  mixed = join(dir, "mixed.csv");
  await writeFile(
    mixed,
    `userId,itemId,rating,timestamp\n${rows.map((r, n) => `${r.userId},${r.itemId},${1 + (n % 5)},${r.timestamp}`).join("\n")}\n`,
  );
  inter = join(dir, "ratings.inter");
  await writeFile(
    inter,
    `user_id:token\titem_id:token\trating:float\ttimestamp:float\n${rows.map((r) => `${r.userId}\t${r.itemId}\t5\t${r.timestamp}`).join("\n")}\n`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("reelkit-feed-eval", () => {
  it("prints one JSON document on stdout with --json, progress on stderr", async () => {
    const { code, stdout, stderr } = await runCli(["--data", csv, "--k", "5", "--json"]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      protocol: string;
      k: number;
      models: Array<Record<string, number | string>>;
    };
    expect(report.protocol).toBe("recbole");
    expect(report.k).toBe(5);
    expect(report.models.map((m) => m.model)).toEqual(["pop", "itemknn", "ease", "reelkit"]);
    for (const m of report.models) {
      for (const key of ["recall@5", "ndcg@5", "hit@5", "mrr@5", "coverage", "p50Ms", "p99Ms"])
        expect(typeof m[key]).toBe("number");
    }
    const ndcg = (name: string) => report.models.find((m) => m.model === name)?.["ndcg@5"] as number;
    expect(ndcg("reelkit")).toBeGreaterThan(ndcg("pop"));
    expect(stderr).toContain("split");
  });

  it("reads the ratings, or leaves them out with --ignore-ratings", async () => {
    const quality = (stdout: string) =>
      (JSON.parse(stdout) as { models: Array<Record<string, number | string>> }).models.map(
        ({ p50Ms: _a, p99Ms: _b, ...m }) => m,
      );
    const uniform = await runCli(["--data", csv, "--k", "5", "--json"]);
    const ignored = await runCli(["--data", mixed, "--k", "5", "--json", "--ignore-ratings"]);
    const weighted = await runCli(["--data", mixed, "--k", "5", "--json"]);
    expect([uniform.code, ignored.code, weighted.code]).toEqual([0, 0, 0]);
    // Equal ratings weigh nothing, and ignored ones neither: the same figures, model by model.
    expect(quality(ignored.stdout)).toEqual(quality(uniform.stdout));
    // Ratings change the pipeline's history weights only: the baselines stay as they were.
    expect(quality(weighted.stdout).slice(0, 3)).toEqual(quality(uniform.stdout).slice(0, 3));
    expect(weighted.stderr).not.toEqual(ignored.stderr);
  });

  it("prints a table for a .inter file under the temporal protocol", async () => {
    const { code, stdout } = await runCli(["--data", inter, "--protocol", "temporal"]);
    expect(code).toBe(0);
    expect(stdout).toContain("protocol temporal, K=10");
    expect(stdout).toMatch(/^reelkit\s+\d/m);
  });

  it("exits 2 on usage errors and 1 with CODE: message on a bad file", async () => {
    expect((await runCli([])).code).toBe(2);
    expect((await runCli(["--data", csv, "--protocol", "nope"])).code).toBe(2);
    expect((await runCli(["--data", csv, "--k", "0"])).code).toBe(2);
    const missing = await runCli(["--data", join(dir, "missing.csv")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^DATA_INVALID: cannot read/m);
  });
});
