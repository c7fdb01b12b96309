import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from 'graphql';

/** The operation a document names (the first, without a name) and its fragments by name. */
export interface OperationParts {
  readonly operation: OperationDefinitionNode | undefined;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
}

/**
 * What the operation stages (cost, authorization, later limits) walk: found the same way for
 * each, in one pass over the document's definitions.
 */
export function operationParts(document: DocumentNode, name: string | undefined): OperationParts {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
    else if (
      definition.kind === Kind.OPERATION_DEFINITION &&
      (name === undefined || definition.name?.value === name)
    )
      operation ??= definition;
  }
  return { operation, fragments };
}
