import {
  getNamedType,
  isObjectType,
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
import { applies, argumentsCost, fieldOf, typeWeight, type VariableReader } from './cost-rules.ts';

/**
 * The actual cost of a result: the estimate's rules applied to the data that came back, as
 * Apollo Router's `ResponseCostCalculator` applies them. A list counts the items it holds, an
 * object its type weight (1 unless `@cost` says otherwise) plus its selections, a null nothing
 * but a weighted field's `@cost`; arguments count once per field. Fragments apply when the
 * object's `__typename` (which the planner asks for wherever the type is abstract) matches, so
 * a union member is weighed by its own fields. The operation's base cost (10 for a mutation) is
 * not counted: the Router counts only what the data holds.
 *
 * The walk follows the data, not the document: it visits what came back once.
 */
export function weighResponse(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  data: unknown,
  reader: VariableReader,
): number {
  const { operation, fragments } = operationParts(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root || !isRecord(data)) return 0;
  let cost = 0;

  const visitObject = (
    parent: GraphQLNamedType,
    selectionSet: SelectionSetNode,
    object: Record<string, unknown>,
  ): void => {
    const typename = object.__typename;
    const type =
      typeof typename === 'string' && typename !== parent.name
        ? (schema.getType(typename) ?? parent)
        : parent;
    for (const selection of selectionSet.selections) {
      if (!reader.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const value = object[selection.alias?.value ?? name];
        const definition = fieldOf(type, name);
        if (value === undefined || !definition) continue;
        visitValue(type, selection, definition, value);
        cost += argumentsCost(model, type, selection, definition, reader);
        continue;
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
      const condition = fragment?.typeCondition?.name.value;
      if (!fragment) continue;
      if (isObjectType(type)) {
        if (applies(schema, condition, type)) visitObject(type, fragment.selectionSet, object);
        continue;
      }
      // Without a __typename the object's type is unknown (an entity fetch asks for none): its
      // fragments all count, as the Router's, each over its own type condition.
      const conditionType = condition === undefined ? undefined : schema.getType(condition);
      visitObject(conditionType ?? type, fragment.selectionSet, object);
    }
  };

  const visitValue = (
    parent: GraphQLNamedType,
    field: FieldNode,
    definition: GraphQLField<unknown, unknown>,
    value: unknown,
  ): void => {
    if (Array.isArray(value)) {
      for (const item of value) visitValue(parent, field, definition, item);
    } else if (isRecord(value)) {
      cost += typeWeight(model, parent, definition, 1);
      if (field.selectionSet) visitObject(getNamedType(definition.type), field.selectionSet, value);
    } else {
      cost += typeWeight(model, parent, definition, 0);
    }
  };

  visitObject(root, operation.selectionSet, data);
  return cost;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
