import {
  getNamedType,
  isCompositeType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { operationParts } from '../../kernel/operation.ts';
import type { CostModel } from './cost-model.ts';
import {
  applies,
  argumentsCost,
  expectedSize,
  fieldEntry,
  fieldOf,
  isList,
  runtimeTypes,
  typeWeight,
  type VariableReader,
} from './cost-rules.ts';

/**
 * The static cost of one operation over one schema, per the GraphQL Cost Directives
 * specification (https://ibm.github.io/graphql-specs/cost-spec.html) as Apollo Router counts it
 * (apollo-router/src/plugins/demand_control/cost_calculator/static_cost.rs):
 *
 * - an operation costs its base (mutation 10, query and subscription 0) plus its fields;
 * - a field costs `instances x (type weight + its selections) + argument costs`
 *   (cost-rules.ts for the weights and arguments);
 * - `instances` is 1 for a single value; for a list, the largest slicing argument
 *   (`@listSize(slicingArguments:)`: an Int, or a list's length, given or by default, at a
 *   path that may go into input objects), else `assumedSize`, else `limits.cost.list_size`;
 *   with `sizedFields` the size applies to those child fields too (connections);
 * - `requireOneSlicingArgument` (true unless the schema says false): a field given not exactly
 *   one slicing argument refuses the operation, with the Router's code;
 * - a selection on an abstract type costs the most any of its object types could: each
 *   possible type is weighed with the fragments that apply to it, and the largest counts.
 *   Here we differ from the Router, which adds every fragment up: a value is of one type, so
 *   the maximum is still an upper bound, and a client that lists ten union members is not
 *   charged ten times;
 * - `@skip`/`@include` are applied; `__typename` and introspection cost nothing;
 * - an entity fetch (`entities` given: the representations it will carry, from its place in the
 *   plan, representations.ts) counts that many `_entities` instances, and not the arguments of
 *   `_entities`: they are the planner's representations, not anything the client sized.
 *
 * A selection set is weighed once per parent type and sizing, however many times fragments
 * spread it, so a document whose fragments spread others twice over is weighed in linear time.
 */
export function weighOperation(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  reader: VariableReader,
  entities?: number,
): number {
  const { operation, fragments } = operationParts(document, operationName);
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const weighed = new Map<SelectionSetNode, Map<string, number>>();

  const selectionCost = (
    parent: GraphQLNamedType,
    selectionSet: SelectionSetNode,
    sized: ReadonlyMap<string, number> | undefined,
  ): number => {
    const key = sized ? `${parent.name}|${[...sized].join('|')}` : parent.name;
    let byType = weighed.get(selectionSet);
    const known = byType?.get(key);
    if (known !== undefined) return known;
    let cost = 0;
    for (const type of runtimeTypes(schema, parent))
      cost = Math.max(cost, objectCost(type, selectionSet, sized));
    if (!byType) weighed.set(selectionSet, (byType = new Map()));
    byType.set(key, cost);
    return cost;
  };

  // The selections of `selectionSet` that apply to a value of object type `type`.
  const objectCost = (
    type: GraphQLNamedType,
    selectionSet: SelectionSetNode,
    sized: ReadonlyMap<string, number> | undefined,
  ): number => {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (!reader.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const definition = fieldOf(type, name);
        if (definition) cost += fieldCost(type, selection, definition, sized?.get(name));
        continue;
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
      if (!fragment || !applies(schema, fragment.typeCondition?.name.value, type)) continue;
      cost += selectionCost(type, fragment.selectionSet, sized);
    }
    return cost;
  };

  const fieldCost = (
    parent: GraphQLNamedType,
    field: FieldNode,
    definition: GraphQLField<unknown, unknown>,
    sizedByParent: number | undefined,
  ): number => {
    const named = getNamedType(definition.type);
    const expected = expectedSize(model, parent, field, definition, reader);
    const instances = isList(definition.type)
      ? (sizedByParent ?? expected ?? model.defaultListSize)
      : 1;
    let cost = typeWeight(model, parent, definition, isCompositeType(named) ? 1 : 0);
    if (field.selectionSet) {
      const sizedFields = fieldEntry(model.listSizes, parent, definition.name)?.sizedFields;
      const sized =
        sizedFields?.length && expected !== undefined
          ? new Map(sizedFields.map((child) => [child, expected]))
          : undefined;
      cost += selectionCost(named, field.selectionSet, sized);
    }
    // `_entities(representations: $representations)`: the planner's argument, whose size the
    // instances already are; read as a variable it would also mark every entity fetch's
    // estimate as variable-dependent, never cached.
    const representations =
      entities !== undefined && parent === root && definition.name === ENTITIES;
    return (
      instances * cost +
      (representations ? 0 : argumentsCost(model, parent, field, definition, reader))
    );
  };

  return (
    (operation.operation === 'mutation' ? MUTATION_BASE : 0) +
    selectionCost(
      root,
      operation.selectionSet,
      entities === undefined ? undefined : new Map([[ENTITIES, entities]]),
    )
  );
}

const MUTATION_BASE = 10;
const ENTITIES = '_entities';
