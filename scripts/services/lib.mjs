// Shared plumbing for scripts/services.mjs: where state and caches live, how daemons are
// spawned and stopped (only by the pids we recorded), and how installs happen idempotently.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Per-checkout runtime state: pids, logs, data. Ignored by git. */
export const stateDir = resolve(process.env.REELKIT_STATE_DIR ?? join(repoRoot, ".reelkit"));

/** Downloads shared by every checkout on the machine (jars); never inside the repo. */
export const cacheDir = resolve(
  process.env.REELKIT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "reelkit"),
);

export class ServiceError extends Error {
  /** @param {string} service @param {string} message @param {{ logFile?: string, cause?: unknown }} [opts] */
  constructor(service, message, opts = {}) {
    const tailText = opts.logFile ? `\n--- last lines of ${opts.logFile} ---\n${tail(opts.logFile, 40)}` : "";
    super(`[services] [${service}] ${message}${tailText}`, { cause: opts.cause });
    this.name = "ServiceError";
    this.service = service;
  }
}

/** @param {string} service @param {string} message */
export function log(service, message) {
  process.stderr.write(`[services] [${service}] ${message}\n`);
}

/** The folder for one service's pid files, logs and data; created on demand. */
export function serviceDir(name) {
  const dir = join(stateDir, "services", name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function tail(file, lines = 40) {
  if (!existsSync(file)) return "(no log file)";
  const text = readFileSync(file, "utf8");
  return text
    .split("\n")
    .slice(-lines - 1)
    .join("\n");
}

/** @param {number} pid */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // EPERM means the pid belongs to another user: never one of ours.
    return false;
  }
}

/**
 * Whether `pid` is a process (thread-group leader), not one thread of another process: a thread
 * id passes `kill(pid, 0)` and has a /proc entry too, so a stale pid file could name one.
 */
function isProcess(pid) {
  try {
    const tgid = /^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return tgid === undefined || Number(tgid) === pid;
  } catch {
    return true; // no /proc (not Linux): trust kill(pid, 0)
  }
}

/** The kernel's start time of a process (clock ticks since boot), or undefined when it is gone. */
function startTimeOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function pidFile(name) {
  return join(serviceDir(name), "pid");
}

/**
 * The pid we recorded for `name`, if that very process is still alive. The pid file holds the pid
 * and its start time: after a reboot or a crash the same pid may belong to another process, which
 * must never be waited on or signalled.
 */
export function readPid(name) {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const [pidText, started] = readFileSync(file, "utf8").trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isProcess(pid)) return undefined;
  const now = startTimeOf(pid);
  return started === undefined || now === undefined || now === started ? pid : undefined;
}

/**
 * Start a long-running process detached from this one, output appended to `logFile`,
 * and record its pid so `stopDaemon` can stop exactly what we started.
 * @param {{ name: string, command: string, args: string[], env?: NodeJS.ProcessEnv, cwd?: string, logFile: string }} spec
 */
export function spawnDaemon(spec) {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, "a");
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd ?? serviceDir(spec.name),
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new ServiceError(spec.name, `could not start ${spec.command}`);
  child.unref();
  writeFileSync(pidFile(spec.name), `${child.pid} ${startTimeOf(child.pid) ?? ""}\n`);
  return child.pid;
}

/** Stop the process recorded for `name` (TERM, then KILL after `timeoutMs`). Never touches others. */
export async function stopDaemon(name, { timeoutMs = 20_000 } = {}) {
  const pid = readPid(name);
  rmSync(pidFile(name), { force: true });
  if (pid === undefined) return false;
  // Daemons were started detached, so each leads its own process group: signal the group.
  const signal = (sig) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) signal("SIGKILL");
  return true;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Reject when `promise` has not settled within `ms`. Health checks need this: a client waiting
 * for a node that never answers may hold no timer, and Node would then exit mid-check with code 0.
 */
