import {
  getNamedType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { operationParts } from '../../kernel/operation.ts';
import type { CostModel } from './cost-model.ts';
import {
  applies,
  expectedSize,
  fieldEntry,
  fieldOf,
  isList,
  runtimeTypes,
  type VariableReader,
} from './cost-rules.ts';

/**
 * How many representations an entity fetch will carry, estimated from where the plan puts it:
 * a fetch under `Flatten(path)` sends one representation per object at that path of the
 * response, so its count is the product, over the lists on the path (each `@`), of the
 * instances the client's operation gives that list field, by the estimate's rules (slicing
 * argument, `assumedSize`, a parent's `sizedFields`, else `limits.cost.list_size`). A single
 * object along the path counts 1: `user.orders.@.items.@.product` is orders x items.
 *
 * Apollo Router does not do this: it weighs `_entities` like any list, so every entity fetch
 * counts `list_size` representations, whether one object or a thousand reach it (docs/limits.md).
 *
 * A path may name a field the client did not select, one the planner added for a `@requires`
 * (`ships.@.owner`); such a field is sized from the schema alone: its `assumedSize`, else
 * `list_size`. A field selected on several types of an abstract type counts the largest size.
 * A list of lists (`@.@`) counts its field's instances once, as the estimate weighs it.
 */
export function representationCount(
  model: CostModel,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  reader: VariableReader,
  path: readonly (string | number)[],
): number {
  const { operation, fragments } = operationParts(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return 1;
  let level: Place[] = [{ type: root, selectionSets: [operation.selectionSet], sized: undefined }];
  let count = 1;
  let last = 1;
  for (const element of path) {
    // With type-conditioned fetching a step reads `items|[Book,Film]`; a leading '' is the root.
    const key = typeof element === 'string' ? element.replace(CONDITIONS, '') : String(element);
    if (key === '') continue;
    if (key === '@') {
      count *= last;
      last = 1;
      continue;
    }
    last = 1;
    // One place per type: a path through abstract types reaches each type once, so a deep path
    // through interfaces does not multiply the places it walks.
    const next = new Map<string, Place>();
    for (const { type: parent, selectionSets, sized } of level)
      for (const type of runtimeTypes(schema, parent)) {
        const fields: FieldNode[] = [];
        const visited = new Set<SelectionSetNode>();
        for (const set of selectionSets)
          collectFields(schema, fragments, type, set, key, fields, visited);
        const selected = fields[0];
        const definition = fieldOf(type, selected?.name.value ?? key.replace(ALIAS, ''));
        if (!definition) continue;
        const declared = selected
          ? expectedSize(model, type, selected, definition, reader)
          : fieldEntry(model.listSizes, type, definition.name)?.assumedSize;
        if (isList(definition.type))
          last = Math.max(last, sized?.get(definition.name) ?? declared ?? model.defaultListSize);
        const sizedFields = fieldEntry(model.listSizes, type, definition.name)?.sizedFields;
        const named = getNamedType(definition.type);
        let place = next.get(named.name);
        if (!place)
          next.set(named.name, (place = { type: named, selectionSets: [], sized: undefined }));
        for (const field of fields)
          if (field.selectionSet) place.selectionSets.push(field.selectionSet);
        if (sizedFields?.length && declared !== undefined)
          place.sized = new Map(
            sizedFields.map((child) => [child, Math.max(declared, place.sized?.get(child) ?? 0)]),
          );
      }
    level = [...next.values()];
  }
  return count;
}

/** Where a path step stands: the type, the client's selections there, what a parent sized. */
interface Place {
  readonly type: GraphQLNamedType;
  readonly selectionSets: SelectionSetNode[];
  sized: ReadonlyMap<string, number> | undefined;
}

/**
 * Adds to `found` the fields of a selection set with this response key that apply to an object
 * of `type`, through fragments. `@skip`/`@include` are not read: the plan holds the fetch under a
 * condition, which counts its costlier branch whatever the variable says, and the count is of
 * the objects that branch would reach. Each selection set is visited once, so fragments
 * spreading others many times over cost no more than the document is long.
 */
function collectFields(
  schema: GraphQLSchema,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  type: GraphQLNamedType,
  selectionSet: SelectionSetNode,
  key: string,
  found: FieldNode[],
  visited: Set<SelectionSetNode>,
): void {
  if (visited.has(selectionSet)) return;
  visited.add(selectionSet);
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if ((selection.alias ?? selection.name).value === key) found.push(selection);
      continue;
    }
    const fragment =
      selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
    if (fragment && applies(schema, fragment.typeCondition?.name.value, type))
      collectFields(schema, fragments, type, fragment.selectionSet, key, found, visited);
  }
}

const CONDITIONS = /\|\[.*\]$/;
const ALIAS = /__alias_\d+$/;
