import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { compareQueueOrder, excludedReviewer, isOpen, type ReviewStore, subjectKey } from "../queue/store.js";
import type { AuditRecord, ReviewItem, ReviewStatus } from "../queue/types.js";
import { parseWith } from "../queue/validate.js";

export interface RedisReviewStoreOptions {
  /** An ioredis `Redis` or `Cluster` client, created and owned by the caller. */
  client: Redis | Cluster;
  /**
   * Prefix of every key this store writes, so several deployments can share one Redis.
   * @default "reelkit:moderation:"
   */
  keyPrefix?: string;
  /**
   * The queue's name. Every key of one queue carries it as its hash tag (`<keyPrefix>{<queue>}:…`),
   * so a queue lives in one Cluster slot and its scripts stay atomic; separate queues (per region,
   * per language) spread over the Cluster.
   * @default "review"
   */
  queue?: string;
}

const noBraces = (what: string) => z.string().regex(/^[^{}]*$/, `${what} must not contain { or }`);

const optionsSchema = z.strictObject({
  client: z
    .custom<Redis | Cluster>(
      (value) => typeof value === "object" && value !== null && typeof (value as Redis).defineCommand === "function",
      "client must be an ioredis Redis or Cluster instance",
    )
    // The scripts build key names themselves, which ioredis's keyPrefix would not reach.
    .refine(
      (client) => !(client as Redis).options?.keyPrefix && !(client as Cluster).options?.redisOptions?.keyPrefix,
      "the client must not have an ioredis keyPrefix: use this store's keyPrefix option",
    ),
  keyPrefix: noBraces("keyPrefix").default("reelkit:moderation:"),
  queue: noBraces("queue").min(1).max(64).default("review"),
});

// Key layout, all under one hash tag `B = <prefix>{<queue>}:`:
//   B item:<id>      hash   doc (JSON of the item without the fields below), version, status, stage,
//                           score (-priority), subject, exclude, claimReviewer, claimedAt,
//                           claimExpiresAt, expiredReviewer, expiredAt, updatedAt
//   B audit:<id>     list   audit entries (JSON), oldest first
//   B ready          zset   claimable items (queued, appealed) by -priority, ties by id
//   B leases         zset   claimed items by lease end
//   B open           hash   subject key → its open item
//   B status:<s>     zset   items by status, by -priority
//   B all            zset   every item, by -priority
//   B subject:<key>  set    every item of a subject
// The scripts address keys they build from B; all share B's slot, so this holds on a Cluster.

/** Expire due leases (shared by the claim and expire scripts). ARGV[1] = B, ARGV[2] = now. */
const expireLua = `
local function entry(at, actor, action, from, to, extra)
  return '{"at":' .. at .. ',"actor":' .. cjson.encode(actor) .. ',"action":"' .. action ..
    '","from":"' .. from .. '","to":"' .. to .. '"' .. extra .. '}'
end
local base, now = ARGV[1], ARGV[2]
local expired = {}
for _, id in ipairs(redis.call("ZRANGEBYSCORE", base .. "leases", "-inf", now, "LIMIT", 0, 1000)) do
  local item = base .. "item:" .. id
  local f = redis.call("HMGET", item, "stage", "score", "claimReviewer", "claimExpiresAt", "version")
  local back = "queued"
  if f[1] == "appeal" then back = "appealed" end
  redis.call("HSET", item, "status", back, "version", tostring(tonumber(f[5]) + 1), "claimReviewer", "",
    "claimedAt", "", "claimExpiresAt", "", "expiredReviewer", f[3], "expiredAt", f[4], "updatedAt", now)
  redis.call("ZREM", base .. "leases", id)
  redis.call("ZADD", base .. "ready", f[2], id)
  redis.call("ZREM", base .. "status:claimed", id)
  redis.call("ZADD", base .. "status:" .. back, f[2], id)
  redis.call("RPUSH", base .. "audit:" .. id, entry(now, "system", "expire", "claimed", back,
    ',"reviewer":' .. cjson.encode(f[3]) .. ',"expiresAt":' .. f[4]))
  expired[#expired + 1] = id
end
`;

/**
 * KEYS[1] = B ready, KEYS[2] = B leases (they route the call to the queue's slot).
 * ARGV: B, now, reviewer, limit, expiresAt. Returns { expired ids, claimed ids }.
 */
