// `npm run start:scaled`: the engines, then the three processes of scaled mode on this machine.
//
// 1. `node scripts/services.mjs up redis kafka cassandra postgres` (idempotent: running engines are only
//    health-checked; a variable you set points at your own engine instead).
// 2. The connection settings from .reelkit/services.env (variables already set win).
// 3. The API, a transcoder and the engagement aggregator, each `src/main.ts` with its REELKIT_ROLE,
//    sharing DATA_DIR; their output prefixed with the role. Nothing is restarted: when one exits,
//    the others are stopped and the launcher exits non-zero. SIGINT/SIGTERM are passed on.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { roles } from "../config.js";

const here = dirname(fileURLToPath(import.meta.url));
const serverRoot = resolve(here, "../..");
const repoRoot = resolve(serverRoot, "../..");
const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
const main = join(serverRoot, "src", "main.ts");
const envFile = join(repoRoot, ".reelkit", "services.env");

const say = (line: string) => process.stdout.write(`[start] ${line}\n`);

function prefixed(child: ChildProcess, name: string) {
  const label = `[${name}]`.padEnd(13);
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    if (stream === null) continue;
    createInterface({ input: stream }).on("line", (line) => out.write(`${label} ${line}\n`));
  }
}

function servicesUp(): Promise<number> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "scripts", "services.mjs"), "up", "redis", "kafka", "cassandra", "postgres"],
      {
        cwd: repoRoot,
        stdio: ["ignore", "inherit", "inherit"], // it prefixes its own lines
      },
    );
    child.on("error", () => done(1));
    child.on("exit", (code) => done(code ?? 1));
  });
}

function published(): Record<string, string> {
  if (!existsSync(envFile)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, "utf8").split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}

say("starting the engines: node scripts/services.mjs up redis kafka cassandra postgres");
const code = await servicesUp();
if (code !== 0) {
  console.error(
    `[start] the engines did not start (services.mjs exited with ${code}); see its output above. ` +
      "Check `node scripts/services.mjs status redis kafka cassandra`, or point REDIS_URL, KAFKA_BROKERS and " +
      "CASSANDRA_CONTACT_POINTS at engines of your own.",
  );
  process.exit(1);
}
const env: NodeJS.ProcessEnv = { ...published(), ...process.env };
for (const name of ["REDIS_URL", "KAFKA_BROKERS", "CASSANDRA_CONTACT_POINTS", "DATABASE_URL"]) {
  if (!env[name]) {
    console.error(`[start] ${name} is not set and ${envFile} does not name it`);
    process.exit(1);
  }
}
// One DATA_DIR for all three, resolved here so a relative path means the same to each.
env.DATA_DIR = resolve(env.DATA_DIR ?? join(serverRoot, ".data"));

const children = new Map<string, ChildProcess>();
let stopping = false;
let exitCode = 0;

function stopAll(signal: NodeJS.Signals) {
  for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const force = setTimeout(() => {
    for (const child of children.values())
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, 25_000);
  force.unref();
}

for (const role of roles) {
  const child = spawn(tsx, ["--conditions=@reelkit/source", main], {
    cwd: serverRoot,
    env: { ...env, REELKIT_ROLE: role },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a Ctrl-C reaches the launcher alone, which passes it on once.
    detached: true,
  });
  children.set(role, child);
  prefixed(child, role);
  child.on("exit", (code, signal) => {
    children.delete(role);
    if (code !== 0 && code !== null) exitCode = 1;
    if (!stopping) {
      stopping = true;
      exitCode = 1;
      console.error(`[start] ${role} exited (${signal ?? `code ${code}`}); stopping the others`);
      stopAll("SIGTERM");
    }
    if (children.size === 0) process.exit(exitCode);
  });
}
say(`api, transcoder and aggregator started; data in ${env.DATA_DIR}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping api, transcoder and aggregator`);
    stopAll(signal);
  });
}
