// Lua run inside Redis. Kept in TypeScript so the build ships it with the adapter.

/**
 * Apply a batch of events to the cells of videos, atomically. It mirrors transition() in
 * rules.ts line for line; the contract suite holds the two to the same results.
 */
export const applyScript = `-- Apply a batch of engagement events to cells of videos, atomically: dedupe by event id,
-- the (video, pair) state transition, and every counter the event moves. This mirrors
-- transition() in rules.ts line for line; the contract suite holds the two to the same results.
--
-- On a Cluster, a call holds the events of one cell, already pinned by the client:
--   KEYS = the cell's counter hash (every other key of the cell shares its {hash tag}, so its slot),
--   each event's cellRef = 1, proposed and dirKey = "".
-- On a single server, one call takes the whole batch and pins pairs itself (no KEYS):
--   cellRef = "<prefix>{<videoId>#", proposed = the cell to use if the pair is new, dirKey = its pin.
-- ARGV[1]  dedupe window in seconds
-- ARGV[2]  number of events, then 12 fields per event: cellRef, proposed, dirKey, id, type, pairKey,
--          viewerKey, day, watchMs, qualifyAtMs, reachedPoint, sessionPair (1|0)
-- Returns one string per event: "" when the id was applied before, else "<viewsDelta>:<likesDelta>".
local counters, cell
local window = tonumber(ARGV[1])
local now = tonumber(redis.call("TIME")[1])
local n = tonumber(ARGV[2])
local out = {}

local simple = {
  impression = "impressions", complete = "completions", replay = "replays",
  skip = "skips", share = "shares", comment = "comments",
}

local function bump(day, field, by)
  redis.call("HINCRBY", counters, field, by)
  redis.call("HINCRBY", cell .. ":d", day .. ":" .. field, by)
end

for i = 0, n - 1 do
  local b = 3 + i * 12
  local cellRef, proposed, dirKey = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local id, kind, pair, viewer = ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  local day = ARGV[b + 7]
  local watchMs, qualifyAt, reached = tonumber(ARGV[b + 8]), tonumber(ARGV[b + 9]), tonumber(ARGV[b + 10])
  local sessionPair = ARGV[b + 11] == "1"
  if dirKey == "" then
    counters = KEYS[tonumber(cellRef)]
  else
    -- The first writer's cell wins; a session's pin outlives its state by a whole window.
    local pinned = redis.call("SET", dirKey, proposed, "NX", "GET")
    if not pinned then pinned = proposed end
    -- Renewed on every event, like the session's state, so a long session never loses its cell.
    if sessionPair then redis.call("EXPIRE", dirKey, 2 * window) end
    counters = cellRef .. pinned .. "}:c"
  end
  cell = string.sub(counters, 1, -3)

  -- Applied ids of the cell, scored by when they were applied: an id counts once whatever ts a retry
  -- carries, and ids older than the window (no event that old is accepted any more) are trimmed.
  local ids = cell .. ":i"
  if redis.call("ZADD", ids, "NX", now, id) == 0 then
    out[i + 1] = ""
  else
    redis.call("ZREMRANGEBYSCORE", ids, "-inf", now - window)
    redis.call("EXPIRE", ids, window)
    local pairKey = cell .. ":p:" .. pair
    local st = redis.call("HMGET", pairKey, "w", "v", "m", "l")
    local watched, viewed = tonumber(st[1]) or 0, st[2] == "1"
    local maxPoint, liked = tonumber(st[3]) or -1, st[4] == "1"
    local views, likes = 0, 0

    if kind == "like" or kind == "unlike" then
      local want = kind == "like"
      if liked ~= want then
        liked = want
        likes = want and 1 or -1
        bump(day, "likes", likes)
      end
    else
      local field = simple[kind]
      if field then bump(day, field, 1) end
      if watchMs > 0 then
        bump(day, "watchMs", watchMs)
        watched = watched + watchMs
      end
      if not viewed and (kind == "complete" or watched >= qualifyAt) then
        viewed = true
        views = 1
        bump(day, "views", 1)
        redis.call("PFADD", cell .. ":h", viewer)
      end
      if reached > maxPoint then
        if maxPoint >= 0 then redis.call("HINCRBY", cell .. ":r", maxPoint, -1) end
        redis.call("HINCRBY", cell .. ":r", reached, 1)
        maxPoint = reached
      end
    end

    redis.call("HSET", pairKey, "w", watched, "v", viewed and "1" or "0", "m", maxPoint, "l", liked and "1" or "0")
    -- A session's state matters for as long as its events may arrive; a like is kept for good.
    if sessionPair then redis.call("EXPIRE", pairKey, window) end
    out[i + 1] = views .. ":" .. likes
  end
end
return out
`;

/**
 * Add weights to one trending shard's bucket sets, keeping each set alive while its window can read it.
 * KEYS: the bucket sets (one slot). ARGV: ttl seconds, then per key: member count, member, weight, …
 */
export const trendingScript = `
local ttl = tonumber(ARGV[1])
local at = 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, n do
    redis.call("ZINCRBY", KEYS[k], ARGV[at + 1], ARGV[at])
    at = at + 2
  end
  redis.call("EXPIRE", KEYS[k], ttl)
end
return 0
`;

/**
 * Fold applied events into their sessions (sessionStep in rules.ts) and the per-day session totals.
 * Sessions are spread over shards by id; a call holds one shard's events on a Cluster, any on a
 * single server. ARGV: dedupe window (s), count, then per event: shard tag, sessionId, day, ts,
 * watchMs, views.
 */
export const sessionScript = `
local window = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  local b = 3 + i * 6
  local tag, sid, day, ts = ARGV[b], ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3])
  local watch, views = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local key = tag .. ":s:" .. sid
  local st = redis.call("HMGET", key, "d", "f", "l")
  local days = tag .. ":days"
  local sday, first, last = st[1], tonumber(st[2]), tonumber(st[3])
  if not sday then
    sday, first, last = day, ts, ts
    redis.call("HINCRBY", days, sday .. ":sessions", 1)
  end
  local span = last - first
  if ts < first then first = ts end
  if ts > last then last = ts end
  if watch > 0 then redis.call("HINCRBY", days, sday .. ":watchMs", watch) end
  if views > 0 then redis.call("HINCRBY", days, sday .. ":views", views) end
  if last - first > span then redis.call("HINCRBY", days, sday .. ":lengthMs", last - first - span) end
  redis.call("HSET", key, "d", sday, "f", first, "l", last)
  redis.call("EXPIRE", key, window)
end
return 0
`;
