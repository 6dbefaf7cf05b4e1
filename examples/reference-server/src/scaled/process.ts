// Process plumbing shared by the scaled roles, free of engine clients so embedded mode never loads them.
import type { Log } from "../platform.js";

/** An engine did not answer at start-up within the bound. */
export class EngineUnavailableError extends Error {
  override readonly name = "EngineUnavailableError";
}

/** Stops the process on SIGINT/SIGTERM once `stop` resolved (a second signal exits at once; 20 s at most). */
export function onShutdown(stop: (signal: string) => Promise<void>, log: Log): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      log("closing", { signal });
      const force = setTimeout(() => {
        log("closing took too long; exiting", { signal });
        process.exit(1);
      }, 20_000);
      force.unref();
      stop(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          log("closing failed", { error: String(error) });
          process.exit(1);
        },
      );
    });
  }
}