export function withTimeout(promise, ms, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Poll `probe` until it resolves truthy. On timeout, throw with the log tail so a failing CI run
 * shows why the engine did not come up.
 * @param {string} service @param {() => Promise<unknown>} probe
 * @param {{ timeoutMs: number, intervalMs?: number, logFile?: string, pidName?: string }} opts
 */
export async function waitFor(service, probe, { timeoutMs, intervalMs = 500, logFile, pidName }) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (pidName !== undefined && readPid(pidName) === undefined) {
      throw new ServiceError(service, "process exited during start-up", { logFile, cause: lastError });
    }
    await sleep(intervalMs);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new ServiceError(service, `not healthy after ${timeoutMs / 1000}s${why}`, { logFile, cause: lastError });
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port, host = "127.0.0.1", timeoutMs = 1000) {
  return new Promise((resolvePromise) => {
    const socket = connect({ port, host });
    const done = (open) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Resolve an executable on PATH, or undefined. */
export function which(command) {
  const result = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

let aptUpdated = false;
/**
 * Install missing Debian packages (idempotent: installed ones are skipped without touching apt).
 * @param {string} service @param {Record<string, string>} packagesByCommand command → Debian package
 */
export function ensureApt(service, packagesByCommand) {
  const missing = Object.entries(packagesByCommand)
    .filter(([command]) => which(command) === undefined)
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (which("apt-get") === undefined) {
    throw new ServiceError(
      service,
      `missing ${missing.join(", ")} and no apt-get to install them; install them yourself`,
    );
  }
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  log(service, `installing Debian packages: ${missing.join(" ")}`);
  const run = (args) => {
    const cmd = [...sudo, ...args];
    const result = spawnSync(cmd[0], cmd.slice(1), {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) throw new ServiceError(service, `'${cmd.join(" ")}' failed (exit ${result.status})`);
  };
  if (!aptUpdated) {
    run(["apt-get", "update", "-qq"]);
    aptUpdated = true;
  }
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
}

/**
 * Resolve Maven artifacts and their dependencies into one folder of jars under the cache,
 * once per set of coordinates. Returns that folder.
 * @param {string} service @param {string} key cache folder name, e.g. "kafka-3.9.1"
 * @param {string[]} coordinates "group:artifact:version"
 */
export function ensureMavenJars(service, key, coordinates) {
  const dir = join(cacheDir, "jars", key);
  const marker = join(dir, ".complete");
  if (existsSync(marker)) return dir;
  if (which("mvn") === undefined) throw new ServiceError(service, "Maven (mvn) is needed to fetch jars; install it");
  if (which("java") === undefined) throw new ServiceError(service, "Java 17+ is needed; install a JDK");
  const work = join(cacheDir, "jars", `${key}.pom`);
  mkdirSync(work, { recursive: true });
  const deps = coordinates
    .map((c) => {
      const [groupId, artifactId, version] = c.split(":");
      return `<dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
    })
    .join("");
  writeFileSync(
    join(work, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>` +
      `<groupId>dev.reelkit</groupId><artifactId>${key}</artifactId><version>0</version><packaging>pom</packaging>` +
      `<dependencies>${deps}</dependencies></project>`,
  );
  log(service, `fetching ${coordinates.join(", ")} from Maven Central into ${dir}`);
  const result = spawnSync(
    "mvn",
    [
      "-q",
      "-B",
      "-f",
      join(work, "pom.xml"),
      "dependency:copy-dependencies",
      `-DoutputDirectory=${dir}`,
      "-DincludeScope=runtime",
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (result.status !== 0) throw new ServiceError(service, `Maven could not fetch ${coordinates.join(", ")}`);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return dir;
}

/** Java major version on PATH, or undefined. `java -version` writes to stderr. */
export function javaMajor() {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr ?? ""}${result.stdout ?? ""}`);
  if (!match) return undefined;
  return match[1] === "1" ? Number(match[2]) : Number(match[1]);
}
