import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type HTTPGraphQLRequest, type HTTPGraphQLResponse } from '@apollo/server';
import type { BatchingConfig } from '../config/schema.ts';
import type { GraphEngines } from '../gateway/engines.ts';
import type { RequestContext } from '../kernel/context.ts';
import { persistedQueryError, searchParamsOf } from '../gateway/persisted-query.ts';
import { resolveDocument, resolveSearch } from '../gateway/trusted-documents.ts';
import { ErrorCode, GatewayError, RequestError } from '../kernel/errors.ts';
import { serveBatch } from './graphql-batch.ts';
import { mediaTypeOf, parseJson, readBody } from './read-body.ts';
import { cutByBudget, requestTimeout, withinBudget } from './request-budget.ts';
import { graphQLMediaType } from './respond.ts';

export interface GraphQLRouteOptions {
  /** Which Apollo Server serves a request: its client's contract's, or the whole graph's. */
  engines: Pick<GraphEngines, 'for'>;
  bodyLimit: number;
  /** `server.batching`: whether JSON array bodies run, and how many operations they may hold. */
  batching: BatchingConfig;
}

/**
 * The GraphQL endpoint over HTTP: turns the Node request into Apollo Server's
 * `HTTPGraphQLRequest` and writes its answer back. Body reading and JSON parsing happen here,
 * not in Apollo Server, so that oversize and malformed bodies get GraphQL errors with 413/400/415
 * (GraphQL over HTTP, "Request") rather than a framework's HTML error page.
 */
export function createGraphQLRoute(options: GraphQLRouteOptions) {
  const { engines, bodyLimit, batching } = options;
  const execute = (request: HTTPGraphQLRequest, ctx: RequestContext) =>
    engines
      .for(ctx)
      .executeHTTPGraphQLRequest({ httpGraphQLRequest: request, context: async () => ctx });
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
    // A batch never reaches Apollo Server as one: it would run every operation over one shared
    // context (graphql-batch.ts).
    if (Array.isArray(body)) return serveOperations(res, ctx, headers, search, body);
    const persistedQuery = persistedQueryError(body ?? searchParamsOf(search));
    if (persistedQuery) throw persistedQuery;
    const trusted = trustedDocuments(ctx);
    const request: HTTPGraphQLRequest = isParams(body)
      ? { method, headers, search, body: resolveDocument(body, trusted) }
      : {
          method,
          headers,
          search: method === 'GET' ? resolveSearch(search, trusted) : search,
          body,
        };
    const response = await withinBudget(ctx, execute(request, ctx));
    if (cutByBudget(ctx)) throw requestTimeout(ctx);
    for (const [name, value] of response.headers) res.setHeader(name, value);
    // Over Apollo Server's headers: what the operation stages set (the request stages' were
    // written before the body was read; setting them again is harmless).
    applyStageHeaders(res, ctx);
    if (response.body.kind === 'complete') {
      res.statusCode = legacyStatus(
        response.status ?? 200,
        response.headers.get('content-type'),
        response.body.string,
      );
      // Encoded once, outside the JS heap: given a string, Node measures it for the length and
      // then encodes it again as it writes, both on the heap.
      const bytes = Buffer.from(response.body.string);
      res.setHeader('content-length', bytes.length);
      res.end(bytes);
      return;
    }
    res.statusCode = response.status ?? 200;
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  /**
   * A batch: each operation through Apollo Server alone, with its own context. The answer is
   * one JSON array, 200 whatever each operation's outcome (each result carries its own errors;
   * a status speaks for the whole batch only when the batch is refused whole, before any runs).
   */
  async function serveOperations(
    res: ServerResponse,
    ctx: RequestContext,
    headers: HeaderMap,
    search: string,
    body: unknown[],
  ): Promise<void> {
    // One JSON document answers the batch, so every operation is asked for the batch's media
    // type: Apollo Server never picks incremental delivery (multipart, event streams) or a 406
    // for one of them.
    const contentType = graphQLMediaType(headers.get('accept'));
    const operationHeaders = new HeaderMap(headers);
    operationHeaders.set('accept', contentType.split(';')[0] as string);
    const batch = serveBatch(body, ctx, batching, async (operation, operationCtx) => {
      let resolved = operation;
      try {
        const refused = persistedQueryError(operation);
        if (refused) throw refused;
        if (isParams(operation))
          resolved = resolveDocument(operation, trustedDocuments(operationCtx));
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        operationCtx.facts.errorCodes.add(error.code);
        return errorResult(error);
      }
      const request = { method: 'POST', headers: operationHeaders, search, body: resolved };
      return resultText(await execute(request, operationCtx));
    });
    // The request's timeout ends the whole batch, as it ends one operation.
    const text = await withinBudget(ctx, batch);
    if (cutByBudget(ctx)) throw requestTimeout(ctx);
    // Apollo Server's own headers of each operation are its content type (the batch's, set
    // here) and cache hints, which no HTTP cache applies to a POST; the operation stages' headers
    // are in the request's shared map.
    applyStageHeaders(res, ctx);
    res.statusCode = 200;
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  }
}

/** What the request's client trusts (its own persisted_documents or the top-level ones); without a client, the top-level ones. */
function trustedDocuments(ctx: RequestContext) {
  return (ctx.client ?? ctx.snapshot).persistedDocuments;
}

function isParams(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}

function applyStageHeaders(res: ServerResponse, ctx: RequestContext): void {
  for (const [name, value] of ctx.responseHeaders) res.setHeader(name, value);
}

/** One operation's result text in a batch. */
function resultText(response: HTTPGraphQLResponse): string {
  // Unreachable: each operation is asked for a JSON media type (serveOperations).
  if (response.body.kind !== 'complete')
    throw new GatewayError(
      ErrorCode.INTERNAL_SERVER_ERROR,
      'A batch cannot hold incremental delivery.',
    );
  return response.body.string;
}

/** A batch entry refused before Apollo Server saw it: its error, as a result of its own. */
function errorResult(error: GatewayError): string {
  const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
  return JSON.stringify({ errors: [{ message: error.message, extensions }] });
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
