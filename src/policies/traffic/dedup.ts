import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { channels, type Deduplicated } from '../../kernel/channels.ts';
import { UpstreamTimeoutError } from '../../kernel/errors.ts';
import type { HttpAnswer } from '../../kernel/outbound.ts';
import type { Handler, HttpExchange, Interceptor } from './exchange.ts';

/**
 * In-flight deduplication: identical read-only calls in flight at the same time make one
 * backend call, and each caller gets its own copy of the answer (Apollo Router's and Hive
 * Gateway's subgraph request deduplication).
 *
 * Identical means the same bytes at the backend: backend, method, origin, path and query, body
 * (a subgraph fetch's document, variables and operation name as sent) and every header the
 * header stages put on the call (forwarded, static, the call's own, the identity headers). So
 * two callers whose identities differ in anything the backend sees never share a call, and one
 * caller never sees data fetched for another. Left out of the key, because they differ per
 * request but do not change what the backend answers:
 * - the correlation id (`server.correlation_header`) and W3C trace context (`traceparent`,
 *   `tracestate`): a call that joins another is traced and correlated under the one it joined
 *   (Apollo Router does the same);
 * - the gateway's proof (`auth.identity.headers.proof`): it is minted from the identity headers,
 *   which are in the key (the internal JWT's `sub`, `scope`, `client_id`; the HMAC over the
 *   three headers), and from the clock, whose second or refresh boundary would otherwise split
 *   identical callers. A proof that carried more of the identity than those headers would have
 *   to join the key.
 *
 * Only calls their call site marks `idempotent` (a query's subgraph fetch, a REST GET or HEAD)
 * are candidates; mutations, writes, gRPC calls and routes' proxied bodies never are. The chain
 * puts this after the header stages (it keys on what they set) and before `publishAttempt`, so
 * one backend call is one attempt in logs, metrics and spans; the calls that joined it are
 * published on `gateway:dedup`.
 *
 * Failures: the call's error is every joined caller's error, except a timeout that was the
 * leading request's own budget running out (not the backend's doing), after which a caller that
 * still has time makes the call itself. A joined caller waits no longer than its own deadline,
 * and its giving up changes nothing for the others. No caller cancels the backend call: it runs
 * to its answer or its own timeout (a client that leaves does not abort backend calls).
 */

/** Whether calls to a backend are deduplicated: `traffic.dedup.enabled`, `subgraphs.<name>.dedup`. */
export interface DedupSettings {
  /** @default true */
  readonly enabled: boolean;
  /** Per backend (subgraph name), overriding `enabled`. */
  readonly backends: ReadonlyMap<string, boolean>;
}

export const DEFAULT_DEDUP: DedupSettings = { enabled: true, backends: new Map() };

/** Headers that differ per request and say nothing to the backend about what to answer. */
const PER_REQUEST = new Set(['traceparent', 'tracestate']);

/** One answer, read whole: what every caller of a shared call reads its own copy of. */
interface Recorded {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Never written to: each reader gets a fresh stream and fresh strings over it. */
  readonly bytes: Buffer;
}

interface Flight {
  readonly answer: Promise<Recorded>;
  /** Callers that joined: with none, the leader reads the backend's stream as is. */
  followers: number;
  /** The call timed out on the leading request's budget: not an answer for the others. */
  cut: boolean;
}

/**
 * The interceptor. `proofHeader` is the name the gateway's proof goes under. Flights live in
 * the chain, one map per snapshot: a reload's new chain starts with none.
 */
export function dedup(settings: DedupSettings, proofHeader: string): Interceptor {
  const flights = new Map<string, Flight>();
  const enabledFor = (backend: string) => settings.backends.get(backend) ?? settings.enabled;
  return (next) => {
    const run: Handler = (exchange) => {
      const ex = exchange as HttpExchange;
      // A route's answer is the client's to stream, never a copy held in memory for others.
      if (
        ex.target.protocol !== 'http' ||
        ex.call.idempotent !== true ||
        ex.target.kind === 'route'
      )
        return next(exchange);
      if (!enabledFor(ex.target.backend)) return next(exchange);
      const key = keyOf(ex, proofHeader);
      const flight = flights.get(key);
      return flight ? follow(flight, ex, run) : lead(flights, key, ex, next);
    };
    return run;
  };
}

