import {
  getNamedType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
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
 * The walk follows the data, not the document: it visits what came back once, each object with
 * the steps compiled for its static type and `__typename` (below).
 */
export function weighResponse(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  data: unknown,
  reader: VariableReader,
): number {
  const walk = walkOf(model, schema, document, operationName);
  if (!walk || !isRecord(data)) return 0;
  let cost = 0;

  const visitObject = (
    parent: GraphQLNamedType,
    selectionSet: SelectionSetNode,
    object: Record<string, unknown>,
    steps: Steps,
  ): void => {
    const typename = object.__typename;
    const key = typeof typename === 'string' ? typename : '';
    let byTypename = steps.get(parent);
    if (!byTypename) steps.set(parent, (byTypename = new Map()));
    let fields = byTypename.get(key);
    if (!fields) byTypename.set(key, (fields = walk.compile(parent, selectionSet, key)));
    for (const step of fields) {
      if (step.guards.length > 0 && !step.guards.every((node) => reader.included(node))) continue;
      const value = object[step.responseName];
      if (value === undefined) continue;
      visitValue(step, value);
      if (step.field.arguments?.length)
        cost += argumentsCost(model, step.parent, step.field, step.definition, reader);
    }
  };

  const visitValue = (step: Step, value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visitValue(step, item);
    } else if (isRecord(value)) {
      cost += step.objectWeight;
      if (step.field.selectionSet)
        visitObject(step.named, step.field.selectionSet, value, step.children);
    } else {
      cost += step.leafWeight;
    }
  };

  visitObject(walk.root, walk.operation.selectionSet, data, walk.steps);
  return cost;
}

/**
 * One field of a fetch document as the walk counts it, with what it weighs resolved once: the
 * walk is compiled per document, static type and `__typename`, on first use, so weighing a
 * response is one loop per object. Fragments are flattened in document order and a field
 * selected twice counts twice, as the interpreted walk counted it.
 */
interface Step {
  readonly responseName: string;
  /** The field and enclosing fragments that carry `@skip`/`@include`: checked at each visit, as they read variables. */
  readonly guards: readonly SelectionNode[];
  readonly field: FieldNode;
  readonly definition: GraphQLField<unknown, unknown>;
  /** The type the field is weighed on (an object's runtime type, else the fragment's condition). */
  readonly parent: GraphQLNamedType;
  readonly named: GraphQLNamedType;
  readonly objectWeight: number;
  readonly leafWeight: number;
  /** The steps of its selections, by static type and `__typename`. */
  readonly children: Steps;
}

type Steps = Map<GraphQLNamedType, Map<string, readonly Step[]>>;

interface Walk {
  readonly root: GraphQLNamedType;
  readonly operation: OperationDefinitionNode;
  readonly steps: Steps;
  compile(parent: GraphQLNamedType, set: SelectionSetNode, typename: string): readonly Step[];
}

/** Compiled walks by model (a snapshot's), subgraph schema, document and operation name. */
const walks = new WeakMap<
  CostModel,
  WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Walk | null>>>
>();

function walkOf(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
): Walk | null {
  let bySchema = walks.get(model);
  if (!bySchema) walks.set(model, (bySchema = new WeakMap()));
  let byDocument = bySchema.get(schema);
  if (!byDocument) bySchema.set(schema, (byDocument = new WeakMap()));
  let byName = byDocument.get(document);
  if (!byName) byDocument.set(document, (byName = new Map()));
  let walk = byName.get(operationName ?? '');
  if (walk === undefined) {
    walk = compileWalk(model, schema, document, operationName);
    byName.set(operationName ?? '', walk);
  }
  return walk;
}

function compileWalk(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
): Walk | null {
  const { operation, fragments } = operationParts(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return null;

  // The fields counted for an object under static type `parent` with this `__typename` ('' for
  // none), in the order the interpreted walk visited them.
  const compile = (
    parent: GraphQLNamedType,
    set: SelectionSetNode,
    typename: string,
    guards: readonly SelectionNode[] = [],
  ): Step[] => {
    const type =
      typename !== '' && typename !== parent.name ? (schema.getType(typename) ?? parent) : parent;
    const steps: Step[] = [];
    for (const selection of set.selections) {
      const guarded = selection.directives?.length ? [...guards, selection] : guards;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const definition = fieldOf(type, name);
        if (!definition) continue;
        steps.push({
          responseName: selection.alias?.value ?? name,
          guards: guarded,
          field: selection,
          definition,
          parent: type,
          named: getNamedType(definition.type),
          objectWeight: typeWeight(model, type, definition, 1),
          leafWeight: typeWeight(model, type, definition, 0),
          children: new Map(),
        });
        continue;
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
      if (!fragment) continue;
      const condition = fragment.typeCondition?.name.value;
      if (isObjectType(type)) {
        if (applies(schema, condition, type))
          steps.push(...compile(type, fragment.selectionSet, typename, guarded));
        continue;
      }
      // Without a __typename the object's type is unknown (an entity fetch asks for none): its
      // fragments all count, as the Router's, each over its own type condition.
      const conditionType = condition === undefined ? undefined : schema.getType(condition);
      steps.push(...compile(conditionType ?? type, fragment.selectionSet, typename, guarded));
    }
    return steps;
  };
  return { root, operation, steps: new Map(), compile };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
