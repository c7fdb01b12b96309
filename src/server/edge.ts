import { readFileSync, watch, type FSWatcher } from 'node:fs';
import {
  createServer as createHttpServer,
  type RequestListener,
  type ServerOptions,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  createServer as createH2cServer,
  type Http2Session,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type TLSSocket,
} from 'node:tls';
import type { ResolvedListenerTls } from '../config/load.ts';

/**
 * The gateway's listening port in one of three shapes, each serving HTTP/1.1 and, where asked,
 * HTTP/2 with the same request handler (node:http2's compatibility API):
 * - plaintext: node:http, as without this module;
 * - TLS: a `tls.Server` whose connections go to an HTTP/2 or an HTTP/1.1 server by the protocol
 *   ALPN chose for each (https when `http2` is off);
 * - h2c: cleartext HTTP/2 by prior knowledge beside HTTP/1.1 on one port. Node's cleartext
 *   HTTP/2 server does not fall back to HTTP/1.1, so a connection is handed to the HTTP/2 or the
 *   HTTP/1.1 server by its first bytes: the HTTP/2 preface starts with `PRI`, a method no
 *   HTTP/1.1 client sends (RFC 9113 §3.4 made it so for this purpose). The `Upgrade: h2c`
 *   dance (removed in RFC 9113) is not offered.
 */
export interface Edge {
  /** What listens: `listen`, `address`, the `listening` event. */
  readonly listener: NetServer;
  /** The HTTP/1.1 parser's settings live here (keep-alive, header limits, clientError). */
  readonly http1: NetServer & HttpParserSettings;
  readonly scheme: 'http' | 'https';
  /** HTTP/2 sessions get GOAWAY: their open streams finish, new ones go to a new connection. */
  goAway(): void;
  /** Stops accepting; resolves once every connection has ended. */
  close(): Promise<void>;
  /** Closes connections with no request in flight (and, on HTTP/2, sends GOAWAY). */
  closeIdle(): void;
  /** Cuts every connection that is left. */
  closeAll(): void;
  /** Serves new handshakes with the PEM files as they are now; open connections keep theirs. */
  reloadCertificates(): void;
}

interface HttpParserSettings {
  keepAliveTimeout: number;
  headersTimeout: number;
}

/**
 * An answer on HTTP/2 (node:http2's compatibility response). HTTP/2 has no connection-specific
 * headers (RFC 9113 §8.2.2): Node throws on `Connection`, so draining and lingering, which say
 * `Connection: close` on HTTP/1.1, leave it out there and use GOAWAY and stream resets instead.
 */
export function onHttp2(res: object): boolean {
  return 'stream' in res;
}

/**
 * The request's headers as sent, less HTTP/2's pseudo-headers (`:method`, `:path`...): the
 * HTTP limits measure the same headers whichever version carried them (`:path` is the URL).
 */
export function sentHeaders(rawHeaders: string[]): string[] {
  if (!rawHeaders[0]?.startsWith(':')) return rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (!rawHeaders[i]?.startsWith(':')) kept.push(rawHeaders[i] ?? '', rawHeaders[i + 1] ?? '');
  return kept;
}

/** Node's HTTP/1.1 and HTTP/2 request listeners, typed as one. */
export type EdgeHandler = (
  req: Parameters<RequestListener>[0] | Http2ServerRequest,
  res: Parameters<RequestListener>[1] | Http2ServerResponse,
) => void;

export function createEdge(options: {
  tls?: ResolvedListenerTls;
  h2c: boolean;
  http1: ServerOptions;
  handler: EdgeHandler;
}): Edge {
  const { tls, handler } = options;
  const listener = handler as RequestListener;
  if (tls)
    return tls.http2 ? secureH2(tls, options.http1, handler) : secureH1(tls, options, listener);
  if (options.h2c) return h2c(options.http1, handler);
  const server = createHttpServer(options.http1, listener);
  return {
    listener: server,
    http1: server,
    scheme: 'http',
    goAway() {},
    close: () => closed(server),
    closeIdle: () => server.closeIdleConnections(),
    closeAll: () => server.closeAllConnections(),
    reloadCertificates() {},
  };
}

/** The PEM files read now, with what the listener asks of client certificates. */
export function secureContextOf(tls: ResolvedListenerTls): SecureContextOptions & {
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  return {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    requestCert: tls.clientCertificates !== 'none',
    rejectUnauthorized: tls.clientCertificates === 'required',
  };
}

function secureH1(
  tls: ResolvedListenerTls,
  options: { http1: ServerOptions },
  listener: RequestListener,
): Edge {
  const server = createHttpsServer(
    { ...options.http1, ...secureContextOf(tls), ALPNProtocols: ['http/1.1'] },
    listener,
  );
  return {
    listener: server,
    http1: server,
    scheme: 'https',
    goAway() {},
    close: () => closed(server),
    closeIdle: () => server.closeIdleConnections(),
    closeAll: () => server.closeAllConnections(),
    reloadCertificates: () => server.setSecureContext(secureContextOf(tls)),
  };
}

