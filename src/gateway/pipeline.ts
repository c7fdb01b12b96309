import { identifyClient } from '../bff/identify-client.ts';
import { channels } from '../kernel/channels.ts';
import type { RequestContext, Surface } from '../kernel/context.ts';
import { asRequestLevel, GatewayError } from '../kernel/errors.ts';
import { correlate } from '../observability/correlation.ts';
import { cors } from '../policies/cors/cors.ts';
import { authenticate } from '../policies/auth/authenticate.ts';
import { authorize } from '../policies/auth/authorize.ts';
import { cacheLookup } from '../policies/cache/response-cache.ts';
import { estimateCost, limitCost } from '../policies/limits/cost.ts';
import { httpLimits } from '../policies/limits/http-limits.ts';
import { refuseIntrospection } from '../policies/limits/introspection.ts';
import { limitOperation } from '../policies/limits/operation-limits.ts';
import { rateLimit } from '../policies/limits/rate-limit.ts';
import { shedLoad } from '../policies/traffic/load-shed.ts';

/**
 * A stage does one job on the request. It throws a GatewayError to refuse it, or sets
 * `ctx.reply` to answer it in place of the surface (a CORS preflight): either ends the request.
 */
export type Stage = (ctx: RequestContext) => void | Promise<void>;

/**
 * Where a stage runs. `request` stages run for every surface they name (GraphQL, REST routes
 * and transcoded methods, the gRPC port) before the body is read, so a refused request costs
 * nothing upstream. `operation` stages run for GraphQL once the operation is parsed, validated
 * and chosen (Apollo Server's `didResolveOperation`, gateway/plugins/stages.ts), before
 * planning: limits, cost and authorization read `ctx.operation` there.
 */
export type StageEvent = 'request' | 'operation';

export interface StageEntry {
  readonly name: string;
  readonly event: StageEvent;
  /** The surfaces it runs on. @default every surface */
  readonly surfaces?: readonly Surface[];
  readonly run: Stage;
}

/**
 * The inbound stages, in the order they run. This list is the one place that order is written;
 * docs/pipeline.md shows it as a table, and a test holds the two together. The operation's
 * limits come first among the operation stages: a cheap count that refuses a hostile document
 * before the cost walk.
 */
export const STAGES: readonly StageEntry[] = [
  { name: 'correlate', event: 'request', run: correlate },
  // Before anything reads a credential: a preflight carries none and is answered here. Its CORS
  // headers are set before every later refusal, so a browser lets the page read a 401 or 429.
  { name: 'cors', event: 'request', surfaces: ['graphql', 'rest'], run: cors },
  // Admission, as early as an answer can carry the correlation id and (for a page) the CORS
  // headers: under a flood nothing else is spent on a request the gateway has no room for; a
  // flood of bad tokens or oversize headers is shed too. Every surface, one gate.
  { name: 'shedLoad', event: 'request', run: shedLoad },
  // Right after correlate and cors: the refusal carries the correlation id and the CORS headers
  // (the page can read it), and nothing reads a header (credentials above all) of a request
  // whose headers are over the limit. cors reads three short ones; Node bounds their size.
  { name: 'httpLimits', event: 'request', surfaces: ['graphql', 'rest'], run: httpLimits },
  { name: 'authenticate', event: 'request', run: authenticate },
  // After authenticate: on the default endpoint a verified API key can pick the client. Before
  // every policy stage, which read the client's policies (bff/identify-client.ts).
  { name: 'identifyClient', event: 'request', surfaces: ['graphql'], run: identifyClient },
  // One limiter, two places: where a REST or gRPC request is known (its caller), and where a
  // GraphQL operation is (its cost, below).
  { name: 'rateLimit', event: 'request', surfaces: ['rest', 'grpc'], run: rateLimit },
  { name: 'operationLimits', event: 'operation', surfaces: ['graphql'], run: limitOperation },
  { name: 'introspection', event: 'operation', surfaces: ['graphql'], run: refuseIntrospection },
  { name: 'estimateCost', event: 'operation', surfaces: ['graphql'], run: estimateCost },
  // Right after the estimate and before any rate limit: an operation refused for its cost is
  // charged nothing.
  { name: 'costLimit', event: 'operation', surfaces: ['graphql'], run: limitCost },
  // After the cost is known (an alias-amplified query spends its cost, not 1) and after every
  // limit that refuses an operation for what it is, so a refused operation is never charged.
  { name: 'rateLimit', event: 'operation', surfaces: ['graphql'], run: rateLimit },
  { name: 'authorize', event: 'operation', surfaces: ['graphql'], run: authorize },
  // Last: a cached answer is served only to an operation every stage above let through (its
  // caller authorized for each field, its budget charged), and nothing is looked up for one
  // they refuse.
  { name: 'cacheLookup', event: 'operation', surfaces: ['graphql'], run: cacheLookup },
];

const SURFACES: readonly Surface[] = ['graphql', 'rest', 'grpc'];

/**
 * Runs stages: the one function that does, for every event and surface. Each stage is
 * published on `gateway:stage` (start, end, error) when something subscribes; a stage that
 * throws a GatewayError ends the whole request with that error's status, one that sets
 * `ctx.reply` ends it with that answer.
 */
export class Pipeline {
  readonly stages: readonly StageEntry[];
  /** The stages of each event and surface, filtered once. */
  readonly #lists = new Map<string, readonly StageEntry[]>();

  constructor(stages: readonly StageEntry[] = STAGES) {
    this.stages = stages;
    for (const event of ['request', 'operation'] as const) {
      for (const surface of SURFACES) {
        this.#lists.set(
          `${event}:${surface}`,
          stages.filter((s) => s.event === event && (s.surfaces?.includes(surface) ?? true)),
        );
      }
    }
  }

  /** Whether any stage runs at this event on this surface. */
  has(event: StageEvent, surface: Surface): boolean {
    return (this.#lists.get(`${event}:${surface}`)?.length ?? 0) > 0;
  }

  async run(event: StageEvent, ctx: RequestContext): Promise<void> {
    for (const stage of this.#lists.get(`${event}:${ctx.facts.surface}`) ?? []) {
      try {
        if (channels.stage.hasSubscribers) {
          await channels.stage.tracePromise(async () => stage.run(ctx), { ctx, stage: stage.name });
        } else {
          await stage.run(ctx);
        }
      } catch (error) {
        throw error instanceof GatewayError ? asRequestLevel(error) : error;
      }
      // A stage answered the request: no later stage runs.
      if (ctx.reply) return;
    }
  }
}
