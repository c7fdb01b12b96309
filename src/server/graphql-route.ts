import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import type { RequestContext } from '../kernel/context.ts';
import { persistedQueryError, searchParamsOf } from '../gateway/persisted-query.ts';
import { ErrorCode, RequestError } from '../kernel/errors.ts';
import { mediaTypeOf, parseJson, readBody } from './read-body.ts';

export interface GraphQLRouteOptions {
  apollo: ApolloServer<RequestContext>;
  bodyLimit: number;
}

/**
 * The GraphQL endpoint over HTTP: turns the Node request into Apollo Server's
 * `HTTPGraphQLRequest` and writes its answer back. Body reading and JSON parsing happen here,
 * not in Apollo Server, so that oversize and malformed bodies get GraphQL errors with 413/400/415
 * (GraphQL over HTTP, "Request") rather than a framework's HTML error page.
 */
export function createGraphQLRoute(options: GraphQLRouteOptions) {
  const { apollo, bodyLimit } = options;
  return async function serveGraphQL(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    search: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const body = method === 'POST' ? await readJsonBody(req, bodyLimit) : undefined;
    // Apollo Server would run a batch's operations over one shared context, so the operation
    // stages (cost, authorization) would see each other's operations: batches are refused with
    // Apollo Router's code until each operation gets a context of its own (docs/http.md).
    if (Array.isArray(body))
      throw new RequestError(
        ErrorCode.BATCHING_NOT_ENABLED,
        `Batched operations are not accepted (this body has ${body.length}); send one operation per request.`,
      );
    const persistedQuery = persistedQueryError(body ?? searchParamsOf(search));
    if (persistedQuery) throw persistedQuery;
    const request: HTTPGraphQLRequest = { method, headers, search, body };
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: request,
      context: async () => ctx,
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    // What the operation stages set (the RateLimit fields, Retry-After) ran after the request
    // stages' headers were written, on success and refusal alike.
    for (const [name, value] of ctx.responseHeaders) res.setHeader(name, value);
    if (response.body.kind === 'complete') {
      res.statusCode = legacyStatus(
        response.status ?? 200,
        response.headers.get('content-type'),
        response.body.string,
      );
      res.end(response.body.string);
      return;
    }
    res.statusCode = response.status ?? 200;
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

/** Errors of a well-formed request that GraphQL itself refused: no execution happened. */
const REQUEST_ERRORS = /"code":"(GRAPHQL_PARSE_FAILED|GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)"/;

/**
 * Under `application/json`, GraphQL over HTTP asks for 200 when a well-formed request fails to
 * parse, validate or coerce its variables (intermediaries may mangle 4xx JSON bodies); under
 * `application/graphql-response+json` it is 400, as Apollo Server answers in both cases.
 * https://graphql.github.io/graphql-over-http/draft/#sec-application-json
 */
function legacyStatus(status: number, contentType: string | undefined, body: string): number {
  if (status !== 400 || !contentType?.startsWith('application/json')) return status;
  return REQUEST_ERRORS.test(body) && !body.includes('"BAD_REQUEST"') ? 200 : status;
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = mediaTypeOf(req);
  if (type !== 'application/json') {
    throw new RequestError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `POST requests must have content-type application/json${type ? `, not ${type}` : ''}.`,
    );
  }
  const body = await readBody(req, limit);
  if (body.length === 0) {
    throw new RequestError(
      ErrorCode.BAD_REQUEST,
      'The request body is empty; send a JSON object with a "query".',
    );
  }
  return parseJson(body);
}
