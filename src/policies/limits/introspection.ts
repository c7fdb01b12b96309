import { Kind, type DocumentNode, type SelectionNode } from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import { operationParts } from '../../kernel/operation.ts';

/**
 * The introspection field the operation asks for (`__schema` or `__type`), if any. Both exist
 * only on the query root (https://spec.graphql.org/October2021/#sec-Schema-Introspection), so
 * only the operation's own selection set is read, through the fragments spread there;
 * `__typename` is not introspection of the schema and is always served.
 */
export function introspectionField(
  document: DocumentNode,
  operationName: string | undefined,
): SelectionNode | undefined {
  const { operation, fragments } = operationParts(document, operationName);
  if (!operation || operation.operation !== 'query') return undefined;
  const pending: SelectionNode[] = [...operation.selectionSet.selections];
  const spread = new Set<string>();
  for (let selection = pending.pop(); selection; selection = pending.pop()) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (name === '__schema' || name === '__type') return selection;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      pending.push(...selection.selectionSet.selections);
    } else if (!spread.has(selection.name.value)) {
      spread.add(selection.name.value);
      pending.push(...(fragments.get(selection.name.value)?.selectionSet.selections ?? []));
    }
  }
  return undefined;
}

/**
 * Stage: refuses introspection where the endpoint the request reached does not serve it
 * (`ctx.introspection`: `server.introspection` for the GraphQL endpoint, a BFF client's own
 * setting later), with Apollo Router's code. A stage rather than a validation rule: Apollo
 * Server caches validated documents across requests, and whether introspection is allowed is a
 * property of the request's endpoint, not of the document.
 */
export function refuseIntrospection(ctx: RequestContext): void {
  const operation = ctx.operation;
  if (!operation || ctx.introspection === true) return;
  const field = introspectionField(operation.document, operation.name);
  if (!field) return;
  throw new GatewayError(
    ErrorCode.INTROSPECTION_DISABLED,
    'Introspection is disabled on this endpoint: the operation asks for __schema or __type.',
    { nodes: [field], requestLevel: true },
  );
}
