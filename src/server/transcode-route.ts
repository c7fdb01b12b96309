import type { IncomingMessage, ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { callBudget, type RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError, RequestError } from '../kernel/errors.ts';
import { observeCall } from '../kernel/observe.ts';
import { callServerStream, callUnary } from '../translate/grpc-call.ts';
import { JsonMappingError } from '../adapters/grpc/proto-json.ts';
import { statusOfGrpcError } from '../translate/status-map.ts';
import { buildRequestMessage } from '../translate/transcode-request.ts';
import { metadataHeaders, responseJson } from '../translate/transcode-response.ts';
import type { TranscodeRoute } from '../translate/transcoder.ts';
import { mediaTypeOf, parseJson, readBody } from './read-body.ts';
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
  const metadata = new grpc.Metadata();
  for (const name of config.forward_headers) {
    const value = req.headers[name];
    if (typeof value === 'string') metadata.set(name, value);
  }
  for (const [name, value] of Object.entries(ctx.upstreamHeaders)) metadata.set(name, value);
  const record = observeCall(ctx, {
    backend: route.entry,
    kind: 'grpc',
    operation: route.rpc,
    protocol: 'grpc',
    address: route.address,
  });
  for (const [name, value] of Object.entries(record.headers)) metadata.set(name, value);
  const call = { metadata, timeoutMs: callBudget(ctx, route.timeout) };
  const json = (message: Record<string, unknown>) =>
    responseJson(route.responseType, message, binding.responseBody, {
      emitDefaults: config.emit_defaults,
      useProtoNames: config.use_proto_names,
    });
  const failure = (error: grpc.ServiceError) => {
    const answer = statusOfGrpcError(
      error.code,
      error.details ?? error.message,
      ctx.correlationId,
      options.mask,
    );
    record.end(String(answer.body.details[0]?.reason ?? 'UPSTREAM_ERROR'), error.code);
    return answer;
  };

  if (!route.streaming) {
    try {
      const result = await callUnary(route, request, call);
      record.end('ok', grpc.status.OK);
      for (const [name, value] of metadataHeaders(result.metadata, config.response_headers))
        res.setHeader(name, value);
      sendJson(res, 200, json(result.message));
    } catch (error) {
      if (!isServiceError(error)) throw error;
      for (const [name, value] of metadataHeaders([error.metadata], config.response_headers))
        res.setHeader(name, value);
      const answer = failure(error);
      sendJson(res, answer.httpStatus, answer.body);
    }
    return;
  }
  // Server streaming: one JSON value per line as messages arrive. A failure before the first
  // message is an ordinary error response; after it, the status is in the last line, as
  // grpc-gateway writes it (`{"error": {...}}`), since the HTTP status is already sent.
  const closed = new AbortController();
  res.once('close', () => closed.abort());
  const start = () => {
    if (res.headersSent) return;
    res.statusCode = 200;
    res.setHeader('content-type', NDJSON);
  };
  try {
    await callServerStream(
      route,
      request,
      call,
      {
        onHeaders: (md) => {
          for (const [name, value] of metadataHeaders([md], config.response_headers))
            res.setHeader(name, value);
        },
        onMessage: (message) => {
          start();
          res.write(`${JSON.stringify(json(message))}\n`);
        },
      },
      closed.signal,
    );
    record.end('ok', grpc.status.OK);
    start();
    res.end();
  } catch (error) {
    if (!isServiceError(error)) throw error;
    const answer = failure(error);
    if (!res.headersSent) {
      sendJson(res, answer.httpStatus, answer.body);
      return;
    }
    res.end(`${JSON.stringify({ error: answer.body })}\n`);
  }
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
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
