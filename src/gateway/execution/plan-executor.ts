import { createHash } from 'node:crypto';
import {
  buildOperationContext,
  executeQueryPlan,
  type ApolloGateway,
  type GraphQLDataSource,
} from '@apollo/gateway';
import { operationFromDocument, type Schema } from '@apollo/federation-internals';
import { prettyFormatQueryPlan, type QueryPlan, type QueryPlanner } from '@apollo/query-planner';
import type {
  GatewayExecutionResult,
  GatewayGraphQLRequestContext,
} from '@apollo/server-gateway-interface';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import {
  GraphQLError,
  Kind,
  valueFromASTUntyped,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';
import { executePlan, runsPlan, type PlanRun } from './execute-plan.ts';
import { CompiledShape } from './shape-response.ts';

type Executor = ApolloGateway['executor'];
type OperationContext = ReturnType<typeof buildOperationContext>;

/**
 * What Apollo Gateway keeps private and its executor reads: the schemas, the planner and its plan
 * cache, the data sources. Read at each request, as Apollo's own executor does, so a supergraph
 * update (which replaces them) applies to the next request. The versions are pinned; the
 * federation parity tests fail if these move.
 */
interface GatewayInternals {
  readonly schema?: GraphQLSchema;
  readonly apiSchema?: Schema;
  readonly supergraphSchema?: GraphQLSchema;
  readonly queryPlanner?: QueryPlanner;
  readonly queryPlanStore: KeyValueCache<QueryPlan>;
  readonly serviceMap: Record<string, { dataSource: GraphQLDataSource<RequestContext> }>;
  readonly config: { readonly __exposeQueryPlanExperimental?: boolean };
  readonly logger: { warn(message: string): void };
  readonly recursiveSelectionsLimitDisabled: boolean;
  readonly nonLocalSelectionsLimitDisabled: boolean;
  readonly experimental_didResolveQueryPlan?: (options: {
    queryPlan: QueryPlan;
    serviceMap: Record<string, GraphQLDataSource<RequestContext>>;
    requestContext: GatewayGraphQLRequestContext<RequestContext>;
    operationContext: OperationContext;
  }) => void;
  validateIncomingRequest(
    requestContext: GatewayGraphQLRequestContext<RequestContext>,
    operationContext: OperationContext,
  ): readonly GraphQLError[];
}

/** Operations whose compiled shapes are kept per API schema (each a few KiB). */
const MAX_OPERATIONS = 2_000;

/** An operation's compiled shapes, one per value of the variables its `@skip`/`@include` read. */
interface Shapes {
  /** Apollo Gateway's post-processing runs it: it selects introspection fields or names a field `__proto__`. */
  readonly apollo: boolean;
  readonly conditions: readonly string[];
  readonly byConditions: Map<string, CompiledShape>;
}

/**
 * Apollo Gateway's executor with our plan execution: the planner, the plan cache and the
 * supergraph stay Apollo's (planning, variable validation and the query-plan callback as its
 * executor does them), and the plan runs in `execute-plan.ts`, then is shaped by a compiled
 * shape (`shape-response.ts`) instead of `executeQueryPlan`'s interpreted walk. The answer is
 * the same, errors and their paths included (the parity tests compare it with a bare Apollo
 * Gateway on the whole corpus). Plans it does not run (rewrites for `@interfaceObject` or
 * `@fromContext`) and operations with introspection fields go to `executeQueryPlan` itself.
 */
export function planExecutor(gateway: ApolloGateway): Executor {
  const internals = gateway as unknown as GatewayInternals;
  const shapesBySchema = new WeakMap<GraphQLSchema, Map<string, Shapes>>();
  const runnable = new WeakMap<QueryPlan, boolean>();

  return async (requestContext) => {
    const context = requestContext as GatewayGraphQLRequestContext<RequestContext>;
    const { request, document, queryHash } = context;
    const { schema, apiSchema, supergraphSchema, queryPlanner } = internals;
    if (!schema || !apiSchema || !supergraphSchema || !queryPlanner)
      throw new Error('internal: the gateway has no schema loaded');
    const planKey = request.operationName
      ? createHash('sha256').update(queryHash).update(request.operationName).digest('hex')
      : queryHash;
    const operationContext = buildOperationContext({
      schema,
      operationDocument: document,
      operationName: request.operationName,
    });
    const validationErrors = internals.validateIncomingRequest(context, operationContext);
    if (validationErrors.length > 0) return { errors: validationErrors };

    let queryPlan = await internals.queryPlanStore.get(planKey);
    if (!queryPlan) {
      const operation = operationFromDocument(apiSchema, document, {
        operationName: request.operationName,
      });
      queryPlan = queryPlanner.buildQueryPlan(operation, {
        recursiveSelectionsLimitDisabled: internals.recursiveSelectionsLimitDisabled,
        nonLocalSelectionsLimitDisabled: internals.nonLocalSelectionsLimitDisabled,
      });
      try {
        await internals.queryPlanStore.set(planKey, queryPlan);
      } catch (error) {
        internals.logger.warn(`Could not store queryPlan ${(error as Error).message}`);
      }
    }
    const serviceMap: Record<string, GraphQLDataSource<RequestContext>> = {};
    for (const [name, { dataSource }] of Object.entries(internals.serviceMap))
      serviceMap[name] = dataSource;
    internals.experimental_didResolveQueryPlan?.({
      queryPlan,
      serviceMap,
      requestContext: context,
      operationContext,
    });

    let shapes = shapesBySchema.get(schema);
    if (!shapes) shapesBySchema.set(schema, (shapes = new Map()));
    let operationShapes = shapes.get(planKey);
    if (!operationShapes) {
      operationShapes = shapesOf(operationContext);
      if (shapes.size >= MAX_OPERATIONS) shapes.delete(shapes.keys().next().value as string);
      shapes.set(planKey, operationShapes);
    }
    let runs = runnable.get(queryPlan);
    if (runs === undefined) {
      runs =
        !queryPlan.node || (queryPlan.node.kind !== 'Subscription' && runsPlan(queryPlan.node));
      runnable.set(queryPlan, runs);
    }
    const variables = variablesOf(operationContext, request.variables);
    const shape =
      runs && !operationShapes.apollo
        ? shapeFor(operationShapes, operationContext, variables)
        : undefined;
    const response = shape
      ? await execute(queryPlan, shape, {
          requestContext: context,
          serviceMap,
          supergraph: supergraphSchema,
          variables,
          errors: [],
        })
      : await executeQueryPlan(
          queryPlan,
          serviceMap,
          context,
          operationContext,
          supergraphSchema,
          apiSchema,
        );
    exposePlan(internals, context, queryPlan, response);
    return response;
  };
}

async function execute(
  queryPlan: QueryPlan,
  shape: CompiledShape,
  run: PlanRun,
): Promise<GatewayExecutionResult> {
  const merged: Record<string, unknown> = {};
  if (queryPlan.node && queryPlan.node.kind !== 'Subscription')
    await executePlan(run, queryPlan.node, merged);
  let shaped;
  try {
    shaped = shape.shape(merged);
  } catch (error) {
    // Apollo Gateway's answer when a subgraph's data cannot be shaped at all (a list where an
    // object belongs): that error alone, without data.
    return {
      errors: [
        error instanceof GraphQLError
          ? error
          : new GraphQLError((error as Error).message, { originalError: error as Error }),
      ],
    };
  }
  const { errors } = run;
  // Shaping errors are reported only when the fetches had none, in `extensions` (Apollo's rule).
  if (errors.length === 0 && shaped.errors.length > 0)
    return { extensions: { valueCompletion: shaped.errors }, data: shaped.data };
  return errors.length === 0 ? { data: shaped.data } : { errors, data: shaped.data };
}

/** The operation's variables with their declared defaults, as Apollo's post-processing reads them. */
function variablesOf(
  operationContext: OperationContext,
  provided: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const definitions = operationContext.operation.variableDefinitions;
  if (!definitions?.length) return provided ?? {};
  const variables: Record<string, unknown> = {};
  for (const definition of definitions)
    if (definition.defaultValue)
      variables[definition.variable.name.value] = valueFromASTUntyped(definition.defaultValue);
  return { ...variables, ...provided };
}

/** What an operation's shaping needs to know before compiling: which variables its conditions read. */
function shapesOf(operationContext: OperationContext): Shapes {
  const conditions = new Set<string>();
  let apollo = false;
  const scan = (node: DocumentNode['definitions'][number]) =>
    visit(node, {
      Field(field) {
        const name = field.name.value;
        if (name === '__schema' || name === '__type' || field.alias?.value === '__proto__')
          apollo = true;
      },
      Directive(directive) {
        if (directive.name.value !== 'skip' && directive.name.value !== 'include') return;
        for (const argument of directive.arguments ?? [])
          if (argument.value.kind === Kind.VARIABLE) conditions.add(argument.value.name.value);
      },
    });
  scan(operationContext.operation);
  for (const fragment of Object.values<FragmentDefinitionNode>(operationContext.fragments))
    scan(fragment);
  return { apollo, conditions: [...conditions], byConditions: new Map() };
}

/** The compiled shape for these variables' values of the operation's conditions. */
function shapeFor(
  shapes: Shapes,
  operationContext: OperationContext,
  variables: Record<string, unknown>,
): CompiledShape | undefined {
  let key = '';
  for (const name of shapes.conditions) {
    const value = variables[name];
    // Apollo's post-processing refuses a non-boolean condition with its own error: let it.
    if (typeof value !== 'boolean') return undefined;
    key += value ? '1' : '0';
  }
  let shape = shapes.byConditions.get(key);
  if (!shape) {
    const fragments = new Map<string, FragmentDefinitionNode>(
      Object.entries(operationContext.fragments),
    );
    // Only the conditions' values: the shape outlives this request's variables.
    const values = Object.fromEntries(shapes.conditions.map((name) => [name, variables[name]]));
    shape = new CompiledShape(
      operationContext.schema,
      operationContext.operation,
      fragments,
      values,
    );
    shapes.byConditions.set(key, shape);
  }
  return shape;
}

/** In development, the plan in `extensions` when the request asks (Apollo Gateway's `Apollo-Query-Plan-Experimental`). */
function exposePlan(
  internals: GatewayInternals,
  context: GatewayGraphQLRequestContext<RequestContext>,
  queryPlan: QueryPlan,
  response: GatewayExecutionResult,
): void {
  const headers = context.request.http?.headers;
  if (
    !internals.config.__exposeQueryPlanExperimental ||
    !headers?.get('Apollo-Query-Plan-Experimental')
  )
    return;
  const format = headers.has('Apollo-Query-Plan-Experimental-Format')
    ? headers.get('Apollo-Query-Plan-Experimental-Format')
    : 'prettified';
  const pretty = queryPlan.node ? prettyFormatQueryPlan(queryPlan) : null;
  response.extensions = {
    __queryPlanExperimental:
      format === 'prettified' ? pretty || true : format === 'internal' ? queryPlan : true,
  };
}
