import type { GraphQLDataSource } from '@apollo/gateway';
import { ERRORS, errorCodeDef } from '@apollo/federation-internals';
import type {
  FetchNode,
  PlanNode,
  QueryPlanSelectionNode,
  ResponsePath,
} from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  type GraphQLSchema,
} from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';

/**
 * Runs a query plan's fetches and merges their answers into one tree of data, the way Apollo
 * Gateway's `executeQueryPlan` does (sequences in order, parallel nodes together, flatten nodes
 * at their paths, entity fetches with representations built from the data already fetched),
 * without what this gateway does not use: usage-reporting trace nodes, OpenTelemetry spans
 * (our spans come from the channels), and copies. Subgraph answers are parsed per request (even a
 * deduplicated call's: dedup.ts), so their objects become the merged tree itself rather than
 * being copied into it. Plans this does not run (`runsPlan`) go to Apollo Gateway's executor.
 */
export interface PlanRun {
  readonly requestContext: GatewayGraphQLRequestContext<RequestContext>;
  readonly serviceMap: Readonly<Record<string, GraphQLDataSource<RequestContext>>>;
  /** The supergraph, for type conditions in entity representations. */
  readonly supergraph: GraphQLSchema;
  /** The operation's variables with their defaults, for `Condition` nodes (`@skip`/`@include` on fetches). */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Errors of the fetches, in the order they came, at the client's paths. */
  readonly errors: GraphQLError[];
}

interface Cursor {
  readonly path: ResponsePath;
  readonly data: unknown;
  readonly root: Record<string, unknown>;
}

/** Whether this module runs `node`: not `@defer` (Apollo Gateway does not either) nor rewrites (`@interfaceObject`, `@fromContext`). */
export function runsPlan(node: PlanNode): boolean {
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return node.nodes.every(runsPlan);
    case 'Flatten':
      return runsPlan(node.node);
    case 'Condition':
      return (
        (!node.ifClause || runsPlan(node.ifClause)) &&
        (!node.elseClause || runsPlan(node.elseClause))
      );
    case 'Fetch':
      return (
        !node.inputRewrites?.length && !node.outputRewrites?.length && !node.contextRewrites?.length
      );
    default:
      return false;
  }
}

/** Runs `node` into `root` (the merged data, filled in place). */
export async function executePlan(
  run: PlanRun,
  node: PlanNode,
  root: Record<string, unknown>,
): Promise<void> {
  await executeNode(run, node, { path: [], data: root, root });
}

async function executeNode(run: PlanRun, node: PlanNode, cursor: Cursor): Promise<void> {
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(run, child, cursor);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(run, child, cursor)));
      return;
    case 'Flatten': {
      const data = atPath(cursor.data, node.path);
      if (data === undefined || data === null) return;
      await executeNode(run, node.node, {
        path: [...cursor.path, ...node.path],
        data,
        root: cursor.root,
      });
      return;
    }
    case 'Fetch':
      try {
        await executeFetch(run, node, cursor);
      } catch (error) {
        run.errors.push(error as GraphQLError);
      }
      return;
    case 'Condition': {
      const value = run.variables[node.condition];
      if (typeof value !== 'boolean')
        throw new Error(
          `Invalid non-boolean value ${String(value)} for Boolean! variable $${node.condition}`,
        );
      const branch = value ? node.ifClause : node.elseClause;
      if (branch) await executeNode(run, branch, cursor);
      return;
    }
    default:
      throw new Error(`internal: plan node ${node.kind} reached the gateway's plan executor`);
  }
}

/**
 * The values at `path` under `value` (`@` flattens a list), as Apollo Gateway's
 * `flattenResultsAtPath`: the value itself for a path without `@`, else one flat list of what
 * every branch reaches (nulls included; the fetch skips them), collected without intermediate lists.
 */
function atPath(value: unknown, path: ResponsePath): unknown {
  const spread = path.indexOf('@');
  if (spread === -1) return follow(value, path, 0, path.length);
  const found: unknown[] = [];
  collect(value, path, 0, found);
  return found;
}

function collect(value: unknown, path: ResponsePath, from: number, found: unknown[]): void {
  const spread = path.indexOf('@', from);
  const end = spread === -1 ? path.length : spread;
  const reached = follow(value, path, from, end);
  if (spread === -1) {
    // A list at the end of a branch is spread as well (flatMap's one level).
    if (Array.isArray(reached)) for (const element of reached) found.push(element);
    else found.push(reached);
    return;
  }
  if (reached === undefined || reached === null) {
    found.push(reached);
    return;
  }
  for (const element of reached as unknown[]) collect(element, path, spread + 1, found);
}

