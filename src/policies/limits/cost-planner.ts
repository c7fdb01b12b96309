import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import {
  QueryPlanner,
  type FetchNode,
  type PlanNode,
  type QueryPlan,
  type ResponsePath,
} from '@apollo/query-planner';
import { parse, type DocumentNode, type GraphQLSchema } from 'graphql';

/**
 * The query planner the estimate weighs with: Apollo Router estimates an operation on its query
 * plan, summing the cost of every fetch the plan sends, each weighed on its subgraph's schema
 * (`StaticCostCalculator::planned`). So the fetches a field's `@requires` adds, and the entity
 * fetches that join subgraphs, count as what they are: work a backend does.
 *
 * Apollo Gateway plans in its executor, after the operation stages have run, and keeps its
 * planner and plan cache private; this is a second planner over the same SDL, with Apollo
 * Gateway's default settings, so it produces the same plan. Plans are kept per parsed document
 * (Apollo Server reuses the document it cached), so an operation is planned here once.
 */
export interface CostPlanner {
  /** The plan of the operation `operationName` of a validated document. */
  plan(document: DocumentNode, operationName: string | undefined): QueryPlan;
  /** A subgraph's schema (with `_entities`), for weighing its fetches; undefined if unknown. */
  schemaOf(subgraph: string): GraphQLSchema | undefined;
  /** A fetch's operation, parsed once. */
  documentOf(fetch: FetchNode): DocumentNode;
}

export function createCostPlanner(supergraphSdl: string): CostPlanner {
  const supergraph = Supergraph.build(supergraphSdl);
  const planner = new QueryPlanner(supergraph);
  const apiSchema = supergraph.apiSchema();
  const subgraphs = supergraph.subgraphs();
  const schemas = new Map<string, GraphQLSchema | undefined>();
  const plans = new WeakMap<DocumentNode, Map<string, QueryPlan>>();
  const fetchDocuments = new WeakMap<FetchNode, DocumentNode>();
  return {
    plan(document, operationName) {
      let byName = plans.get(document);
      const key = operationName ?? '';
      let plan = byName?.get(key);
      if (plan) return plan;
      plan = planner.buildQueryPlan(
        operationFromDocument(apiSchema, document, operationName ? { operationName } : {}),
      );
      if (!byName) plans.set(document, (byName = new Map()));
      byName.set(key, plan);
      return plan;
    },
    schemaOf(name) {
      if (!schemas.has(name)) schemas.set(name, subgraphs.get(name)?.schema.toGraphQLJSSchema());
      return schemas.get(name);
    },
    documentOf(fetch) {
      let document = fetch.operationDocumentNode ?? fetchDocuments.get(fetch);
      if (!document) fetchDocuments.set(fetch, (document = parse(fetch.operation)));
      return document;
    },
  };
}

/**
 * Adds up what a plan's fetches weigh, as the Router does: a sequence, a parallel group and a
 * deferred part sum their nodes, a condition (`@skip`/`@include` decided by a variable at run
 * time) counts its costlier branch, and a subscription its first fetch. A fetch under a
 * `Flatten` is weighed with the response path it joins at (its entities are there).
 */
export function planCost(
  node: PlanNode | QueryPlan['node'] | undefined,
  weighFetch: (fetch: FetchNode, path: ResponsePath | undefined) => number,
  path?: ResponsePath,
): number {
  if (!node) return 0;
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return node.nodes.reduce((sum, each) => sum + planCost(each, weighFetch, path), 0);
    case 'Flatten':
      return planCost(node.node, weighFetch, node.path);
    case 'Fetch':
      return weighFetch(node, path);
    case 'Condition':
      return Math.max(
        planCost(node.ifClause, weighFetch, path),
        planCost(node.elseClause, weighFetch, path),
      );
    case 'Defer':
      return node.deferred.reduce(
        (sum, each) => sum + planCost(each.node, weighFetch, path),
        planCost(node.primary.node, weighFetch, path),
      );
    case 'Subscription':
      return weighFetch(node.primary, path);
  }
}
