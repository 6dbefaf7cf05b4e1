// The engagement aggregator process of scaled mode (REELKIT_ROLE=aggregator): a consumer-group
// member applying `<prefix>.engagement.events` to the Cassandra store the API reads counts from.
// Offsets are committed only after a slice is applied, and the store applies each event id at
// most once, so every event counts exactly once across crashes, restarts and rebalances. Run
// several to spread the topic's partitions.
import { createEngagement } from "@reelkit/engagement";
import { createCassandraStore } from "@reelkit/engagement/cassandra";
import { createKafkaAggregator } from "@reelkit/engagement/kafka";
import type { Config } from "../config.js";
import type { Log } from "../platform.js";
import { ensureTopics, namesOf, openEngines } from "./engines.js";
import type { RunningProcess } from "./transcoder.js";

export async function startAggregator(config: Config, log: Log): Promise<RunningProcess> {
  const names = namesOf(config);
  const engines = await openEngines(config, "aggregator", log);
  try {
    await ensureTopics(engines.kafka, [names.eventsTopic, names.lifecycleTopic]);
    const engagement = await createEngagement({
      store: await createCassandraStore({ client: engines.cassandra, keyspace: names.keyspace }),
    });
    let applied = 0;
    const aggregator = createKafkaAggregator({
      kafka: engines.kafka,
      topic: names.eventsTopic,
      groupId: names.aggregatorGroup,
      engagements: engagement,
      onBatch: (report) => {
        applied += report.messages;
        const result = report.results[0];
        log("events applied", {
          partition: report.partition,
          offsets: `${report.firstOffset}-${report.lastOffset}`,
          messages: report.messages,
          duplicates: result?.duplicates ?? 0,
          rejected: result?.rejected.length ?? 0,
          lag: report.lag,
          total: applied,
        });
      },
      onReject: (rejection) => log("event rejected", { ...rejection }),
      onError: (error, restarting) => log("aggregator error", { error: error.message, restarting }),
    });
    await aggregator.start();
    log("aggregator ready", { topic: names.eventsTopic, group: names.aggregatorGroup, keyspace: names.keyspace });
    return {
      async stop() {
        await aggregator.stop();
        await engagement.close();
        await engines.close();
      },
    };
  } catch (error) {
    await engines.close();
    throw error;
  }
}