/**
 * TLS with ALPN offering `h2` and `http/1.1`: TLS is ended by a `tls.Server`, and each
 * connection then goes to an HTTP/2 or an HTTP/1.1 server by the protocol it agreed. Node's
 * secure HTTP/2 server could take HTTP/1.1 itself (`allowHTTP1`), but its HTTP/1.1 connections
 * get none of node:http's slow-client checks (`headersTimeout`, `requestTimeout`): a slowloris
 * over TLS would hold its connection for ever.
 */
function secureH2(tls: ResolvedListenerTls, http1: ServerOptions, handler: EdgeHandler): Edge {
  const pair = protocolPair(http1, handler);
  const front = createTlsServer(
    { ...secureContextOf(tls), ALPNProtocols: ['h2', 'http/1.1'] },
    (socket: TLSSocket) => pair.take(socket, socket.alpnProtocol === 'h2'),
  );
  return {
    ...pair.edge,
    listener: front,
    scheme: 'https',
    close: () => closed(front),
    reloadCertificates: () => front.setSecureContext(secureContextOf(tls)),
  };
}

function h2c(http1: ServerOptions, handler: EdgeHandler): Edge {
  const pair = protocolPair(http1, handler);
  const front = createNetServer((socket) => {
    // Until the first bytes arrive the connection is nobody's: its errors and silence are ours.
    const drop = () => socket.destroy();
    socket.once('error', drop);
    socket.setTimeout(pair.h1.headersTimeout, drop);
    socket.once('readable', () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return;
      socket.off('error', drop);
      socket.setTimeout(0);
      // Read in paused mode and put back: the server taking the socket reads it from the start.
      socket.unshift(chunk);
      pair.take(socket, chunk.subarray(0, 3).toString('latin1') === 'PRI');
    });
  });
  return { ...pair.edge, listener: front, scheme: 'http', close: () => closed(front) };
}

/**
 * An HTTP/1.1 and an HTTP/2 server that listen on nothing: a front server hands each
 * connection to one of them. The HTTP/1.1 server is told it listens, because node:http starts
 * its slow-client checks (`headersTimeout`, `requestTimeout`, every
 * `connectionsCheckingInterval`) on `listening`; without it a connection handed over is never
 * timed out.
 */
function protocolPair(http1: ServerOptions, handler: EdgeHandler) {
  const h1 = createHttpServer(http1, handler as RequestListener);
  h1.emit('listening');
  const h2 = createH2cServer(handler);
  const sessions = trackSessions(h2, http1.keepAliveTimeout ?? 5_000);
  return {
    h1,
    take: (socket: Socket, http2: boolean) => (http2 ? h2 : h1).emit('connection', socket),
    edge: {
      http1: h1,
      goAway: () => sessions.goAway(),
      closeIdle() {
        sessions.goAway();
        h1.closeIdleConnections();
      },
      closeAll() {
        sessions.destroy();
        h1.closeAllConnections();
      },
      reloadCertificates() {},
    },
  };
}

/**
 * The server's HTTP/2 sessions, each closed (GOAWAY) once it has had no stream open for
 * `idleMs`: HTTP/2's keep-alive timeout. Node's own session timeout counts any silence,
 * including a stream waiting for a slow backend, so it is not used.
 */
function trackSessions(server: NetServer, idleMs: number) {
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      timer = setTimeout(() => session.close(), idleMs);
      timer.unref();
    };
    session.on('stream', (stream: NodeJS.EventEmitter) => {
      open += 1;
      clearTimeout(timer);
      stream.once('close', () => {
        open -= 1;
        if (open === 0 && !session.closed) idle();
      });
    });
    session.once('close', () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
    idle();
  });
  return {
    goAway: () => {
      for (const session of sessions) if (!session.closed) session.close();
    },
    destroy: () => {
      for (const session of sessions) session.destroy();
    },
  };
}

function closed(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Calls `onChange` (debounced) when one of the files changes, by watching their directories:
 * certificates are replaced by renaming a new file over the old one, or (in a Kubernetes
 * secret volume) by swapping the `..data` link, either of which a watch on the file misses.
 */
export function watchFiles(files: readonly string[], onChange: () => void): () => void {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byDir.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byDir.set(dirname(file), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    const watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name !== null && !names.has(String(name)) && !String(name).startsWith('..')) return;
      clearTimeout(timer);
      // A certificate and its key are written one after the other: wait for both.
      timer = setTimeout(onChange, 100);
    });
    watchers.push(watcher);
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
