import type { RequestContext } from '../kernel/context.ts';
import { correlate } from '../observability/correlation.ts';
import { estimateCost } from '../policies/limits/cost.ts';

/** A stage does one job on the request and throws a GatewayError to end it. */
export type Stage = (ctx: RequestContext) => void | Promise<void>;

/**
 * Where a stage runs. `request` stages run for every surface (GraphQL, REST routes, transcoded
 * methods, the gRPC port) before the body is read, so a refused request costs nothing upstream.
 * `operation` stages run for GraphQL once the operation is parsed, validated and chosen
 * (Apollo Server's `didResolveOperation`, gateway/plugins/stages.ts), before planning: limits,
 * cost and authorization read `ctx.operation` there. Still to come (shared/DESIGN.md): document
 * stages at `didResolveSource`, the cache at `responseForOperation`.
 */
export type StageEvent = 'request' | 'operation';

export interface StageEntry {
  readonly name: string;
  readonly event: StageEvent;
  readonly run: Stage;
}

/** The inbound stages, in the order they run. This list is the one place that order is written. */
export const STAGES: readonly StageEntry[] = [
  { name: 'correlate', event: 'request', run: correlate },
  { name: 'estimateCost', event: 'operation', run: estimateCost },
];

/** Runs the stages of one event in order; the first that throws ends the request. */
export async function runStages(
  stages: readonly StageEntry[],
  event: StageEvent,
  ctx: RequestContext,
): Promise<void> {
  for (const stage of stages) {
    if (stage.event === event) await stage.run(ctx);
  }
}
