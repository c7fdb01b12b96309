import type { ApolloGateway } from '@apollo/gateway';
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import type { RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';
import { authorizationOf } from '../policies/auth/authorize.ts';
import { planExecutor } from './execution/plan-executor.ts';

type GatewayInterface = ApolloServerOptionsWithGateway<RequestContext>['gateway'];
type Executor = ApolloGateway['executor'];

/**
 * Apollo Gateway as Apollo Server sees it, with field authorization between the two. Apollo
 * Server calls the gateway's executor with the resolved operation (`document`, `operationName`,
 * `queryHash`) once the `operation` stages ran; where the `authorize` stage left fields out
 * (policies/auth/authorize.ts), the executor is handed the operation without them, under a plan
 * cache key of its own (`planKey` there says why it must differ), so that the plan never fetches
 * them; their nulls and errors are then put into its result. An operation the caller may read
 * whole goes through untouched.
 *
 * `enforced` says whether the pipeline runs the `authorize` stage. Without it, a graph with
 * requirements is not served: no request would be checked.
 */
export function withFieldAuthorization(
  gateway: ApolloGateway,
  options: { enforced: boolean },
): GatewayInterface {
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    async load(loadOptions) {
      await gateway.load(loadOptions);
      return { executor: authorizingExecutor(planExecutor(gateway), options.enforced) };
    },
    stop: () => gateway.stop(),
  };
}

function authorizingExecutor(execute: Executor, enforced: boolean): Executor {
  return async (requestContext) => {
    const ctx = requestContext.context as RequestContext;
    const authorization = authorizationOf(ctx);
    if (!authorization) {
      if (enforced || ctx.snapshot.authModel.fields.size === 0) return execute(requestContext);
      throw new GatewayError(
        ErrorCode.INTERNAL_SERVER_ERROR,
        'The graph has field authorization but the pipeline has no authorize stage.',
        { requestLevel: true },
      );
    }
    if (authorization.variableErrors) return { errors: authorization.variableErrors };
    const result = await execute({
      ...requestContext,
      document: authorization.document,
      operation: authorization.operation,
      queryHash: authorization.queryHash(requestContext.queryHash),
    });
    return authorization.complete(result);
  };
}
