// Single-node Apache Cassandra on 127.0.0.1:19042 (CQL), run straight from the Maven Central jars
// (there is no tarball to download here): we write the cassandra.yaml and logback.xml ourselves and
// launch CassandraDaemon with the JVM flags upstream keeps in conf/jvm*-server.options.
// Ports are off the defaults (9042/7000/7199) so a system Cassandra never collides with it.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureMavenJars, javaMajor, ServiceError, serviceDir, spawnDaemon, stopDaemon } from "./lib.mjs";

const version = "5.0.9";
const host = "127.0.0.1";
const nativePort = 19042;
const storagePort = 17000;
const jmxPort = 17199;
const dir = serviceDir("cassandra");
const logFile = join(dir, "cassandra.log");

const jarsDir = () =>
  ensureMavenJars("cassandra", `cassandra-${version}`, [`org.apache.cassandra:cassandra-all:${version}`]);

function requireJava() {
  const major = javaMajor();
  if (major !== 11 && major !== 17) {
    throw new ServiceError("cassandra", `Cassandra ${version} needs Java 11 or 17 on PATH, found ${major ?? "none"}`);
  }
  return major;
}

// The keys Cassandra refuses to start without, plus a lean development node: no snapshot on
// drop/truncate, one compactor, no hints (there is no other node to hint for), and every 5.0
// feature on (storage_compatibility_mode NONE is safe because this node never held 4.x data).
const yaml = `cluster_name: reelkit
num_tokens: 4
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${host}:${storagePort}"
listen_address: ${host}
rpc_address: ${host}
storage_port: ${storagePort}
native_transport_port: ${nativePort}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
auto_snapshot: false
concurrent_compactors: 1
hinted_handoff_enabled: false
storage_compatibility_mode: NONE
`;

// Everything to the console, which spawnDaemon appends to cassandra.log.
const logback = `<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
`;

const addExports = (list) => list.flatMap((m) => ["--add-exports", `${m}=ALL-UNNAMED`]);
const addOpens = (list) => list.flatMap((m) => ["--add-opens", `${m}=ALL-UNNAMED`]);

// Module access for Cassandra, jamm and Netty, as in upstream conf/jvm{11,17}-server.options (cassandra-5.0).
const jpms = {
  11: [
    ...addExports([
      "java.base/jdk.internal.misc",
      "java.base/jdk.internal.ref",
      "java.base/jdk.internal.util",
      "java.base/sun.nio.ch",
      "java.management.rmi/com.sun.jmx.remote.internal.rmi",
      "java.rmi/sun.rmi.registry",
      "java.rmi/sun.rmi.server",
      "java.sql/java.sql",
    ]),
    ...addOpens([
      "java.base/java.lang.module",
      "java.base/jdk.internal.loader",
      "java.base/jdk.internal.ref",
      "java.base/jdk.internal.reflect",
      "java.base/jdk.internal.math",
      "java.base/jdk.internal.module",
      "java.base/jdk.internal.util.jar",
      "jdk.management/com.sun.management.internal",
    ]),
  ],
  17: [
    ...addExports([
      "java.base/jdk.internal.misc",
      "java.management.rmi/com.sun.jmx.remote.internal.rmi",
      "java.rmi/sun.rmi.registry",
      "java.rmi/sun.rmi.server",
      "java.sql/java.sql",
      "java.base/java.lang.ref",
      "jdk.unsupported/sun.misc",
      "jdk.compiler/com.sun.tools.javac.file",
      "jdk.attach/sun.tools.attach",
    ]),
    ...addOpens([
      "java.base/java.lang.module",
      "java.base/jdk.internal.loader",
      "java.base/jdk.internal.ref",
      "java.base/jdk.internal.reflect",
      "java.base/jdk.internal.math",
      "java.base/jdk.internal.module",
      "java.base/jdk.internal.util.jar",
      "jdk.management/com.sun.management.internal",
      "java.base/sun.nio.ch",
      "java.base/java.io",
      "java.base/java.lang.reflect",
      "jdk.compiler/com.sun.tools.javac",
      "java.base/java.lang",
      "java.base/java.util",
    ]),
  ],
};

