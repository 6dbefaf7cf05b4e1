import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65_535);

/** Everything the server reads from its environment, validated once at start-up. */
export const configSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) throw new ConfigError(`invalid environment:\n${z.prettifyError(result.error)}`);
  return result.data;
}