const claimScript = `${expireLua}
local reviewer, limit, expiresAt = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local claimed = {}
-- Claimed items leave "ready"; skipped ones (appeals of the reviewer's own decisions) stay in front.
local skipped = 0
while #claimed < limit do
  local ids = redis.call("ZRANGE", base .. "ready", skipped, skipped + 99)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local item = base .. "item:" .. id
    local f = redis.call("HMGET", item, "status", "exclude", "score", "version")
    if f[2] == reviewer then
      skipped = skipped + 1
    else
      redis.call("HSET", item, "status", "claimed", "version", tostring(tonumber(f[4]) + 1), "claimReviewer", reviewer,
        "claimedAt", now, "claimExpiresAt", expiresAt, "expiredReviewer", "", "expiredAt", "", "updatedAt", now)
      redis.call("ZREM", base .. "ready", id)
      redis.call("ZADD", base .. "leases", expiresAt, id)
      redis.call("ZREM", base .. "status:" .. f[1], id)
      redis.call("ZADD", base .. "status:claimed", f[3], id)
      redis.call("RPUSH", base .. "audit:" .. id, entry(now, reviewer, "claim", f[1], "claimed", ',"expiresAt":' .. expiresAt))
      claimed[#claimed + 1] = id
      if #claimed >= limit then break end
    end
  end
end
return { expired, claimed }
`;

/** KEYS[1] = B leases. ARGV: B, now. Returns the expired ids. */
const expireScript = `${expireLua}
return expired
`;

/**
 * Insert (expected version 0: only if the subject has no open item) or compare-and-set an item,
 * keep the indexes in line and append audit entries, in one step.
 * KEYS[1] = the item's hash. ARGV: B, id, expected version, subject key, status, open ("1"/"0"),
 * score, lease end or "", field count n, n field/value pairs, then the audit entries.
 * Returns 1 when written, 0 on a version mismatch, or the id of the subject's open item.
 */
const writeScript = `
local base, id, expected, subject, status, open, score, leaseEnd = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local item = KEYS[1]
local current = tonumber(redis.call("HGET", item, "version") or "0")
if current ~= expected then return 0 end
if expected == 0 then
  local existing = redis.call("HGET", base .. "open", subject)
  if existing then return existing end
end
local old = redis.call("HGET", item, "status")
local n = tonumber(ARGV[9])
local fields = {}
for i = 1, 2 * n do fields[i] = ARGV[9 + i] end
redis.call("HSET", item, unpack(fields))
if old then redis.call("ZREM", base .. "status:" .. old, id) end
redis.call("ZADD", base .. "status:" .. status, score, id)
redis.call("ZADD", base .. "all", score, id)
if status == "queued" or status == "appealed" then
  redis.call("ZADD", base .. "ready", score, id)
else
  redis.call("ZREM", base .. "ready", id)
end
if status == "claimed" then
  redis.call("ZADD", base .. "leases", leaseEnd, id)
else
  redis.call("ZREM", base .. "leases", id)
end
if open == "1" then
  redis.call("HSET", base .. "open", subject, id)
elseif redis.call("HGET", base .. "open", subject) == id then
  redis.call("HDEL", base .. "open", subject)
end
redis.call("SADD", base .. "subject:" .. subject, id)
for i = 10 + 2 * n, #ARGV do redis.call("RPUSH", base .. "audit:" .. id, ARGV[i]) end
return 1
`;

/** Item fields kept as hash fields of their own (the claim script changes them), not in `doc`. */
type Managed = "status" | "version" | "claim" | "expiredClaim" | "updatedAt";

function toFields(item: ReviewItem): Record<string, string> {
  const { status, version, claim, expiredClaim, updatedAt, ...doc } = item;
  return {
    doc: JSON.stringify(doc),
    version: String(version),
    status,
    stage: item.stage,
    score: String(-item.priority),
    subject: subjectKey(item.subject),
    exclude: excludedReviewer(item) ?? "",
    claimReviewer: claim?.reviewer ?? "",
    claimedAt: claim === undefined ? "" : String(claim.claimedAt),
    claimExpiresAt: claim === undefined ? "" : String(claim.expiresAt),
    expiredReviewer: expiredClaim?.reviewer ?? "",
    expiredAt: expiredClaim === undefined ? "" : String(expiredClaim.expiresAt),
    updatedAt: String(updatedAt),
  };
}

function fromFields(fields: Record<string, string>): ReviewItem | undefined {
  if (fields.doc === undefined) return undefined;
  const doc = JSON.parse(fields.doc) as Omit<ReviewItem, Managed>;
  const item: ReviewItem = {
    ...doc,
    status: fields.status as ReviewStatus,
    version: Number(fields.version),
    updatedAt: Number(fields.updatedAt),
  };
  if (fields.claimReviewer) {
    item.claim = {
      reviewer: fields.claimReviewer,
      claimedAt: Number(fields.claimedAt),
      expiresAt: Number(fields.claimExpiresAt),
    };
  }
  if (fields.expiredReviewer) {
    item.expiredClaim = { reviewer: fields.expiredReviewer, expiresAt: Number(fields.expiredAt) };
  }
  return item;
}

