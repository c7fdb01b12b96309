import type { RequestContext } from '../kernel/context.ts';
import { correlate } from '../observability/correlation.ts';

/** A stage does one job on the request and throws a GatewayError to end it. */
export type Stage = (ctx: RequestContext) => void | Promise<void>;

/**
 * Where a stage runs. `request` stages run for every surface (GraphQL today; REST and gRPC
 * routes share them) before the body is read, so a refused request costs nothing upstream.
 * Later stages hook into Apollo Server's request lifecycle (see shared/DESIGN.md): document
 * stages at `didResolveSource`, limits, cost and authorization at `didResolveOperation`, the
 * cache at `responseForOperation`.
 */
export type StageEvent = 'request';

export interface StageEntry {
  readonly name: string;
  readonly event: StageEvent;
  readonly run: Stage;
}

/** The inbound stages, in the order they run. This list is the one place that order is written. */
export const STAGES: readonly StageEntry[] = [
  { name: 'correlate', event: 'request', run: correlate },
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
