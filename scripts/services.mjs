#!/usr/bin/env node
// Real engines on demand, without Docker: `up`, `down`, `status`, `env`.
//
//   node scripts/services.mjs up [service…]     install what is missing, start what is not running, health-check
//   node scripts/services.mjs down [service…]   stop only the processes this script started
//   node scripts/services.mjs status [service…] health of each service (real client round trip)
//   node scripts/services.mjs env               the connection settings, as shell `export` lines
//
// Services: tools (ffmpeg, ffprobe, Chromium from Debian), redis, redis-cluster, kafka, cassandra,
// postgres (default: all). Connection settings are
// published under REDIS_URL, REDIS_CLUSTER_NODES, KAFKA_BROKERS, CASSANDRA_CONTACT_POINTS, DATABASE_URL (and
// CASSANDRA_LOCAL_DATACENTER, FFMPEG_PATH, FFPROBE_PATH, CHROMIUM_PATH) and written to .reelkit/services.env, which the tests and the
// reference server read. A variable already set in the environment points at your own engine:
// it is health-checked and never started or stopped by this script.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { log, readPid, ServiceError, stateDir, waitFor, withTimeout } from "./services/lib.mjs";

const modules = {
  tools: () => import("./services/tools.mjs"),
  redis: () => import("./services/redis.mjs"),
  "redis-cluster": () => import("./services/redis-cluster.mjs"),
  kafka: () => import("./services/kafka.mjs"),
  cassandra: () => import("./services/cassandra.mjs"),
  postgres: () => import("./services/postgres.mjs"),
};

export const envFile = join(stateDir, "services.env");

async function load(names) {
  const unknown = names.filter((n) => !(n in modules));
  if (unknown.length > 0) {
    throw new ServiceError("cli", `unknown service ${unknown.join(", ")}; known: ${Object.keys(modules).join(", ")}`);
  }
  return Promise.all(names.map(async (n) => (await modules[n]()).default));
}

async function healthy(service) {
  try {
    return Boolean(await withTimeout(service.check(), 30_000, `${service.name} health check`));
  } catch {
    return false;
  }
}

async function up(service) {
  const started = Date.now();
  if (await healthy(service)) {
    log(service.name, "already running");
    return { name: service.name, state: "already running", seconds: 0 };
  }
  if (service.external?.()) {
    throw new ServiceError(service.name, `${service.external()} is set but nothing healthy answers there`);
  }
  await service.install();
  // A process of ours may still be starting (a previous `up` was interrupted): wait for it
  // rather than start a second one on the same ports.
  const alive = service.pidNames.filter((p) => readPid(p) !== undefined).length;
  if (alive === 0) {
    log(service.name, "starting");
    await service.start();
  } else if (alive < service.pidNames.length) {
    // Some of its processes died (a cluster node): start the whole service afresh.
    log(service.name, `only ${alive} of ${service.pidNames.length} processes alive; restarting`);
    await service.stop();
    await service.start();
  } else {
    log(service.name, "our process is alive but not healthy yet; waiting for it");
  }
  await waitFor(service.name, () => withTimeout(service.check(), 30_000, "health check"), {
    timeoutMs: service.startTimeoutMs,
    logFile: service.logFile,
    pidName: service.pidNames[0],
  });
  const seconds = (Date.now() - started) / 1000;
  log(
    service.name,
    `healthy after ${seconds.toFixed(1)}s (${Object.entries(service.env())
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")})`,
  );
  return { name: service.name, state: "started", seconds };
}

function writeEnv(services) {
  const lines = services.flatMap((s) => Object.entries(s.env()).map(([k, v]) => `${k}=${v}`));
  writeFileSync(envFile, `${lines.join("\n")}\n`);
}

async function main() {
  const [command = "status", ...rest] = process.argv.slice(2);
  const services = await load(rest.length > 0 ? rest : Object.keys(modules));
  switch (command) {
    case "up": {
      // Sequential on purpose: two JVMs starting at once on 2 cores slow each other more than they overlap.
      const results = [];
      for (const service of services) results.push(await up(service));
      const all = await load(Object.keys(modules));
      const upNow = [];
      for (const s of all) if (services.includes(s) || (await healthy(s))) upNow.push(s);
      writeEnv(upNow);
      for (const r of results)
        console.log(`${r.name.padEnd(14)} ${r.state}${r.seconds ? ` in ${r.seconds.toFixed(1)}s` : ""}`);
      return;
    }
    case "down": {
      for (const service of services) {
        if (service.external?.()) {
          log(service.name, `${service.external()} points at an engine this script did not start; leaving it`);
          continue;
        }
        const stopped = await service.stop();
        log(service.name, stopped ? "stopped" : "was not running (no pid of ours)");
      }
      return;
    }
    case "status": {
      let allUp = true;
      for (const service of services) {
        const ok = await healthy(service);
        allUp &&= ok;
        const pids = service.pidNames.map(readPid).filter((p) => p !== undefined);
        const owner = service.external?.()
          ? "external"
          : service.pidNames.length === 0
            ? "installed"
            : pids.length > 0
              ? `pid ${pids.join(",")}`
              : "not ours";
        console.log(
          `${service.name.padEnd(14)} ${ok ? "up  " : "down"}  ${owner}  ${Object.entries(service.env())
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
        );
      }
      process.exitCode = allUp ? 0 : 1;
      return;
    }
    case "env": {
      for (const s of services)
        for (const [k, v] of Object.entries(s.env())) console.log(`export ${k}=${JSON.stringify(v)}`);
      return;
    }
    default:
      throw new ServiceError("cli", `unknown command '${command}'; use up, down, status or env`);
  }
}

let finished = false;
// If the event loop empties while main() is still awaiting, something hung without a timer: that
// must fail loudly, never end as a silent exit 0 that reads as "engines up".
process.on("beforeExit", () => {
  if (!finished) {
    console.error("[services] internal error: a step hung with nothing left to wait on; see the log above");
    process.exit(1);
  }
});

main()
  .then(() => {
    finished = true;
  })
  .catch((error) => {
    finished = true;
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
