import { createRequire } from "node:module";
import type { Mode } from "./config.js";

/** The packages this server composes, in the order the platform's flow uses them. */
export const packageNames = [
  "@reelkit/upload",
  "@reelkit/transcode",
  "@reelkit/moderation",
  "@reelkit/engagement",
  "@reelkit/feed-ranker",
  "@reelkit/player",
] as const;

export interface PackageInfo {
  name: string;
  version: string;
  description: string;
}

export interface Health {
  status: "ok";
  mode: Mode;
  uptimeSeconds: number;
  node: string;
  packages: PackageInfo[];
}

const require = createRequire(import.meta.url);

/** Read each package's own manifest through its `./package.json` export: what is installed, not what we hope. */
export function readPackages(): PackageInfo[] {
  return packageNames.map((name) => {
    const manifest = require(`${name}/package.json`) as { version: string; description?: string };
    return { name, version: manifest.version, description: manifest.description ?? "" };
  });
}

export function health(packages: PackageInfo[], startedAt: number, mode: Mode = "embedded"): Health {
  return {
    status: "ok",
    mode,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    node: process.version,
    packages,
  };
}

/** One engine's answer to a readiness probe. */
export interface Check {
  ok: boolean;
  /** Round trip in milliseconds. */
  ms: number;
  error?: string;
}

export interface Readiness {
  status: "ready" | "unavailable";
  mode: Mode;
  checks: Record<string, Check>;
}

/** Runs one probe with a deadline: a hung connection is a failed check, never a hung request. */
export async function probe(work: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