function jvmFlags(major, jars) {
  const jamm = readdirSync(jars).find((f) => /^jamm-.*\.jar$/.test(f));
  if (jamm === undefined)
    throw new ServiceError("cassandra", `no jamm jar in ${jars}; delete that folder to fetch the jars again`);
  return [
    // Cassandra mlockall()s the JVM at start-up, which succeeds when run as root and then pins all
    // committed heap in RAM: a small initial heap keeps a dev node's footprint around 0.8 GiB, not 1.5.
    "-Xms256m",
    "-Xmx1g",
    "-Xss256k",
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1HeapRegionSize=16m",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
    "-XX:+UseThreadPriorities",
    "-XX:+PerfDisableSharedMem",
    "-XX:+ExitOnOutOfMemoryError",
    ...(major === 11 ? ["-XX:-UseBiasedLocking"] : []),
    "-ea",
    "-da:net.openhft...",
    "-Djava.net.preferIPv4Stack=true",
    "-Djdk.attach.allowAttachSelf=true",
    ...jpms[major],
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
    `-javaagent:${join(jars, jamm)}`,
    "-Dcassandra-foreground=yes",
    `-Dcassandra.jmx.local.port=${jmxPort}`,
    "-Dcom.sun.management.jmxremote.authenticate=false",
    // No fsync for the system keyspaces: ~0.5 s off a first start. Only an OS crash could lose them.
    "-Dcassandra.unsafesystem=true",
    // The 2 s "announce shutdown" pause tells peers we leave; a lone node has none.
    "-Dcassandra.shutdown_announce_in_ms=0",
  ];
}

export default {
  name: "cassandra",
  logFile,
  pidNames: ["cassandra"],
  startTimeoutMs: 180_000,
  env: () => ({
    CASSANDRA_CONTACT_POINTS: process.env.CASSANDRA_CONTACT_POINTS ?? `${host}:${nativePort}`,
    // The data center SimpleSnitch reports for every node.
    CASSANDRA_LOCAL_DATACENTER: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
  }),
  external: () => (process.env.CASSANDRA_CONTACT_POINTS ? "CASSANDRA_CONTACT_POINTS" : undefined),
  install() {
    requireJava();
    jarsDir();
  },
  async start() {
    const major = requireJava();
    const jars = jarsDir();
    const jarFiles = readdirSync(jars)
      .filter((f) => f.endsWith(".jar"))
      .sort()
      .map((f) => join(jars, f));
    const flags = jvmFlags(major, jars);
    const yamlFile = join(dir, "cassandra.yaml");
    const logbackFile = join(dir, "logback.xml");
    writeFileSync(yamlFile, yaml);
    writeFileSync(logbackFile, logback);
    // The JVM itself in the foreground (no launcher script), so the recorded pid is Cassandra.
    spawnDaemon({
      name: "cassandra",
      command: "java",
      args: [
        ...flags,
        `-Dcassandra.config=${pathToFileURL(yamlFile).href}`,
        `-Dcassandra.storagedir=${join(dir, "data")}`,
        `-Dcassandra.logdir=${dir}`,
        `-Dlogback.configurationFile=${logbackFile}`,
        "-cp",
        jarFiles.join(":"),
        "org.apache.cassandra.service.CassandraDaemon",
      ],
      env: { MALLOC_ARENA_MAX: "4" },
      logFile,
    });
  },
  async check() {
    const { Client } = (await import("cassandra-driver")).default;
    const { CASSANDRA_CONTACT_POINTS, CASSANDRA_LOCAL_DATACENTER } = this.env();
    const client = new Client({
      contactPoints: CASSANDRA_CONTACT_POINTS.split(",").map((s) => s.trim()),
      localDataCenter: CASSANDRA_LOCAL_DATACENTER,
      socketOptions: { connectTimeout: 2000, readTimeout: 3000 },
      // A health check needs no schema metadata; skipping it keeps the round trip short.
      isMetadataSyncEnabled: false,
    });
    try {
      await client.connect();
      const result = await client.execute("SELECT release_version FROM system.local");
      return typeof result.first()?.release_version === "string";
    } finally {
      await client.shutdown().catch(() => {});
    }
  },
  stop: () => stopDaemon("cassandra"),
};
