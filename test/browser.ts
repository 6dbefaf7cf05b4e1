// How tests launch the browser: Debian's Chromium through playwright-core (no browser download).
import { existsSync } from "node:fs";

/** The flags the closed network here needs: no background connections, no sandbox as root. */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}: run \`node scripts/services.mjs up\` (installs it) or set CHROMIUM_PATH`,
    );
  }
  return path;
}
