// PostgreSQL (Debian's `postgresql` package) on 127.0.0.1:15432 (non-default port so it never
// collides with a system cluster), TCP only (no Unix socket). The reference server's scaled mode
// keeps its tables here: the same SQL its embedded PGlite runs.
//
// A TEST ENGINE, NOT FOR PRODUCTION: pg_hba.conf trusts every TCP connection from 127.0.0.1 (no
// password), fsync and synchronous_commit are off (a crash of the machine may lose recent commits).
//
// The cluster is initialised once (initdb) under ~/.cache/reelkit/postgres — or, when the server
// would run as a user who cannot reach that folder (root's home is mode 700 and PostgreSQL refuses
// to run as root: it runs as the `postgres` system user the Debian package creates), under
// .reelkit/services/postgres/data. REELKIT_POSTGRES_DIR picks the folder yourself.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  cacheDir,
  ensureApt,
  log,
  readPid,
  ServiceError,
  serviceDir,
  sleep,
  spawnDaemon,
  stopDaemon,
  withTimeout,
} from "./lib.mjs";

const port = 15432;
const dir = serviceDir("postgres");
const logFile = join(dir, "postgres.log");
const debianBinRoot = "/usr/lib/postgresql";

/** The newest `/usr/lib/postgresql/<major>/bin` holding initdb and postgres, or undefined. */
export function findBinDir(root = debianBinRoot) {
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(root, major, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "postgres"))) return bin;
  }
  return undefined;
}

/** The whole pg_hba.conf of the test cluster: trust for TCP from 127.0.0.1, nothing else. */
export function hbaConf() {
  return [
    "# Written by scripts/services/postgres.mjs: a TEST engine, not for production.",
    "# Any TCP connection from 127.0.0.1 is trusted without a password; nothing else may connect.",
    "host all all 127.0.0.1/32 trust",
    "",
  ].join("\n");
}

/** The server's command-line settings (postgres -c …). */
export function serverArgs(dataDir) {
  return [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=200",
  ];
}

const isRoot = () => process.getuid?.() === 0;

/** uid and gid of the `postgres` system user (root only runs the server as that user). */
function postgresUser() {
  const id = (flag) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const uid = id("-u");
  const gid = id("-g");
  if (uid.status !== 0 || gid.status !== 0)
    throw new ServiceError(
      "postgres",
      "running as root, but there is no `postgres` system user to run the server as (PostgreSQL refuses to run as root); install Debian's postgresql package or run as another user",
    );
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** `command args` as the user that owns the cluster: ourselves, or `postgres` when we are root. */
function asOwner(command, args) {
  return isRoot()
    ? { command: "setpriv", args: ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", command, ...args] }
    : { command, args };
}

/** Whether the cluster's owner can create and enter `folder` (every parent traversable). */
function ownerCanReach(folder) {
  if (!isRoot()) return true;
  let existing = folder;
  while (!existsSync(existing)) existing = dirname(existing);
  const { command, args } = asOwner("sh", ["-c", 'test -x "$1" && test -w "$1"', "sh", existing]);
  return spawnSync(command, args, { timeout: 10_000 }).status === 0;
}

let chosenDataDir;
/** Where the cluster lives (see the header). */
export function dataDir() {
  if (chosenDataDir !== undefined) return chosenDataDir;
  const preferred = process.env.REELKIT_POSTGRES_DIR ?? join(cacheDir, "postgres");
  if (process.env.REELKIT_POSTGRES_DIR !== undefined || ownerCanReach(preferred)) chosenDataDir = preferred;
  else chosenDataDir = join(dir, "data");
  return chosenDataDir;
}

/** initdb once: a cluster is there when PG_VERSION is; a half-made one (interrupted initdb) is redone. */
function ensureCluster(bin) {
  const data = dataDir();
  if (existsSync(join(data, "PG_VERSION"))) return;
  rmSync(data, { recursive: true, force: true });
  mkdirSync(data, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(data, uid, gid);
  }
  log("postgres", `initialising a cluster in ${data}`);
  const { command, args } = asOwner(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--no-locale",
    "--auth=trust",
  ]);
  const result = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, LC_ALL: "C" }, timeout: 120_000 });
  if (result.status !== 0) {
    rmSync(data, { recursive: true, force: true });
    throw new ServiceError("postgres", `initdb failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
  writeFileSync(join(data, "pg_hba.conf"), hbaConf());
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(join(data, "pg_hba.conf"), uid, gid);
  }
}

export default {
  name: "postgres",
  logFile,
  pidNames: ["postgres"],
  startTimeoutMs: 30_000,
  env: () => ({ DATABASE_URL: process.env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${port}/postgres` }),
  external: () => (process.env.DATABASE_URL ? "DATABASE_URL" : undefined),
  install() {
    if (findBinDir() !== undefined) return;
    // The Debian package's binaries are not on PATH: ask for the path this Debian release installs.
    ensureApt("postgres", { [join(debianBinRoot, "15", "bin", "postgres")]: "postgresql" });
    if (findBinDir() === undefined)
      throw new ServiceError(
        "postgres",
        `the postgresql package is installed but ${debianBinRoot}/*/bin has no server`,
      );
  },
  async start() {
    const bin = findBinDir();
    if (bin === undefined)
      throw new ServiceError("postgres", "no PostgreSQL server binaries; run `up` to install them");
    ensureCluster(bin);
    // The server itself in the foreground (setpriv execs it), so the recorded pid is the postmaster's.
    const { command, args } = asOwner(join(bin, "postgres"), serverArgs(dataDir()));
    spawnDaemon({ name: "postgres", command, args, env: { LC_ALL: "C" }, logFile });
  },
  async check() {
    const { default: pg } = await import("pg");
    const client = new pg.Client({
      connectionString: this.env().DATABASE_URL,
      connectionTimeoutMillis: 2000,
      query_timeout: 5000,
    });
    client.on("error", () => {});
    try {
      await withTimeout(client.connect(), 5000, "connect");
      const { rows } = await client.query("SELECT 1 AS ok");
      return rows[0]?.ok === 1;
    } finally {
      await client.end().catch(() => {});
    }
  },
  async stop() {
    // SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to disconnect).
    const pid = readPid("postgres");
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGINT");
      } catch {}
      const deadline = Date.now() + 15_000;
      while (readPid("postgres") !== undefined && Date.now() < deadline) await sleep(200);
    }
    await stopDaemon("postgres");
    return pid !== undefined;
  },
};
