// Rate limits shared by every API process: the same token bucket as the in-process limiter
// (`perMinute` tokens, refilled continuously), kept in one Redis hash per name and key and
// updated by one Lua script, so concurrent requests on any process draw from the same bucket.
// Times come from the Redis server's clock, so the processes need not agree on theirs.
import type { Redis } from "ioredis";
import type { Log } from "../platform.js";
import type { AppContext } from "../routes.js";

/** KEYS: bucket. ARGV: perMinute. Returns 1 (allowed) or 0 (empty). */
const takeScript = `
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local state = redis.call("HMGET", KEYS[1], "tokens", "at")
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
tokens = math.min(rate, tokens + math.max(0, now - at) * rate / 60000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call("HSET", KEYS[1], "tokens", tostring(tokens), "at", tostring(now))
-- A bucket left alone for a minute is full again: let it expire.
redis.call("PEXPIRE", KEYS[1], 60000)
return allowed`;

interface TakeCommand {
  reelkitRateTake(key: string, perMinute: number): Promise<number>;
}

/**
 * Rate limiters over Redis, keyed `<prefix><name>:<key>`. When Redis does not answer (within
 * `timeoutMs`), requests are let through and the failure logged once per minute: telemetry keeps
 * flowing while Redis recovers (fail open).
 */
export function createRedisLimiters(
  redis: Redis,
  options: { prefix: string; log: Log; timeoutMs?: number },
): AppContext["limiter"] {
  const { prefix, log, timeoutMs = 1000 } = options;
  redis.defineCommand("reelkitRateTake", { numberOfKeys: 1, lua: takeScript });
  const command = redis as unknown as TakeCommand;
  let warnedAt = 0;
  return (name, perMinute) => async (key) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const allowed = await Promise.race([
        command.reelkitRateTake(`${prefix}${name}:${key}`, perMinute),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return allowed === 1;
    } catch (error) {
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        log("rate limit unavailable; allowing", { limiter: name, error: String(error) });
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  };
}
