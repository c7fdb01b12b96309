import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { HttpLimitsConfig } from '../config/schema.ts';
import { ErrorCode, RequestError } from '../kernel/errors.ts';
import { correlationIdOf } from '../observability/correlation.ts';
import { statusOfGatewayError } from '../translate/status-map.ts';
import { LINGER } from './linger.ts';

/**
 * Bytes allowed beyond `max_url_length` and `max_header_size` before Node's parser refuses a
 * request itself: the method, `HTTP/1.1`, spaces and line ends of the request line, the blank
 * line. What fits is measured exactly by the `httpLimits` stage; Node's limit only has to stop
 * what would otherwise be buffered without bound.
 */
const REQUEST_LINE_SLACK = 1_024;

/** Node's parser limits for the configured HTTP limits (`server.maxHeaderSize` and count). */
export function parserLimits(limits: HttpLimitsConfig): {
  maxHeaderSize: number;
  maxHeadersCount: number;
} {
  return {
    // Node counts the request line with the headers: both limits and the slack together.
    maxHeaderSize: limits.max_url_length + limits.max_header_size + REQUEST_LINE_SLACK,
    // Node drops headers beyond its count without a word; keeping one more than the limit lets
    // the stage see that there were too many and refuse, rather than serve a truncated request.
    maxHeadersCount: limits.max_headers + 1,
  };
}

export interface ClientErrorOptions {
  graphqlPath: string;
  correlationHeader: string;
  logger: Logger;
  /** The limits in force now (they follow reloads). */
  limits: () => HttpLimitsConfig;
}

/** A parse error as Node's `clientError` reports it. */
type ClientError = Error & { code?: string; rawPacket?: Buffer };

/**
 * The server's `clientError` listener: what Node's parser refused before a request existed gets
 * the gateway's answer (its error body and code, a correlation id, a log line) instead of Node's
 * bare status line. Headers over Node's `maxHeaderSize` answer 431, or 414 when the request line
 * alone is over `max_url_length`; malformed HTTP answers 400; a header timeout 408, as Node does.
 */
export function createClientErrorHandler(options: ClientErrorOptions) {
  return function onClientError(error: ClientError, socket: Duplex): void {
    const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      return;
    }
    const packet = error.rawPacket?.toString('latin1') ?? '';
    const target = requestTarget(packet);
    const refusal = refusalOf(error, target, options.limits());
    const correlationId = correlationIdOf(undefined);
    const graphql = target?.split('?')[0] === options.graphqlPath;
    const { http: _http, ...extensions } = refusal.extensions as Record<string, unknown>;
    const body = JSON.stringify(
      graphql
        ? { errors: [{ message: refusal.message, extensions }] }
        : statusOfGatewayError(refusal, correlationId).body,
    );
    options.logger.info(
      { correlationId, code: refusal.code, reason: error.code },
      'request refused by the HTTP parser',
    );
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `${options.correlationHeader}: ${correlationId}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
    // Node's parser keeps reading (and dropping) what the client still sends, so the socket
    // closes with an empty receive buffer and the client reads the answer (see linger.ts); the
    // client closing its side, or the bound, ends it.
    const timer = setTimeout(() => socket.destroy(), LINGER.ms);
    timer.unref();
    socket.once('end', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
  };
}

/** The request target of a request line (`GET /path?q HTTP/1.1`), when the packet starts one. */
function requestTarget(packet: string): string | undefined {
  const match = /^[A-Z]+ (\S+)/.exec(packet);
  return match?.[1];
}

function refusalOf(
  error: ClientError,
  target: string | undefined,
  limits: HttpLimitsConfig,
): RequestError {
  if (error.code !== 'HPE_HEADER_OVERFLOW')
    return new RequestError(
      ErrorCode.BAD_REQUEST,
      `The request is not valid HTTP/1.1 (${error.code ?? 'unparseable'}).`,
    );
  if (target !== undefined && target.length > limits.max_url_length)
    return new RequestError(
      ErrorCode.URI_TOO_LONG,
      `The request URL is over the limit of ${limits.max_url_length} bytes.`,
      { limit: 'max_url_length', max: limits.max_url_length },
    );
  return new RequestError(
    ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
    `The request headers are over the limit of ${limits.max_header_size} bytes.`,
    { limit: 'max_header_size', max: limits.max_header_size },
  );
}