interface Scripts {
  reelkitReviewClaim(keys: 2, ready: string, leases: string, ...argv: string[]): Promise<[string[], string[]]>;
  reelkitReviewExpire(keys: 1, leases: string, ...argv: string[]): Promise<string[]>;
  reelkitReviewWrite(keys: 1, item: string, ...argv: string[]): Promise<number | string>;
}

/**
 * A review store in Redis (a single server or a Cluster), shared by every process using the same
 * `keyPrefix` and `queue`. Items are hashes, the queue is a sorted set by priority, leases a sorted
 * set by expiry, and each item's audit log a list. Claims, lease expiry and every change (a
 * compare-and-set on the item's version, with its audit entries) are Lua scripts, so each is atomic:
 * two reviewers never claim the same item, from however many processes.
 */
export function createRedisReviewStore(options: RedisReviewStoreOptions): ReviewStore {
  const { client, keyPrefix, queue } = parseWith(
    optionsSchema,
    options,
    ModerationErrorCode.INVALID_OPTIONS,
    "Redis review store options",
  );
  const base = `${keyPrefix}{${queue}}:`;
  // Registered on the caller's client under names of our own; ioredis sends EVALSHA and falls back to EVAL.
  client.defineCommand("reelkitReviewClaim", { lua: claimScript });
  client.defineCommand("reelkitReviewExpire", { lua: expireScript });
  client.defineCommand("reelkitReviewWrite", { lua: writeScript });
  const scripts = client as unknown as Scripts;

  const backend = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      if (cause instanceof ModerationError) throw cause;
      throw new ModerationError(ModerationErrorCode.BACKEND_FAILED, `[redis] ${what} failed`, { cause });
    }
  };

  const itemKey = (id: string) => `${base}item:${id}`;

  async function read(ids: readonly string[]): Promise<ReviewItem[]> {
    const found = await Promise.all(ids.map(async (id) => fromFields(await client.hgetall(itemKey(id)))));
    return found.filter((item): item is ReviewItem => item !== undefined);
  }

  function write(item: ReviewItem, expected: number, entries: readonly AuditRecord[]): Promise<number | string> {
    const fields = Object.entries(toFields(item)).flat();
    return scripts.reelkitReviewWrite(
      1,
      itemKey(item.id),
      base,
      item.id,
      String(expected),
      subjectKey(item.subject),
      item.status,
      isOpen(item) ? "1" : "0",
      String(-item.priority),
      item.claim === undefined ? "" : String(item.claim.expiresAt),
      String(fields.length / 2),
      ...fields,
      ...entries.map((entry) => JSON.stringify(entry)),
    );
  }

  return {
    get: (id) => backend("get", async () => (await read([id]))[0]),

    insert: (item, entry) =>
      backend("insert", async () => {
        const result = await write(item, 0, [entry]);
        if (result === 1) return undefined;
        if (typeof result === "string") return result;
        throw new Error(`review item ${item.id} already exists`);
      }),

    update: (item, expectedVersion, entries) =>
      backend("update", async () => (await write(item, expectedVersion, entries)) === 1),

    claim: ({ reviewer, limit, now, expiresAt }) =>
      backend("claim", async () => {
        const [expired, claimed] = await scripts.reelkitReviewClaim(
          2,
          `${base}ready`,
          `${base}leases`,
          base,
          String(now),
          reviewer,
          String(limit),
          String(expiresAt),
        );
        return { expired, claimed: await read(claimed) };
      }),

    expire: (now) => backend("expire", () => scripts.reelkitReviewExpire(1, `${base}leases`, base, String(now))),

    list: ({ status, subjectKey: key, limit }) =>
      backend("list", async () => {
        if (key !== undefined) {
          const items = await read(await client.smembers(`${base}subject:${key}`));
          return items
            .filter((item) => status === undefined || item.status === status)
            .sort(compareQueueOrder)
            .slice(0, limit);
        }
        const index = status === undefined ? `${base}all` : `${base}status:${status}`;
        // An item may change between the two reads: it is returned as it is now, if it still matches.
        const items = await read(await client.zrange(index, 0, limit - 1));
        return items.filter((item) => status === undefined || item.status === status);
      }),

    audit: (id) =>
      backend("audit", async () => {
        const [exists, log] = await Promise.all([
          client.exists(itemKey(id)),
          client.lrange(`${base}audit:${id}`, 0, -1),
        ]);
        if (exists === 0) return undefined;
        return log.map((line) => JSON.parse(line) as AuditRecord);
      }),
  };
}
