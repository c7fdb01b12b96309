import { parse, type DocumentNode } from 'graphql';
import type { OperationFacts, RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { CostModel } from './cost-model.ts';
import { planCost } from './cost-planner.ts';
import { VariableReader } from './cost-rules.ts';
import { weighOperation } from './operation-cost.ts';
import { representationCount } from './representations.ts';
import { weighResponse } from './response-cost.ts';

export { buildCostModel, type CostModel } from './cost-model.ts';

/**
 * The estimated cost of an operation, as Apollo Router's demand control makes it
 * (https://www.apollographql.com/docs/graphos/routing/security/demand-control): the sum of what
 * each fetch of its query plan weighs on its subgraph (cost-planner.ts, operation-cost.ts), an
 * entity fetch for the representations its place in the plan sends it (representations.ts).
 * Over a schema that is not a supergraph, or an operation the planner refuses (the gateway
 * will refuse it too), the operation itself is weighed.
 */
export function estimateOperationCost(
  model: CostModel,
  operation: OperationFacts,
): { cost: number; variableDependent: boolean } {
  const reader = new VariableReader(operation.variables);
  const planner = model.planner();
  let plan;
  try {
    plan = planner?.plan(operation.document, operation.name);
  } catch {
    plan = undefined;
  }
  const cost =
    planner && plan
      ? planCost(plan.node, (fetch, path) => {
          const schema = planner.schemaOf(fetch.serviceName);
          if (!schema) return 0;
          const entities = path
            ? representationCount(
                model,
                operation.schema,
                operation.document,
                operation.name,
                reader,
                path,
              )
            : undefined;
          const document = planner.documentOf(fetch);
          return weighOperation(model, schema, document, fetch.operationName, reader, entities);
        })
      : weighOperation(model, operation.schema, operation.document, operation.name, reader);
  return { cost, variableDependent: reader.read };
}

/**
 * Stage: estimates the cost of the GraphQL operation about to run (`ctx.facts.cost`, which the
 * log line and `gateway_operation_cost` report, `costLimit` bounds and rate limits spend). An
 * estimate that read no variable is kept per parsed document. A field given not exactly the one
 * slicing argument its `@listSize` requires refuses the operation here.
 */
export function estimateCost(ctx: RequestContext): void {
  const operation = ctx.operation;
  if (!operation) return;
  const model = ctx.snapshot.costModel;
  const key = operation.name ?? '';
  let perDocument = model.constant.get(operation.document);
  const known = perDocument?.get(key);
  if (known !== undefined) {
    ctx.facts.cost = known;
    return;
  }
  const estimate = estimateOperationCost(model, operation);
  ctx.facts.cost = estimate.cost;
  if (estimate.variableDependent) return;
  if (!perDocument) model.constant.set(operation.document, (perDocument = new Map()));
  perDocument.set(key, estimate.cost);
}

/**
 * Stage: refuses an operation whose estimate is over `limits.cost.max`, before any backend is
 * called or any budget charged (it runs before the rate limits). The error carries the Router's
 * extensions (`cost.estimated`, `cost.max`) and ours (`limit`, `found`, `max`).
 */
export function limitCost(ctx: RequestContext): void {
  const cost = ctx.facts.cost;
  const max = (ctx.client?.limits ?? ctx.snapshot.limits).cost.max;
  if (cost === undefined || cost <= max) return;
  throw new GatewayError(
    ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE,
    `The operation's estimated cost ${cost} exceeds the maximum cost ${max}.`,
    {
      extensions: { 'cost.estimated': cost, 'cost.max': max, limit: 'cost.max', found: cost, max },
      requestLevel: true,
    },
  );
}

/**
 * Adds one backend fetch's result to the request's actual cost (`ctx.facts.actualCost`): its
 * data weighed against the operation the gateway sent, on that subgraph's schema. Summing the
 * fetches is the Router's default (`actual_cost_mode: by_subgraph`): entity fetches and
 * `@requires` fetches count, as they do in the estimate, so the two differ only by how long
 * the lists really were.
 */
export function addFetchCost(
  ctx: RequestContext,
  subgraph: string,
  fetch: { query: string; operationName?: string | undefined; document?: DocumentNode },
  variables: Readonly<Record<string, unknown>> | undefined,
  data: unknown,
): void {
  const model = ctx.snapshot.costModel;
  const schema = model.planner()?.schemaOf(subgraph);
  if (!schema || data === undefined || data === null) return;
  const document = fetch.document ?? fetchDocument(fetch.query);
  const cost = weighResponse(
    model,
    schema,
    document,
    fetch.operationName,
    data,
    new VariableReader(variables ?? {}),
  );
  ctx.facts.actualCost = (ctx.facts.actualCost ?? 0) + cost;
}

// Fetch operations the planner did not hand over parsed, by text. The plans they come from are
// few and cached, so their operations are too; the bound only guards against a pathological
// stream of distinct plans.
const fetchDocuments = new Map<string, DocumentNode>();
const FETCH_DOCUMENTS_MAX = 1000;

function fetchDocument(query: string): DocumentNode {
  let document = fetchDocuments.get(query);
  if (!document) {
    if (fetchDocuments.size >= FETCH_DOCUMENTS_MAX) fetchDocuments.clear();
    fetchDocuments.set(query, (document = parse(query)));
  }
  return document;
}
