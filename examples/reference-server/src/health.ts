import { createRequire } from "node:module";

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
  mode: "embedded";
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

export function health(packages: PackageInfo[], startedAt: number): Health {
  return {
    status: "ok",
    mode: "embedded",
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    node: process.version,
    packages,
  };
}
