import { existsSync, readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Connection settings published by `scripts/services.mjs up`; variables already set win.
function servicesEnv(): Record<string, string> {
  const file = new URL(".reelkit/services.env", import.meta.url);
  if (!existsSync(file)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined && process.env[match[1]] === undefined) env[match[1]] = match[2];
  }
  return env;
}

// Tests import workspace packages from source, through the same condition TypeScript uses.
const resolve = { conditions: ["@reelkit/source"] };

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: ["@reelkit/source"], externalConditions: ["@reelkit/source"] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts", "scripts/**/*.test.ts"],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"],
          // Catches hangs, not slowness: on the 2-core CI machine, files run side by side and the
          // brute-force comparisons (PDQ index, ANN recall) take 2–6 s; 5 s (the default) failed one.
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "packages/*/src/**/*.integration.test.ts",
            "examples/*/src/**/*.integration.test.ts",
            "test/**/*.test.ts",
          ],
          env: servicesEnv(),
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
