import { resolve } from "node:path";
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65_535);

/** Everything the server reads from its environment, validated once at start-up. */
export const configSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Where uploads, media, the database and the engagement journal live. */
  DATA_DIR: z
    .string()
    .min(1)
    .default(".data")
    .transform((dir) => resolve(dir)),
  /** Signs tokens and cursors; generated and kept in DATA_DIR when not given. At least 32 characters. */
  TOKEN_SECRET: z.string().min(32).optional(),
  /** x264 preset for transcodes. */
  TRANSCODE_PRESET: z.enum(["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]).default("veryfast"),
  /** Largest upload in bytes. */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
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
