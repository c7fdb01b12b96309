import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { messageCodec } from '../adapters/grpc/codec.ts';
import type { RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError, RequestError } from '../kernel/errors.ts';
import { isServiceError, type GrpcCall } from '../kernel/outbound.ts';
import { JsonMappingError } from '../adapters/grpc/proto-json.ts';
import { statusOfGrpcError } from '../translate/status-map.ts';
import { buildRequestMessage } from '../translate/transcode-request.ts';
import { metadataHeaders, responseJson } from '../translate/transcode-response.ts';
import type { TranscodeRoute } from '../translate/transcoder.ts';
import { mediaTypeOf, parseJson, readBody } from './read-body.ts';
import { budgetSpent, requestTimeout } from './request-budget.ts';
import { sendJson } from './respond.ts';

export interface TranscodeOptions {
  bodyLimit: number;
  /** Production: messages of backend failures that answer 5xx are replaced (see status-map). */
  mask: boolean;
}

const NDJSON = 'application/x-ndjson; charset=utf-8';

/**
 * One HTTP request to a gRPC method: the request message is built from the path, the query and
 * the JSON body, the call carries the stage-set metadata and the request's remaining budget as
 * its deadline, and the reply is written as ProtoJSON (NDJSON for a server stream). Failures
 * answer with the status table's HTTP status and a google.rpc.Status body.
 */
export async function serveTranscoded(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  route: TranscodeRoute,
  pathValues: ReadonlyMap<string, string>,
  search: string,
  options: TranscodeOptions,
): Promise<void> {
  const { config, binding } = route;
  const body = binding.body === undefined ? undefined : await readJson(req, options.bodyLimit);
  let request: Record<string, unknown>;
  try {
    request = buildRequestMessage(route.requestType, binding, {
      pathValues,
      query: new URLSearchParams(search),
      body,
      ignoreUnknownQuery: config.ignore_unknown_query_parameters,
    });
  } catch (error) {
    if (!(error instanceof JsonMappingError)) throw error;
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, error.message, {
      extensions: { field: error.field },
    });
  }
  const call: GrpcCall = {
    target: {
      backend: route.entry,
      kind: 'grpc',
      operation: route.rpc,
      protocol: 'grpc',
      address: route.address,
    },
    ctx,
    timeoutMs: route.timeout,
    headers: route.headerRules,
    idempotent: route.idempotent,
    address: route.address,
    tls: route.tls,
    path: `/${route.rpc}`,
    serialize: messageCodec(route.requestType).encode,
    deserialize: messageCodec(route.responseType).decode,
    message: route.requestType.fromObject(request),
  };
  const { outbound } = ctx.snapshot;
  const json = (message: Record<string, unknown>) =>
    responseJson(route.responseType, message, binding.responseBody, {
      emitDefaults: config.emit_defaults,
      useProtoNames: config.use_proto_names,
    });
  const failure = (error: ServiceError) =>
    statusOfGrpcError(error.code, error.details ?? error.message, ctx.correlationId, options.mask);
  const passHeaders = (metadata: readonly Metadata[]) => {
    for (const [name, value] of metadataHeaders(metadata, config.response_headers))
      res.setHeader(name, value);
  };

  if (!route.streaming) {
    try {
      const message = await outbound.grpcUnary(call, (answer) => {
        passHeaders(answer.metadata);
        return answer.message;
      });
      sendJson(res, 200, json(message));
    } catch (error) {
      if (!isServiceError(error)) throw error;
      if (cutByDeadline(ctx, error)) throw requestTimeout(ctx, error);
      passHeaders([error.metadata]);
      const answer = failure(error);
      ctx.facts.errorCodes.add(String(answer.body.details[0]?.reason ?? ErrorCode.UPSTREAM_ERROR));
      sendJson(res, answer.httpStatus, answer.body);
    }
    return;
  }
  // Server streaming: one JSON value per line as messages arrive. A failure before the first
  // message is an ordinary error response; after it, the status is in the last line, as
  // grpc-gateway writes it (`{"error": {...}}`), since the HTTP status is already sent. A client
  // that leaves ends the backend's stream too.
  const closed = new AbortController();
  res.once('close', () => closed.abort());
  const start = () => {
    if (res.headersSent) return;
    res.statusCode = 200;
    res.setHeader('content-type', NDJSON);
  };
  try {
    await outbound.grpcStream(
      call,
      {
        onHeaders: (md) => passHeaders([md]),
        onMessage: (message) => {
          start();
          res.write(`${JSON.stringify(json(message))}\n`);
        },
      },
      closed.signal,
    );
    start();
    res.end();
  } catch (error) {
    if (!isServiceError(error)) throw error;
    if (!res.headersSent && cutByDeadline(ctx, error)) throw requestTimeout(ctx, error);
    const answer = failure(error);
    ctx.facts.errorCodes.add(String(answer.body.details[0]?.reason ?? ErrorCode.UPSTREAM_ERROR));
    if (!res.headersSent) {
      sendJson(res, answer.httpStatus, answer.body);
      return;
    }
    res.end(`${JSON.stringify({ error: answer.body })}\n`);
  }
}

/** A call the request's budget cut: the request's timeout, not the backend's DEADLINE_EXCEEDED. */
function cutByDeadline(ctx: RequestContext, error: ServiceError): boolean {
  return error.code === GrpcStatus.DEADLINE_EXCEEDED && budgetSpent(ctx);
}

/** The JSON body of a binding that takes one; empty is "no body" (all fields default). */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return undefined;
  const type = mediaTypeOf(req);
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new RequestError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `The body must be application/json${type ? `, not ${type}` : ''}.`,
    );
  }
  return parseJson(raw);
}
