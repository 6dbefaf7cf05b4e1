import { mkdir } from "node:fs/promises";
import { ConfigError, loadConfig, modeOf } from "./config.js";
import { jsonLog, startPlatform } from "./platform.js";
import { EngineUnavailableError, onShutdown } from "./scaled/process.js";
import { createReferenceServer } from "./server.js";

try {
  const config = loadConfig();
  const mode = modeOf(config);
  await mkdir(config.DATA_DIR, { recursive: true });
  if (config.REELKIT_ROLE === "transcoder" || config.REELKIT_ROLE === "aggregator") {
    // The worker processes of scaled mode: no HTTP server, only the engines.
    const role = config.REELKIT_ROLE;
    const running =
      role === "transcoder"
        ? await (await import("./scaled/transcoder.js")).startTranscoder(config, jsonLog)
        : await (await import("./scaled/aggregator.js")).startAggregator(config, jsonLog);
    console.log(`Reelkit ${role} (scaled mode) running`);
    onShutdown(() => running.stop(), jsonLog);
  } else {
    const platform = await startPlatform(config);
    const app = createReferenceServer({ platform });
    const { url } = await app.listen(config.PORT, config.HOST);
    jsonLog("listening", { url, mode, role: "api", dataDir: config.DATA_DIR });
    console.log(`Reelkit reference server (${mode} mode) on ${url} — data in ${config.DATA_DIR}`);
    onShutdown(async () => {
      await app.close();
      await platform.close();
    }, jsonLog);
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  if (error instanceof EngineUnavailableError) {
    console.error(
      `${error.message}\nstart the engines with \`node scripts/services.mjs up redis kafka cassandra postgres\``,
    );
    process.exit(1);
  }
  if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    console.error(`port already in use: set PORT to a free port (${(error as Error).message})`);
    process.exit(1);
  }
  throw error;
}
