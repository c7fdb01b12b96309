import { randomBytes } from 'node:crypto';
import { answerWithin, whenReady, type RedisClient } from '../../../kernel/redis-reply.ts';
import type { SharedLimitStore } from './fallback.ts';
import { SLOTS_PER_WINDOW, type BudgetState, type Charge, type Decision } from './store.ts';

/**
 * Budgets in Redis, shared by every instance: one Lua script decides all charges of one
 * identity at once. Redis runs a script alone (no other command interleaves), so the check and
 * the record are one step for every instance, exactly as `MemoryLimitStore.decide` is in one
 * process; the results follow memory.ts's semantics number for number (docs/limits.md,
 * "Stores").
 *
 * Keys of one decision (`KEYS`), two per charge:
 *   `<prefix>{<identity>}:log:<policy>`  ZSET of slots (store.ts): score = the slot's newest
 *                                        admission in µs, member = `<cost>:<opened µs>:<id>`
 *   `<prefix>{<identity>}:sum:<policy>`  the sum of the ZSET's costs, kept beside it so a
 *                                        decision that fits never reads the whole log
 * The identity is the hash tag: every key of a decision lands in one Redis Cluster slot, which a
 * script touching several keys requires. The policy comes last, after a fixed marker, so no
 * policy name can make one budget's key another's.
 *
 * `ARGV`: the member id, then `limit, windowMs, cost` per charge. Time is Redis's `TIME`, read in
 * the script: instances' clocks never meet, so their skew cannot widen a window.
 *
 * Reply: `{admitted ('1'|'0'), retryAfterMs ('inf' when a cost exceeds its whole budget),
 * remaining₁, resetMs₁, remaining₂, ...}`, numbers as strings: Redis turns a Lua number into an
 * integer by truncation, and costs need not be whole.
 */
const TAKE_SCRIPT = /* lua */ `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS / 2
local member = ARGV[1]
local limits, windows, costs, sums = {}, {}, {}, {}
local retry = 0
for i = 1, n do
  local log, sumKey = KEYS[2 * i - 1], KEYS[2 * i]
  local limit = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i]) * 1000
  local cost = tonumber(ARGV[3 * i + 1])
  limits[i], windows[i], costs[i] = limit, window, cost
  -- What left the span (now - window, now] no longer counts.
  local sum = tonumber(redis.call('GET', sumKey) or '0')
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
  if #gone > 0 then
    for _, m in ipairs(gone) do sum = sum - tonumber(string.match(m, '^[^:]+')) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
    if redis.call('EXISTS', log) == 0 then
      sum = 0
      redis.call('DEL', sumKey)
    else
      redis.call('SET', sumKey, sum, 'KEEPTTL')
    end
  elseif redis.call('EXISTS', log) == 0 then
    sum = 0
  end
  sums[i] = sum
  if cost > 0 and sum + cost > limit then
    -- Refused: the wait until enough of the oldest admissions leave the window.
    local wait = -1
    if cost <= limit then
      local left = sum
      local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
      for j = 1, #entries, 2 do
        left = left - tonumber(string.match(entries[j], '^[^:]+'))
        if left + cost <= limit then
          wait = tonumber(entries[j + 1]) + window - now
          break
        end
      end
    end
    if wait < 0 then retry = -1 elseif retry >= 0 and wait > retry then retry = wait end
  end
end
local admitted = retry == 0
if admitted then
  for i = 1, n do
    if costs[i] > 0 then
      local log, sumKey = KEYS[2 * i - 1], KEYS[2 * i]
      -- The newest slot takes this admission while it is open (store.ts: slots of 1/${SLOTS_PER_WINDOW}
      -- of the window); its member is renamed, since the member carries the slot's cost.
      local last = redis.call('ZRANGE', log, -1, -1)
      local c, opened, id
      if #last == 1 then c, opened, id = string.match(last[1], '^([^:]+):([^:]+):(.+)$') end
      if opened and now - tonumber(opened) < windows[i] / ${SLOTS_PER_WINDOW} then
        redis.call('ZREM', log, last[1])
        redis.call('ZADD', log, now, (tonumber(c) + costs[i]) .. ':' .. opened .. ':' .. id)
      else
        redis.call('ZADD', log, now, costs[i] .. ':' .. now .. ':' .. member .. ':' .. i)
      end
      sums[i] = sums[i] + costs[i]
      redis.call('SET', sumKey, sums[i])
      local ttl = math.ceil(windows[i] / 1000)
      redis.call('PEXPIRE', log, ttl)
      redis.call('PEXPIRE', sumKey, ttl)
    end
  end
end
local reply = { admitted and '1' or '0', retry < 0 and 'inf' or tostring(math.ceil(retry / 1000)) }
for i = 1, n do
  local remaining = limits[i] - sums[i]
  if remaining < 0 then remaining = 0 end
  local reset = 0
  local newest = redis.call('ZRANGE', KEYS[2 * i - 1], -1, -1, 'WITHSCORES')
  if #newest == 2 then reset = math.ceil((tonumber(newest[2]) + windows[i] - now) / 1000) end
  reply[#reply + 1] = tostring(remaining)
  reply[#reply + 1] = tostring(reset)
end
return reply
`;

