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
 * before a byte is read; a chunked body is refused as soon as it crosses the limit. A refused
 * body is left unread, its request not destroyed: the caller answers 413 and then reads and
 * drops the rest (linger.ts), so that the client gets to read the answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new RequestError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `Request body is larger than the limit of ${limit} bytes.`,
    );
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge());
  // Listeners rather than `for await`: leaving an async iterator early destroys the request,
  // and with it the socket, before the 413 is written.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      reject(new Error('The client closed the connection before its body ended.'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