/** The value `path[from..end)` (field names only) leads to. */
function follow(value: unknown, path: ResponsePath, from: number, end: number): unknown {
  let at = value;
  for (let i = from; i < end; i++) {
    if (at === undefined || at === null) return at;
    const key = path[i];
    if (typeof key !== 'string') throw new Error(`Unexpected ${typeof key} found in path`);
    if (Array.isArray(at)) throw new Error(`Unexpected array in result for path element ${key}`);
    at = own(at as Record<string, unknown>, key);
  }
  return at;
}

async function executeFetch(run: PlanRun, fetch: FetchNode, cursor: Cursor): Promise<void> {
  const service = run.serviceMap[fetch.serviceName];
  if (!service) throw new Error(`Couldn't find service with name "${fetch.serviceName}"`);
  const entities = (Array.isArray(cursor.data) ? cursor.data : [cursor.data]).filter(
    (entity): entity is Record<string, unknown> => entity !== null && entity !== undefined,
  );
  if (entities.length === 0) return;
  const variables: Record<string, unknown> = {};
  const provided = run.requestContext.request.variables;
  if (fetch.variableUsages && provided)
    for (const name of fetch.variableUsages)
      if (Object.hasOwn(provided, name) && provided[name] !== undefined)
        variables[name] = provided[name];

  if (!fetch.requires) {
    const data = await send(run, fetch, cursor, variables);
    if (data) for (const entity of entities) mergeInto(entity, data);
    return;
  }
  const representations: Record<string, unknown>[] = [];
  const targets: Record<string, unknown>[] = [];
  for (const entity of entities) {
    const representation = represent(run.supergraph, entity, fetch.requires);
    if (representation?.__typename) {
      representations.push(representation);
      targets.push(entity);
    }
  }
  if (representations.length === 0) return;
  if ('representations' in variables)
    throw new Error(`Variables cannot contain key "representations"`);
  variables.representations = representations;
  const data = await send(run, fetch, cursor, variables);
  if (!data) return;
  const received = data._entities;
  if (!Array.isArray(received))
    throw new Error(`Expected "data._entities" in response to be an array`);
  if (received.length !== representations.length)
    throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
  for (let i = 0; i < received.length; i++) {
    const entity = received[i] as Record<string, unknown> | null;
    const target = targets[i]!;
    if (entity && !entity.__typename) entity.__typename = target.__typename;
    mergeInto(target, entity);
  }
}

async function send(
  run: PlanRun,
  fetch: FetchNode,
  cursor: Cursor,
  variables: Record<string, unknown>,
): Promise<Record<string, unknown> | null | undefined> {
  const { requestContext } = run;
  const response = await run.serviceMap[fetch.serviceName]!.process({
    kind: 'incoming operation' as never,
    request: { query: fetch.operation, variables, operationName: fetch.operationName },
    incomingRequestContext: requestContext,
    context: requestContext.context,
    document: fetch.operationDocumentNode,
    pathInIncomingRequest: cursor.path,
  });
  if (response.errors) {
    const pathOf = errorPaths(fetch, cursor);
    for (const error of response.errors)
      run.errors.push(downstreamError(error, fetch.serviceName, pathOf));
    if (!response.extensions?.ftv1) {
      const metrics = requestContext.metrics;
      const paths = response.errors.map((error) => ({
        subgraph: fetch.serviceName,
        path: error.path,
      }));
      if (metrics.nonFtv1ErrorPaths) metrics.nonFtv1ErrorPaths.push(...paths);
      else metrics.nonFtv1ErrorPaths = paths;
    }
  }
  return response.data;
}

/**
 * Where a subgraph error goes in the client's answer: an entity fetch's `_entities.<i>` is the
 * path of the i-th entity the fetch was made for; a root fetch's path is under the cursor's.
 */
function errorPaths(fetch: FetchNode, cursor: Cursor) {
  let entityPaths: ResponsePath[] | undefined;
  return (path: readonly (string | number)[] | undefined): ResponsePath | undefined => {
    if (!path) return undefined;
    if (fetch.requires && typeof path[1] === 'number') {
      entityPaths ??= hydratedPaths(cursor.path, cursor.root);
      return [...(entityPaths[path[1]] ?? []), ...path.slice(2)];
    }
    return [...cursor.path, ...path];
  };
}

