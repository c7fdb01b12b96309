import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, GatewayError, RequestError } from '../kernel/errors.ts';
import type { RuntimeSnapshot } from '../kernel/context.ts';
import { adminTags, invalidate } from '../policies/cache/invalidation.ts';
import { mediaTypeOf, parseJson, readBody } from './read-body.ts';
import { sendJson } from './respond.ts';

/** An invalidation names a few tags; anything near this size is not one. */
const BODY_LIMIT = 65_536;

/**
 * `POST /cache/invalidate` on the admin listener: removes the entries a JSON body names by
 * type, entity key, declared tag or subgraph, from the store every instance reads. It answers
 * `{"removed": n}` once the store has removed them. Only with the bearer token of
 * `server.admin.token` (compared in constant time): the admin port is an operator's, but an
 * endpoint that empties the cache must not be one any local process can call.
 */
export async function serveCacheInvalidation(
  req: IncomingMessage,
  res: ServerResponse,
  token: string | undefined,
  snapshot: RuntimeSnapshot | undefined,
): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    throw new GatewayError(
      ErrorCode.METHOD_NOT_ALLOWED,
      'POST /cache/invalidate with a JSON body.',
    );
  }
  if (token === undefined)
    throw new GatewayError(
      ErrorCode.FORBIDDEN,
      'Cache invalidation is off: set server.admin.token to allow it.',
    );
  if (!sameSecret(bearerOf(req), token))
    throw new GatewayError(
      ErrorCode.UNAUTHENTICATED,
      'Cache invalidation needs Authorization: Bearer <server.admin.token>.',
    );
  if (mediaTypeOf(req) !== 'application/json')
    throw new RequestError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Send the body as application/json.');
  const tags = adminTags(parseJson(await readBody(req, BODY_LIMIT)));
  if ('problem' in tags) throw new RequestError(ErrorCode.BAD_REQUEST, tags.problem);
  const cache = snapshot?.cache;
  if (!cache?.settings.enabled)
    throw new GatewayError(ErrorCode.NOT_FOUND, 'The cache is off (cache.enabled).');
  let removed: number;
  try {
    removed = await invalidate(cache, undefined, tags, 'admin');
  } catch (error) {
    throw new GatewayError(
      ErrorCode.CACHE_UNAVAILABLE,
      'The cache store could not invalidate (is Redis up?); nothing is known to be removed.',
      { cause: error },
    );
  }
  sendJson(res, 200, { removed });
}

function bearerOf(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  return /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : '';
}

/** Equal secrets, in time that does not depend on where they differ (hashes: equal lengths). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return given !== '' && timingSafeEqual(digest(given), digest(expected));
}
