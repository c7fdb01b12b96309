import type { IncomingMessage } from 'node:http';
import { ErrorCode, RequestError } from '../kernel/errors.ts';

/** The request's media type, lower case, without parameters (`application/json`). */
export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** A body as JSON; malformed JSON is a 400 that quotes the parser's complaint. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new RequestError(
      ErrorCode.BAD_REQUEST,
      `The request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read; a chunked body is refused as soon as it crosses the limit.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new RequestError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `Request body is larger than the limit of ${limit} bytes.`,
    );
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}
