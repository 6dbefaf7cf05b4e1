import { mkdir } from "node:fs/promises";
import { ConfigError, loadConfig } from "./config.js";
import { jsonLog, startPlatform } from "./platform.js";
import { createReferenceServer } from "./server.js";

try {
  const config = loadConfig();
  await mkdir(config.DATA_DIR, { recursive: true });
  const platform = await startPlatform(config);
  const app = createReferenceServer({ platform });
  const { url } = await app.listen(config.PORT, config.HOST);
  jsonLog("listening", { url, mode: "embedded", dataDir: config.DATA_DIR });
  console.log(`Reelkit reference server (embedded mode) on ${url} — data in ${config.DATA_DIR}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      jsonLog("closing", { signal });
      void app
        .close()
        .then(() => platform.close())
        .then(() => process.exit(0));
    });
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    console.error(`port already in use: set PORT to a free port (${(error as Error).message})`);
    process.exit(1);
  }
  throw error;
}
