import {
  GraphQLError,
  Kind,
  parse,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { GatewayError } from '../../kernel/errors.ts';

/** The parts of a subgraph fetch the errors are placed by. */
export interface FetchRequest {
  query?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

type Path = readonly (string | number)[];

/**
 * A failed fetch as the GraphQL errors of the fields it leaves null, each at its path
 * (https://spec.graphql.org/October2021/#sec-Handling-Field-Errors). They are returned in the
 * fetch's response rather than thrown: Apollo Gateway gives a thrown error no path at all, and
 * places the errors of a response, rewriting `['_entities', i, ...rest]` to the i-th entity's
 * path in the client's result followed by `rest`.
 *
 * - A root fetch: one error per top-level response key of its operation, at `[key]`.
 * - An entity fetch (`_entities(representations: ...)`): for each representation, one error per
 *   field the fetch selects on its `__typename`, at `['_entities', i, key]`; at
 *   `['_entities', i]` (the entity itself) when no field can be told.
 *
 * Each error keeps the GatewayError's message and extensions (code, subgraph, upstream status)
 * except `http`: a field error must not set the status of a response that has data. The
 * GatewayError is the `originalError`, so the log still has its cause.
 */
export function fetchErrors(request: FetchRequest, error: GatewayError): GraphQLError[] {
  const { http: _http, ...extensions } = error.extensions;
  const at = (path?: Path) =>
    new GraphQLError(error.message, {
      ...(path ? { path } : {}),
      extensions,
      originalError: error,
    });
  const operation = readOperation(request.query ?? '', request.operationName);
  // A fetch whose query cannot be read (never sent by Apollo Gateway) keeps one unplaced error.
  if (!operation) return [at()];
  const top = fieldsOf(operation.selectionSet, operation.fragments, undefined);
  const [entities] = top;
  const representations = request.variables?.representations;
  if (top.length === 1 && entities?.name.value === '_entities' && Array.isArray(representations)) {
    const key = responseKey(entities);
    return representations.flatMap((representation: unknown, index) => {
      const typename = (representation as { __typename?: unknown } | null)?.__typename;
      const fields = entities.selectionSet
        ? fieldsOf(
            entities.selectionSet,
            operation.fragments,
            typeof typename === 'string' ? typename : undefined,
          )
        : [];
      return fields.length > 0
        ? fields.map((field) => at([key, index, responseKey(field)]))
        : [at([key, index])];
    });
  }
  return top.length > 0 ? top.map((field) => at([responseKey(field)])) : [at()];
}

function readOperation(query: string, operationName: string | undefined) {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined;
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  const operation = document.definitions.find(
    (definition) =>
      definition.kind === Kind.OPERATION_DEFINITION &&
      (operationName === undefined || definition.name?.value === operationName),
  );
  return operation?.kind === Kind.OPERATION_DEFINITION
    ? { selectionSet: operation.selectionSet, fragments }
    : undefined;
}

/**
 * The fields a selection set selects, one per response key, through fragments: those whose type
 * condition is `typename` (or that have none) when it is given, all of them when it is not.
 * `__typename` is left out: it is never a field a fetch leaves null.
 */
function fieldsOf(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  typename: string | undefined,
): FieldNode[] {
  const fields = new Map<string, FieldNode>();
  const applies = (condition: string | undefined) =>
    typename === undefined || condition === undefined || condition === typename;
  const visited = new Set<string>();
  const collect = (set: SelectionSetNode) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename' && !fields.has(responseKey(selection)))
          fields.set(responseKey(selection), selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (applies(selection.typeCondition?.name.value)) collect(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment && applies(fragment.typeCondition.name.value)) collect(fragment.selectionSet);
      }
    }
  };
  collect(selectionSet);
  return [...fields.values()];
}

const responseKey = (field: FieldNode) => field.alias?.value ?? field.name.value;
