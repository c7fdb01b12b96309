import {
  getNamedType,
  isCompositeType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  parse,
  valueFromASTUntyped,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';
import { operationParts } from '../../kernel/operation.ts';

/**
 * Static cost estimation per the GraphQL Cost Directives specification
 * (https://ibm.github.io/graphql-specs/cost-spec.html), as Apollo Federation composes them
 * (`@cost`, `@listSize` from https://specs.apollo.dev/cost/v0.1) and as Apollo Router's demand
 * control counts them:
 *
 * - an operation costs its base (mutation 10, query and subscription 0) plus its fields;
 * - a field costs `instances x (type cost + its selections) + argument costs`, where the type
 *   cost is the field's `@cost` weight, else its type's, else 1 for objects, interfaces and
 *   unions and 0 for scalars and enums;
 * - `instances` is 1 for a single value; for a list, the largest slicing argument given
 *   (`@listSize(slicingArguments:)`), else `assumedSize`, else `limits.cost.list_size`;
 *   with `sizedFields` the size applies to those child fields instead (connections);
 * - arguments and input fields given in the operation add their `@cost` weights;
 * - fragments on abstract types are all counted (an upper bound), `@skip`/`@include` are
 *   applied, `__typename` and introspection cost nothing.
 *
 * The estimate is made before any backend is called. An operation whose cost does not depend on
 * its variables is estimated once per parsed document (Apollo Server reuses the document
 * object it cached).
 */

const COST_SPEC = 'https://specs.apollo.dev/cost/';
const MUTATION_BASE = 10;

interface ListSize {
  assumedSize?: number;
  slicingArguments?: readonly string[];
  sizedFields?: readonly string[];
}

/** The weights and list sizes a supergraph declares, by coordinate (`Type`, `Type.field`, ...). */
export interface CostModel {
  readonly weights: ReadonlyMap<string, number>;
  readonly listSizes: ReadonlyMap<string, ListSize>;
  /** Items assumed in a list nothing sizes. */
  readonly defaultListSize: number;
  /**
   * Estimates that do not depend on variables, by parsed document and operation name: Apollo
   * Server reuses the document object it cached, so a repeated operation is weighed once.
   */
  readonly constant: WeakMap<DocumentNode, Map<string, number>>;
}

/** Reads `@cost` and `@listSize` from a supergraph SDL, under whatever names its `@link` gives them. */
export function buildCostModel(supergraphSdl: string, defaultListSize: number): CostModel {
  const document = parse(supergraphSdl, { noLocation: true });
  const names = costDirectiveNames(document);
  const weights = new Map<string, number>();
  const listSizes = new Map<string, ListSize>();
  const read = (coordinate: string, directives: readonly DirectiveNode[] | undefined) => {
    for (const directive of directives ?? []) {
      const args = Object.fromEntries(
        (directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (directive.name.value === names.cost && typeof args.weight === 'number')
        weights.set(coordinate, args.weight);
      if (directive.name.value === names.listSize) {
        const size: ListSize = {};
        if (typeof args.assumedSize === 'number') size.assumedSize = args.assumedSize;
        if (Array.isArray(args.slicingArguments))
          size.slicingArguments = args.slicingArguments as string[];
        if (Array.isArray(args.sizedFields)) size.sizedFields = args.sizedFields as string[];
        listSizes.set(coordinate, size);
      }
    }
  };
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name) continue;
    const type = definition.name.value;
    if ('directives' in definition) read(type, definition.directives);
    if (!('fields' in definition)) continue;
    for (const field of definition.fields ?? []) {
      const coordinate = `${type}.${field.name.value}`;
      read(coordinate, field.directives);
      if ('arguments' in field)
        for (const argument of field.arguments ?? [])
          read(`${coordinate}(${argument.name.value}:)`, argument.directives);
    }
  }
  return { weights, listSizes, defaultListSize, constant: new WeakMap() };
}

/** The local names of the cost spec's directives: `@link(as:)` and `import` can rename them. */
function costDirectiveNames(document: DocumentNode): { cost: string; listSize: string } {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION)
      continue;
    for (const link of definition.directives ?? []) {
      const args = Object.fromEntries(
        (link.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (link.name.value !== 'link' || !String(args.url ?? '').startsWith(COST_SPEC)) continue;
      const prefix = typeof args.as === 'string' ? args.as : 'cost';
      const imported = new Map<string, string>();
      for (const entry of (args.import as unknown[] | undefined) ?? []) {
        if (typeof entry === 'string') imported.set(entry, entry);
        else if (entry && typeof entry === 'object' && 'name' in entry)
          imported.set(String(entry.name), String((entry as { as?: unknown }).as ?? entry.name));
      }
      const local = (name: string) => imported.get(`@${name}`)?.slice(1);
      return {
        // The directive named like the spec is the spec's own: `@cost` unless renamed.
        cost: local('cost') ?? prefix,
        listSize: local('listSize') ?? `${prefix}__listSize`,
      };
    }
  }
  return { cost: 'cost', listSize: 'listSize' };
}

export interface CostEstimate {
  cost: number;
  /** A slicing argument or a `@skip`/`@include` condition read a variable. */
  variableDependent: boolean;
}

/** The estimated cost of the operation `operationName` of `document` (validated against `schema`). */
export function estimateOperationCost(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Readonly<Record<string, unknown>>,
): CostEstimate {
  const { operation, fragments } = operationParts(document, operationName);
  const estimate: CostEstimate = { cost: 0, variableDependent: false };
  if (!operation) return estimate;
  // A named fragment costs the same wherever it is spread under the same sizes: counting it
  // once keeps fragments that spread others twice over from costing 2^depth work.
  const fragmentCosts = new Map<string, number>();
  const root = schema.getRootType(operation.operation);
  if (!root) return estimate;

  const valueOf = (node: ValueNode): unknown => {
    if (node.kind === Kind.VARIABLE) {
      estimate.variableDependent = true;
      return variables[node.name.value];
    }
    return valueFromASTUntyped(node, variables);
  };
  const included = (node: { readonly directives?: readonly DirectiveNode[] | undefined }) => {
    for (const directive of node.directives ?? []) {
      const name = directive.name.value;
      if (name !== 'skip' && name !== 'include') continue;
      const condition = directive.arguments?.find((a) => a.name.value === 'if');
      const value = condition ? valueOf(condition.value) === true : false;
      if ((name === 'skip' && value) || (name === 'include' && !value)) return false;
    }
    return true;
  };

  const inputCost = (type: GraphQLInputType, value: ValueNode): number => {
    const named = getNamedType(type);
    if (!isInputObjectType(named) || value.kind !== Kind.OBJECT) return 0;
    let cost = 0;
    for (const field of value.fields) {
      const definition = named.getFields()[field.name.value];
      if (!definition) continue;
      cost += model.weights.get(`${named.name}.${field.name.value}`) ?? 0;
      cost += inputCost(definition.type, field.value);
    }
    return cost;
  };

  const listSizeOf = (
    coordinate: string,
    field: FieldNode,
    definition: GraphQLField<unknown, unknown>,
  ) => {
    const declared = model.listSizes.get(coordinate);
    let size: number | undefined;
    for (const name of declared?.slicingArguments ?? []) {
      const given = field.arguments?.find((a) => a.name.value === name);
      const value = given
        ? valueOf(given.value)
        : definition.args.find((a) => a.name === name)?.defaultValue;
      if (typeof value === 'number' && Number.isFinite(value)) size = Math.max(size ?? 0, value);
    }
    return size ?? declared?.assumedSize ?? model.defaultListSize;
  };

  const selectionCost = (
    parent: string,
    selectionSet: SelectionSetNode,
    sized: ReadonlyMap<string, number> | undefined,
  ): number => {
    const type = schema.getType(parent);
    if (!type || !(isObjectType(type) || isInterfaceType(type))) {
      // An abstract type's own fields are only __typename; its fragments name object types.
      let cost = 0;
      for (const selection of selectionSet.selections)
        if (selection.kind !== Kind.FIELD) cost += fragmentCost(parent, selection, sized);
      return cost;
    }
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) {
        cost += fragmentCost(parent, selection, sized);
        continue;
      }
      const name = selection.name.value;
      if (name.startsWith('__') || !included(selection)) continue;
      const definition = type.getFields()[name];
      if (!definition) continue;
      cost += fieldCost(`${parent}.${name}`, selection, definition, sized?.get(name));
    }
    return cost;
  };

  const fragmentCost = (
    parent: string,
    selection: Exclude<SelectionSetNode['selections'][number], FieldNode>,
    sized: ReadonlyMap<string, number> | undefined,
  ): number => {
    if (!included(selection)) return 0;
    if (selection.kind === Kind.INLINE_FRAGMENT)
      return selectionCost(
        selection.typeCondition?.name.value ?? parent,
        selection.selectionSet,
        sized,
      );
    const fragment = fragments.get(selection.name.value);
    if (!fragment) return 0;
    const key = sized ? `${fragment.name.value}|${[...sized].join('|')}` : fragment.name.value;
    let cost = fragmentCosts.get(key);
    if (cost === undefined) {
      cost = selectionCost(fragment.typeCondition.name.value, fragment.selectionSet, sized);
      fragmentCosts.set(key, cost);
    }
    return cost;
  };

  const fieldCost = (
    coordinate: string,
    field: FieldNode,
    definition: GraphQLField<unknown, unknown>,
    sizedByParent: number | undefined,
  ): number => {
    const named = getNamedType(definition.type);
    let typeCost =
      model.weights.get(coordinate) ??
      model.weights.get(named.name) ??
      (isCompositeType(named) ? 1 : 0);
    let sizedChildren: Map<string, number> | undefined;
    let instances = 1;
    const declared = model.listSizes.get(coordinate);
    if (declared?.sizedFields?.length) {
      const size = listSizeOf(coordinate, field, definition);
      sizedChildren = new Map(declared.sizedFields.map((child) => [child, size]));
    } else if (isList(definition.type)) {
      instances = sizedByParent ?? listSizeOf(coordinate, field, definition);
    }
    if (field.selectionSet)
      typeCost += selectionCost(named.name, field.selectionSet, sizedChildren);
    let argumentCost = 0;
    for (const argument of field.arguments ?? []) {
      argumentCost += model.weights.get(`${coordinate}(${argument.name.value}:)`) ?? 0;
      const argumentDefinition = definition.args.find((a) => a.name === argument.name.value);
      if (argumentDefinition) argumentCost += inputCost(argumentDefinition.type, argument.value);
    }
    return instances * typeCost + argumentCost;
  };

  estimate.cost =
    (operation.operation === 'mutation' ? MUTATION_BASE : 0) +
    selectionCost(root.name, operation.selectionSet, undefined);
  return estimate;
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/**
 * Stage: estimates the cost of the GraphQL operation about to run (`ctx.facts.cost`, which the
 * log line and `gateway_operation_cost` report and rate limits will spend).
 */
export function estimateCost(ctx: RequestContext): void {
  const operation = ctx.operation;
  if (!operation) return;
  const model = ctx.snapshot.costModel;
  const { constant } = model;
  const key = operation.name ?? '';
  let perDocument = constant.get(operation.document);
  const known = perDocument?.get(key);
  if (known !== undefined) {
    ctx.facts.cost = known;
    return;
  }
  const estimate = estimateOperationCost(
    model,
    operation.schema,
    operation.document,
    operation.name,
    operation.variables,
  );
  ctx.facts.cost = estimate.cost;
  if (estimate.variableDependent) return;
  if (!perDocument) constant.set(operation.document, (perDocument = new Map()));
  perDocument.set(key, estimate.cost);
}
