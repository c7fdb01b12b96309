import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';

/**
 * Why the gateway cannot run the operation a request names, as the client's error; undefined
 * when it can. Apollo Server resolves the operation (`getOperationAST`) but, with a gateway,
 * leaves the failures to Apollo Gateway's executor, which throws INVALID_GRAPHQL and so answers
 * 500: GraphQL's GetOperation calls them request errors
 * (https://spec.graphql.org/October2021/#GetOperation), the client's to fix. Subscriptions need
 * a transport the gateway does not serve (GraphQL over HTTP answers one response per request).
 * Codes and wording follow Apollo Router (GRAPHQL_VALIDATION_FAILED, SUBSCRIPTION_NOT_SUPPORTED)
 * and graphql-js.
 */
export function unsupportedOperation(
  document: DocumentNode,
  operationName: string | null | undefined,
  operation: OperationDefinitionNode | undefined,
): GatewayError | undefined {
  if (operation?.operation === 'subscription') {
    return new GatewayError(
      ErrorCode.SUBSCRIPTION_NOT_SUPPORTED,
      'Subscriptions are not supported: the gateway serves queries and mutations.',
      { requestLevel: true },
    );
  }
  if (operation) return undefined;
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const message = operationName
    ? `Unknown operation named "${operationName}".`
    : operations.length > 1
      ? 'Must provide operation name if query contains multiple operations.'
      : 'Must provide an operation.';
  return new GatewayError(ErrorCode.GRAPHQL_VALIDATION_FAILED, message, { requestLevel: true });
}
