import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long, and how much of the rest of a refused body, the gateway reads before it closes the
 * connection. Enough for a client on a fast link to finish sending a body a few MiB over the
 * limit and read the answer; little enough that a client streaming forever holds one socket for
 * a few seconds at most (nginx's `lingering_time` is 30s, `lingering_timeout` 5s).
 */
export const LINGER = { ms: 5_000, bytes: 8 * 1_048_576 } as const;

/**
 * Answers a request whose body the gateway will not read with `Connection: close`, then closes
 * the connection the way nginx's `lingering_close` does: the answer is written and the write
 * side shut (FIN), and whatever the client still sends is read and dropped until it closes its
 * side, or `LINGER` runs out. Call it before writing the answer.
 *
 * Why: Node ends a `Connection: close` response with `socket.destroySoon()`, which closes the
 * socket as soon as the answer is written. Closing a TCP socket with unread bytes in its receive
 * buffer sends a RST (RFC 1122 §4.2.2.13), and a client still sending its body then sees
 * EPIPE/ECONNRESET, its stack discarding the 413 it was about to read.
 */
export function lingerAfterAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  bounds: { ms: number; bytes: number } = LINGER,
): void {
  res.setHeader('connection', 'close');
  const socket = req.socket;
  if (socket.destroyed) return;
  const timer = setTimeout(close, bounds.ms);
  timer.unref();
  function close() {
    clearTimeout(timer);
    socket.destroy();
  }
  // Node calls this once the answer is written (resOnFinish); this socket only shuts its write
  // side instead, and closes by the bounds below. Warning: keep it to this one socket.
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
  };
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > bounds.bytes) close();
  });
  req.resume();
  // The client read the answer and closed its side (or gave up): nothing left to wait for.
  socket.once('end', close);
  socket.once('close', () => clearTimeout(timer));
}
