import type { BatchingConfig } from '../config/schema.ts';
import { createOperationContext, type RequestContext } from '../kernel/context.ts';
import { ErrorCode, RequestError } from '../kernel/errors.ts';

/** One operation of a batch, run alone: its answer's JSON text. */
export type RunOperation = (
  operation: Record<string, unknown>,
  ctx: RequestContext,
) => Promise<string>;

/**
 * Serves a batch: a JSON array of operations (Apollo Client's `BatchHttpLink` format), answered
 * with the array of their results in the same order.
 *
 * Apollo Server would run a batch over one shared context, where the operation stages (limits,
 * cost, authorization, rate limits) keep per-operation state and would see each other's
 * operations. Here each operation gets a context of its own (createOperationContext) and goes
 * through Apollo Server alone, so every operation stage, present or future, judges and charges
 * it as if it had come alone, and one refused operation is one error entry among results.
 * The request stages (correlation, HTTP limits, authentication) ran once, for the HTTP request.
 *
 * The operations run concurrently, as Apollo Server and Apollo Router run a batch's: the answer
 * waits for the slowest, not for the sum. GraphQL orders mutations within one operation only, so
 * a client that needs two mutations in order sends them in one operation.
 */
export async function serveBatch(
  body: readonly unknown[],
  ctx: RequestContext,
  config: BatchingConfig,
  run: RunOperation,
): Promise<string> {
  const operations = checkBatch(body, config);
  const contexts = operations.map(() => createOperationContext(ctx));
  // Set before any runs, so a log line written early (the client went away) still shows them.
  ctx.facts.batch = contexts.map((operation) => operation.facts);
  const results = await Promise.all(
    operations.map((operation, i) => run(operation, contexts[i] as RequestContext)),
  );
  summarise(ctx);
  return `[${results.join(',')}]`;
}

/**
 * Refuses, before any operation runs, a batch that cannot be served as a whole: disabled, empty,
 * over `maximum_size` (Apollo Router's code and 422), or with an entry that is not an operation
 * object (the Router refuses the whole batch too: it cannot tell which results the client
 * expects).
 */
export function checkBatch(
  body: readonly unknown[],
  config: BatchingConfig,
): Record<string, unknown>[] {
  if (!config.enabled)
    throw new RequestError(
      ErrorCode.BATCHING_NOT_ENABLED,
      `Batched operations are not accepted (this body has ${body.length}); send one operation per request.`,
    );
  if (body.length === 0)
    throw new RequestError(
      ErrorCode.BAD_REQUEST,
      'The batch is empty; send a JSON array of one or more operations.',
    );
  if (body.length > config.maximum_size)
    throw new RequestError(
      ErrorCode.BATCH_LIMIT_EXCEEDED,
      `Batch limits exceeded: the batch has ${body.length} operations, at most ${config.maximum_size} are accepted.`,
      { limit: 'maximum_size', max: config.maximum_size, found: body.length },
    );
  const invalid = body.findIndex(
    (entry) => typeof entry !== 'object' || entry === null || Array.isArray(entry),
  );
  if (invalid !== -1)
    throw new RequestError(
      ErrorCode.BAD_REQUEST,
      `Batch entry ${invalid} is not an operation: each entry is a JSON object with a "query".`,
    );
  return body as Record<string, unknown>[];
}

/**
 * What the request's log line and metrics read of a batch: its cost is the sum of its
 * operations' estimates (an operation refused before estimation adds none), its error codes
 * every code any operation saw (the first is the request's outcome label).
 */
function summarise(ctx: RequestContext): void {
  let cost: number | undefined;
  for (const operation of ctx.facts.batch ?? []) {
    if (operation.cost !== undefined) cost = (cost ?? 0) + operation.cost;
    for (const code of operation.errorCodes) ctx.facts.errorCodes.add(code);
  }
  if (cost !== undefined) ctx.facts.cost = cost;
}
