// The peer for the PDQ benchmark: `pdqhash` from PyPI, a Cython wrapper compiling Meta's C++
// reference (facebook/ThreatExchange pdq/cpp). Installed once, idempotently, into a virtualenv
// outside the repository: ~/.cache/reelkit/pdqhash-venv (or $REELKIT_PDQHASH_VENV).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const PDQHASH_VERSION = "0.2.8";

export interface PythonPeer {
  python: string;
  version: string;
}

function run(cmd: string, args: string[], timeoutMs = 600_000): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** A venv's python that can `import pdqhash, numpy`; creates the venv and installs them when needed. */
export function ensurePdqhash(): PythonPeer {
  const venv = process.env.REELKIT_PDQHASH_VENV ?? join(homedir(), ".cache", "reelkit", "pdqhash-venv");
  const python = join(venv, "bin", "python");
  const check = () =>
    run(python, ["-c", "import pdqhash, numpy, importlib.metadata as m; print(m.version('pdqhash'))"]);
  let ready = existsSync(python) ? check() : { ok: false, out: "" };
  if (!ready.ok) {
    process.stderr.write(
      `installing the peer pdqhash==${PDQHASH_VERSION} (Meta's C++ PDQ via Cython) into ${venv} …\n`,
    );
    const system = process.env.PYTHON ?? "python3";
    const steps: Array<[string, string[]]> = [];
    if (!existsSync(python)) {
      mkdirSync(dirname(venv), { recursive: true });
      steps.push([system, ["-m", "venv", venv]]);
    }
    steps.push([
      python,
      ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `pdqhash==${PDQHASH_VERSION}`, "numpy"],
    ]);
    for (const [cmd, args] of steps) {
      const r = run(cmd, args);
      if (!r.ok) {
        throw new Error(
          `could not install the benchmark's peer (pdqhash ${PDQHASH_VERSION} from PyPI) with \`${cmd} ${args.join(" ")}\`:\n${r.out.trim().split("\n").slice(-15).join("\n")}\n` +
            "It needs Python 3 with venv and pip, network access to PyPI, and a C++ compiler when no wheel fits " +
            "(pdqhash publishes only a source distribution). Or point REELKIT_PDQHASH_VENV at a virtualenv that has pdqhash and numpy.",
        );
      }
    }
    ready = check();
    if (!ready.ok) throw new Error(`pdqhash was installed into ${venv} but does not import:\n${ready.out}`);
  }
  return { python, version: ready.out.trim() };
}