/** The client with the script as a command (ioredis sends EVALSHA, and EVAL once on NOSCRIPT). */
type ScriptedRedis = RedisClient & {
  gatewayLimitTake(keys: number, ...args: (string | number)[]): Promise<string[]>;
};

export interface RedisLimitStoreOptions {
  /** Prepended to every key, so several gateways (or tests) share one Redis. */
  keyPrefix: string;
  /** How long a decision may wait for Redis (`redis.command_timeout`). */
  commandTimeoutMs: number;
}

/**
 * A `LimitStore` in Redis. It does not own its connection's settings: the client comes from
 * runtime/redis.ts (timeouts, reconnects, no offline queue), and a failed command rejects, so
 * the caller (fallback.ts) decides what an unreachable Redis means.
 */
export class RedisLimitStore implements SharedLimitStore {
  readonly kind = 'redis';
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  /** Member ids: unique per process by the counter, across processes by the random part. */
  readonly #instance = randomBytes(6).toString('base64url');
  #sequence = 0;

  constructor(redis: RedisClient, options: RedisLimitStoreOptions) {
    redis.defineCommand('gatewayLimitTake', { lua: TAKE_SCRIPT });
    this.#redis = redis as ScriptedRedis;
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.commandTimeoutMs;
  }

  async take(identity: string, charges: readonly Charge[]): Promise<Decision> {
    if (charges.length === 0) return { admitted: true, retryAfterMs: 0, states: [] };
    const tag = `${this.#prefix}{${escapeTag(identity)}}`;
    const keys: string[] = [];
    const args: (string | number)[] = [`${this.#instance}${(this.#sequence++).toString(36)}`];
    for (const { policy, cost, budget } of charges) {
      keys.push(`${tag}:log:${policy}`, `${tag}:sum:${policy}`);
      args.push(budget.limit, budget.windowMs, cost);
    }
    const reply = await answerWithin(
      this.#redis.gatewayLimitTake(keys.length, ...keys, ...args),
      this.#timeoutMs,
    );
    const states: BudgetState[] = [];
    for (let i = 2; i < reply.length; i += 2)
      states.push({ remaining: Number(reply[i]), resetMs: Number(reply[i + 1]) });
    return {
      admitted: reply[0] === '1',
      retryAfterMs: reply[1] === 'inf' ? Infinity : Number(reply[1]),
      states,
    };
  }

  ready(timeoutMs: number): Promise<boolean> {
    return whenReady(this.#redis, timeoutMs);
  }

  /** The connection is the caller's to close (runtime/redis.ts): it may serve others. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An identity as it may stand inside a hash tag: `{` and `}` (and `%`, the escape) percent-
 * encoded. A `}` left in would end the tag early, and two identities could then share keys
 * (`a}:x` with policy `y`, `a` with policy `x}:y`).
 */
export function escapeTag(identity: string): string {
  return /[{}%]/.test(identity)
    ? identity.replace(/[{}%]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    : identity;
}

/** The keys one identity's budget of `policy` occupies (tests and docs read the layout here). */
export function keysOf(prefix: string, identity: string, policy: string): [string, string] {
  const tag = `${prefix}{${escapeTag(identity)}}`;
  return [`${tag}:log:${policy}`, `${tag}:sum:${policy}`];
}
