import type { HttpLimitsConfig } from '../../config/schema.ts';
import type { HttpRequestLine, RequestContext } from '../../kernel/context.ts';
import { ErrorCode, RequestError } from '../../kernel/errors.ts';

/**
 * The size of a header section as it travelled: each field is `name: value` and a line end (RFC
 * 9112 §5). Node decodes header bytes as latin1, so a string's length is its size in bytes.
 */
export function headerSectionSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < rawHeaders.length; i += 2)
    size += (rawHeaders[i]?.length ?? 0) + (rawHeaders[i + 1]?.length ?? 0) + 4;
  return size;
}

/**
 * The first limit the request breaks, as the error that answers it; undefined within them all.
 * The URL first: a client sending a huge query string should hear that, not about its headers.
 */
export function checkHttpLimits(
  request: HttpRequestLine,
  limits: HttpLimitsConfig,
): RequestError | undefined {
  if (request.url.length > limits.max_url_length)
    return new RequestError(
      ErrorCode.URI_TOO_LONG,
      `The request URL is ${request.url.length} bytes long; the limit is ${limits.max_url_length}.`,
      { limit: 'max_url_length', max: limits.max_url_length, found: request.url.length },
    );
  const count = request.rawHeaders.length / 2;
  if (count > limits.max_headers)
    return new RequestError(
      ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
      // Node keeps only one more header than the limit (main.ts), so "at least" is all it knows.
      `The request has more than ${limits.max_headers} headers.`,
      { limit: 'max_headers', max: limits.max_headers },
    );
  const size = headerSectionSize(request.rawHeaders);
  if (size > limits.max_header_size)
    return new RequestError(
      ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
      `The request headers are ${size} bytes; the limit is ${limits.max_header_size}.`,
      { limit: 'max_header_size', max: limits.max_header_size, found: size },
    );
  return undefined;
}

/**
 * The `httpLimits` stage: refuses a request whose URL, header count or header size is over
 * `limits.http` before anything reads its body or asks a backend. Node's own parser refuses
 * what is far over (its `maxHeaderSize`, set from these limits in main.ts) before a request
 * exists; server/client-error.ts answers those.
 */
export function httpLimits(ctx: RequestContext): void {
  if (!ctx.http) return;
  const refused = checkHttpLimits(ctx.http, ctx.snapshot.limits.http);
  if (refused) throw refused;
}
