// How tests run a package's TypeScript entry point (a CLI, a fixture server) as its own process:
// tsx from the repository's node_modules, resolving workspace packages to their sources.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const tsxPath = join(repoRoot, "node_modules", ".bin", "tsx");

/** The argv that runs `entry` (a .ts file) from source: pass to spawn(tsxPath, …). */
export const sourceArgs = (entry: string, args: readonly string[] = []) => [
  "--conditions=@reelkit/source",
  entry,
  ...args,
];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `entry` to completion in the repository root; never rejects (the exit code is in `code`). */
export function runSource(entry: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      tsxPath,
      sourceArgs(entry, args),
      { cwd: repoRoot, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