/** The first of identical calls: it makes the call, and records the answer when others wait. */
async function lead(
  flights: Map<string, Flight>,
  key: string,
  exchange: HttpExchange,
  next: Handler,
): Promise<unknown> {
  let settle!: { resolve(recorded: Recorded): void; reject(error: unknown): void };
  const answer = new Promise<Recorded>((resolve, reject) => (settle = { resolve, reject }));
  // Nobody may be waiting when it fails: not an unhandled rejection.
  answer.catch(() => undefined);
  const flight: Flight = { answer, followers: 0, cut: false };
  flights.set(key, flight);
  const { read } = exchange;
  // The leader's own read runs inside the transport, as without dedup: its timeout bounds it,
  // and a 2xx it cannot use still counts against the backend.
  const leading: HttpExchange = {
    ...exchange,
    read: async (response: HttpAnswer) => {
      // From the answer on, an identical call is a new call: only calls in flight share.
      flights.delete(key);
      if (flight.followers === 0) return read(response);
      const recorded: Recorded = {
        status: response.status,
        headers: response.headers,
        bytes: Buffer.from(await response.body.arrayBuffer()),
      };
      settle.resolve(recorded);
      return read(answerOf(recorded));
    },
  };
  try {
    return await next(leading);
  } catch (error) {
    flight.cut = error instanceof UpstreamTimeoutError && leading.budgetCut;
    settle.reject(error);
    throw error;
  } finally {
    if (flights.get(key) === flight) flights.delete(key);
  }
}

/**
 * A call identical to one in flight: waits for its answer, within its own deadline. `again`
 * runs it through dedup anew, when the call it joined was cut short by its leader's budget.
 */
async function follow(flight: Flight, exchange: HttpExchange, again: Handler): Promise<unknown> {
  flight.followers++;
  if (channels.dedup.hasSubscribers) {
    const joined: Deduplicated = { ctx: exchange.ctx, target: exchange.target };
    channels.dedup.publish(joined);
  }
  const joinedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let ownTimeout = false;
  const ownDeadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ownTimeout = true;
      reject(new UpstreamTimeoutError(exchange.target.backend, exchange.timeoutMs));
    }, exchange.timeoutMs);
  });
  let recorded: Recorded;
  try {
    recorded = await Promise.race([flight.answer, ownDeadline]);
  } catch (error) {
    if (ownTimeout || !flight.cut) throw error;
    // The leading request ran out of its own time; this one still has some: it calls again
    // (the first of those that joined leads the new call, the others join it).
    exchange.timeoutMs -= Math.ceil(performance.now() - joinedAt);
    if (exchange.timeoutMs <= 0) throw new UpstreamTimeoutError(exchange.target.backend, 0);
    return again(exchange);
  } finally {
    clearTimeout(timer);
  }
  return exchange.read(answerOf(recorded));
}

/**
 * The key: every byte of the call the backend sees, but the per-request headers named above.
 * Header names are lower-cased and sorted, so the order the stages set them in does not matter.
 */
function keyOf(exchange: HttpExchange, proofHeader: string): string {
  const { call, headers, target, ctx } = exchange;
  const correlation = ctx?.correlationHeader;
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (PER_REQUEST.has(lower) || lower === proofHeader || lower === correlation) continue;
    entries.push([lower, value]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  const body =
    call.body === undefined
      ? ''
      : typeof call.body === 'string'
        ? call.body
        : call.body.toString('latin1');
  // JSON for the parts that could hold a separator; the body last, so it needs none.
  return `${JSON.stringify([target.backend, call.method, call.origin, call.path, entries])}\n${body}`;
}

/** A reader's own answer over the recorded bytes: a fresh stream and undici's body helpers. */
function answerOf(recorded: Recorded): HttpAnswer {
  const { bytes } = recorded;
  const body = Object.assign(Readable.from([bytes], { objectMode: false }), {
    text: () => Promise.resolve(bytes.toString('utf8')),
    json: () => Promise.resolve(JSON.parse(bytes.toString('utf8')) as unknown),
    arrayBuffer: () => Promise.resolve(new Uint8Array(bytes).buffer),
    bytes: () => Promise.resolve(new Uint8Array(bytes)),
    dump: () => Promise.resolve(),
  });
  return {
    status: recorded.status,
    headers: { ...recorded.headers },
    body: body as unknown as HttpAnswer['body'],
  };
}
