import { ConfigError, loadConfig } from "./config.js";
import { createReferenceServer } from "./server.js";

try {
  const config = loadConfig();
  const app = createReferenceServer();
  const { url } = await app.listen(config.PORT, config.HOST);
  console.log(`Reelkit reference server (embedded mode) listening on ${url}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`${signal}: closing`);
      void app.close().then(() => process.exit(0));
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