/** The concrete path of every value `path` (with `@` for each list element) reaches in `data`. */
function hydratedPaths(path: ResponsePath, data: unknown): ResponsePath[] {
  const found: ResponsePath[] = [];
  const walk = (at: ResponsePath, from: number, value: unknown) => {
    if (value === null || value === undefined) return;
    const head = path[from];
    if (head === undefined) {
      found.push([...at]);
    } else if (head === '@' || (typeof head === 'string' && Array.isArray(value))) {
      (value as unknown[]).forEach((element, i) =>
        walk([...at, i], head === '@' ? from + 1 : from, element),
      );
    } else if (typeof head === 'string' && Object.hasOwn(value as object, head)) {
      walk([...at, head], from + 1, (value as Record<string, unknown>)[head]);
    }
  };
  walk([], 0, data);
  return found;
}

/** A subgraph's error as the client sees it (Apollo Gateway's `downstreamServiceError`). */
function downstreamError(
  original:
    | GraphQLError
    | {
        message?: string;
        extensions?: Record<string, unknown>;
        path?: readonly (string | number)[];
      },
  serviceName: string,
  pathOf: (path: readonly (string | number)[] | undefined) => ResponsePath | undefined,
): GraphQLError {
  const message = original.message || `Error while fetching subquery from service "${serviceName}"`;
  const extensions = original.extensions;
  const options = {
    originalError: original as Error,
    path: pathOf(original.path),
    extensions: { ...extensions, serviceName },
  };
  const code = errorCodeDef(original as GraphQLError);
  if (!code && extensions?.code) return new GraphQLError(message, options);
  return (code ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/**
 * An entity's representation for an `_entities` fetch: the `requires` selection of its data
 * (key fields, `@requires` fields, `__typename`), or null when the data lacks one.
 */
function represent(
  supergraph: GraphQLSchema,
  source: Record<string, unknown> | null,
  selections: readonly QueryPlanSelectionNode[],
): Record<string, unknown> | null {
  if (source === null) return null;
  // A representation is usually one type condition's fields: that fragment's object is then the
  // representation itself, not merged into another.
  let result: Record<string, unknown> | undefined;
  for (const selection of selections) {
    if (selection.kind === 'Field') {
      const name = selection.alias ?? selection.name;
      const value = own(source, name);
      if (value === undefined) return null;
      const inner = selection.selections;
      result ??= {};
      result[name] = Array.isArray(value)
        ? value.map((element) =>
            inner
              ? represent(supergraph, element as Record<string, unknown> | null, inner)
              : element,
          )
        : inner
          ? represent(supergraph, value as Record<string, unknown> | null, inner)
          : value;
    } else if (selection.typeCondition && isOfType(supergraph, source, selection.typeCondition)) {
      const fragment = represent(supergraph, source, selection.selections);
      if (result === undefined && fragment !== null) result = fragment;
      else if (result) mergeInto(result, fragment);
    }
  }
  return result ?? {};
}

/** Whether `object`'s `__typename` is `condition` or one of its possible types. */
function isOfType(
  schema: GraphQLSchema,
  object: Record<string, unknown>,
  condition: string,
): boolean {
  const typename = object.__typename;
  if (!typename || typeof typename !== 'string') return false;
  if (typename === condition) return true;
  const type = schema.getType(typename);
  const abstract = schema.getType(condition);
  if (!type || !abstract || !isAbstractType(abstract)) return false;
  return (isObjectType(type) || isInterfaceType(type)) && schema.isSubType(abstract, type);
}

/** Keys a plain object inherits: read and written as own properties only. */
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

function own(object: Record<string, unknown>, key: string): unknown {
  return INHERITED.has(key) && !Object.hasOwn(object, key) ? undefined : object[key];
}

/**
 * Merges `source` into `target` in place (Apollo Gateway's `deepMerge`): objects key by key,
 * lists of the same length element by element, anything else replaced.
 */
function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown> | null | undefined,
): void {
  if (source === null || source === undefined) return;
  // for...in rather than Object.keys: no array per object merged (answers are plain JSON
  // objects, whose keys are all their own).
  for (const key in source) {
    const value = source[key];
    if (value === undefined) continue;
    if (INHERITED.has(key) && !Object.hasOwn(target, key))
      Object.defineProperty(target, key, {
        configurable: true,
        enumerable: true,
        writable: true,
        value: undefined,
      });
    const existing = target[key];
    if (existing && isObject(value)) {
      mergeInto(existing as Record<string, unknown>, value);
    } else if (
      Array.isArray(value) &&
      Array.isArray(existing) &&
      value.length === existing.length
    ) {
      for (let i = 0; i < value.length; i++) {
        if (isObject(existing[i]) && isObject(value[i])) mergeInto(existing[i], value[i]);
        else existing[i] = value[i];
      }
    } else {
      target[key] = value;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
