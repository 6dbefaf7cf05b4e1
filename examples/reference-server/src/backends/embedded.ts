// Embedded mode: everything in this process. The engagement journal in DATA_DIR makes counts
// survive restarts; the job queue, ranker signals and review queue are in memory.
import { join } from "node:path";
import { createEngagement } from "@reelkit/engagement";
import { createMemoryJobQueue, processTranscodes } from "@reelkit/transcode";
import type { Config } from "../config.js";
import type { Backends } from "./types.js";

export async function createEmbeddedBackends(config: Config): Promise<Backends> {
  const engagement = await createEngagement({ journal: { path: join(config.DATA_DIR, "engagement.jsonl") } });
  const queue = createMemoryJobQueue();
  const worker = processTranscodes(queue, { concurrency: 1, closeTimeoutMs: 2000 });
  return {
    mode: "embedded",
    queue,
    worker,
    engagement,
    ranker: {},
    checks: async () => ({}),
    async close() {
      await worker.close({ timeoutMs: 2000 });
      await engagement.close();
    },
  };
}
