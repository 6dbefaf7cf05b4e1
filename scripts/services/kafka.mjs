// Single-node Kafka on 127.0.0.1:19092 in KRaft mode (one JVM is both broker and controller,
// controller quorum on 19093), run from Maven Central jars since no release tarball can be fetched.
// Data is kept between runs under .reelkit/services/kafka/data.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureMavenJars, javaMajor, log, ServiceError, serviceDir, spawnDaemon, stopDaemon } from "./lib.mjs";

// 3.9 rather than 4.x: kafkajs (unmaintained since 2.2.4) predates KIP-896, which removed old
// protocol versions from 4.0 brokers; 3.9 is the last line that speaks everything kafkajs sends.
const version = "3.9.2";
const coordinates = [
  `org.apache.kafka:kafka_2.13:${version}`,
  // The kafka_2.13 POM brings slf4j-api but no backend; without one the broker logs nothing.
  "ch.qos.reload4j:reload4j:1.2.25",
  "org.slf4j:slf4j-reload4j:1.7.36",
];
const port = 19092;
const controllerPort = 19093;
const nodeId = 1;
const healthTopic = "reelkit.health";

const dir = serviceDir("kafka");
const dataDir = join(dir, "data");
const logFile = join(dir, "kafka.log");
const configFile = join(dir, "server.properties");
const log4jFile = join(dir, "log4j.properties");
// What the data dir was formatted for; a different one means the data cannot be reused.
const formatStamp = join(dir, "formatted");
const formatKey = `kafka=${version} node.id=${nodeId} log.dirs=${dataDir}`;

const serverProperties = {
  "process.roles": "broker,controller",
  "node.id": nodeId,
  "controller.quorum.voters": `${nodeId}@127.0.0.1:${controllerPort}`,
  listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
  "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
  "controller.listener.names": "CONTROLLER",
  "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
  "inter.broker.listener.name": "PLAINTEXT",
  "log.dirs": dataDir,
  // One broker: the internal topics cannot have more than one replica.
  "offsets.topic.replication.factor": 1,
  // 50 partitions by default; one is plenty here and makes the first consumer group join faster.
  "offsets.topic.num.partitions": 1,
  "transaction.state.log.replication.factor": 1,
  "transaction.state.log.min.isr": 1,
  "transaction.state.log.num.partitions": 1,
  // The default 3 s wait for more members would slow down every test's first consumer.
  "group.initial.rebalance.delay.ms": 0,
  "auto.create.topics.enable": true,
  // One partition keeps auto-created topics in produce order; tests needing more create their topic.
  "num.partitions": 1,
  "log.retention.hours": 24,
};

const log4jProperties = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Warnings and errors, plus the "started" and "shut down" milestones.
log4j.logger.kafka.server.KafkaRaftServer=INFO
`;

let jarDir;

function java(mainClass, args, jvmArgs = []) {
  return [...jvmArgs, `-Dlog4j.configuration=file:${log4jFile}`, "-cp", join(jarDir, "*"), mainClass, ...args];
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what `random-uuid` prints). */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    // Kafka's own generator rejects ids starting with '-', which command lines take for a flag.
    if (!id.startsWith("-")) return id;
  }
}

function format() {
  const stamp = existsSync(formatStamp) ? readFileSync(formatStamp, "utf8").trim() : undefined;
  if (stamp === formatKey && existsSync(join(dataDir, "meta.properties"))) return;
  // Formatted for another node id, dir or version (or half-formatted): Kafka would refuse to start
  // on it, and it only ever holds test data, so start over.
  if (existsSync(dataDir)) log("kafka", "data dir was formatted for another configuration; reformatting");
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(formatStamp, { force: true });
  const result = spawnSync("java", java("kafka.tools.StorageTool", ["format", "-t", clusterId(), "-c", configFile]), {
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new ServiceError("kafka", `storage format failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
  writeFileSync(formatStamp, `${formatKey}\n`);
}

export default {
  name: "kafka",
  logFile,
  pidNames: ["kafka"],
  startTimeoutMs: 90_000,
  env: () => ({ KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? `127.0.0.1:${port}` }),
  external: () => (process.env.KAFKA_BROKERS ? "KAFKA_BROKERS" : undefined),
  install() {
    const major = javaMajor();
    if (major === undefined || major < 17) {
      throw new ServiceError("kafka", `Java 17+ is needed (found ${major ?? "none"}); install a JDK`);
    }
    jarDir = ensureMavenJars("kafka", `kafka-${version}`, coordinates);
  },
  async start() {
    if (jarDir === undefined) this.install();
    writeFileSync(
      configFile,
      `${Object.entries(serverProperties)
        .map(([k, v]) => `${k}=${v}`)
        .join("\n")}\n`,
    );
    writeFileSync(log4jFile, log4jProperties);
    format();
    // java itself, in the foreground, so the recorded pid is the broker's JVM.
    spawnDaemon({
      name: "kafka",
      command: "java",
      args: java(
        "kafka.Kafka",
        [configFile],
        ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"],
      ),
      logFile,
    });
  },
  async check() {
    const { Kafka, logLevel } = await import("kafkajs");
    const brokers = this.env().KAFKA_BROKERS.split(",");
    const base = { clientId: "reelkit-health", brokers, logLevel: logLevel.NOTHING, connectionTimeout: 2000 };
    // No retries for the probe so a broker that is down fails in about connectionTimeout.
    const admin = new Kafka({ ...base, requestTimeout: 5000, retry: { retries: 0 } }).admin();
    const kafka = new Kafka({ ...base, requestTimeout: 5000, retry: { retries: 3, initialRetryTime: 200 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    // A group of its own per check, so concurrent checks never rebalance each other.
    const groupId = `reelkit.health.${process.pid}.${Date.now()}`;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 200,
    });
    let closed = false;
    const close = async (deleteGroup = false) => {
      await consumer.disconnect().catch(() => {});
      // Left alone, the empty group would be listed by the broker until its next offsets cleanup.
      if (deleteGroup) await admin.deleteGroups([groupId]).catch(() => {});
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    };
    // After the deadline, a step still under way must not leave a connection open behind us
    // (it would keep the calling process alive).
    const step = async (promise) => {
      const result = await promise;
      if (closed) {
        await close();
        throw new Error("health check abandoned");
      }
      return result;
    };
    const roundTrip = async () => {
      await step(admin.connect());
      await step(admin.describeCluster());
      // false (not an error) when it exists already.
      await step(
        admin.createTopics({
          waitForLeaders: true,
          topics: [
            { topic: healthTopic, numPartitions: 1, configEntries: [{ name: "retention.ms", value: "3600000" }] },
          ],
        }),
      );

      const value = `${process.pid}-${Date.now()}-${randomBytes(4).toString("hex")}`;
      await step(producer.connect());
      const [sent] = await step(producer.send({ topic: healthTopic, acks: -1, messages: [{ value }] }));

      await step(consumer.connect());
      await step(consumer.subscribe({ topic: healthTopic }));
      return new Promise((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              if (message.value?.toString() === value) resolve(true);
            },
          })
          .catch(reject);
        // Read from the offset we just wrote rather than rely on "latest" racing our produce.
        consumer.seek({ topic: healthTopic, partition: sent.partition, offset: sent.baseOffset });
      });
    };
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("no produce/consume round trip within 20s")), 20_000);
    });
    let ok = false;
    try {
      ok = await Promise.race([roundTrip(), timeout]);
      return ok;
    } finally {
      clearTimeout(timer);
      closed = true;
      await close(ok);
    }
  },
  stop: () => stopDaemon("kafka"),
};
