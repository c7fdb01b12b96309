import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { request } from 'undici';
import { BUILTIN_PROTOS } from '../../src/adapters/grpc/proto-schema.ts';
import type { AuthMode } from '../../src/config/schema.ts';
import { read, type HttpResult } from './env.ts';

/**
 * What the gateway-level auth tests share: the four surfaces as a client calls them, backends
 * that record what reached them, an RFC 7662 endpoint, and the one answer every rejection gets.
 */

/** The repository's protos (the demo services) and the test fixtures' protos. */
export const PROTOS = join(import.meta.dirname, '../../protos');
export const FIXTURE_PROTOS = join(import.meta.dirname, '../fixtures/protos');

/** The identity names (`auth.identity` defaults) and the proof header. */
export const IDENTITY = {
  subject: 'x-gateway-subject',
  scopes: 'x-gateway-scopes',
  clientId: 'x-gateway-client-id',
  proof: 'x-gateway-proof',
} as const;
export const IDENTITY_NAMES: readonly string[] = Object.values(IDENTITY);

/** Every identity name, and a header forwarding rules do pass, to show the rules still work. */
export const FORWARDED: readonly string[] = [...IDENTITY_NAMES, 'x-tenant'];

/** A route (config) to a users REST service's `/users` under `prefix`, forwarding FORWARDED. */
export function usersRoute(usersUrl: string, name: string, prefix: string, auth?: AuthMode) {
  return {
    name,
    path_prefix: prefix,
    rewrite_prefix: '/users',
    backends: [{ url: usersUrl }],
    forward_headers: FORWARDED,
    ...(auth ? { auth } : {}),
  };
}

/** A REST backend on the gRPC port (config), described by `proto` under `includeDir`. */
export function portService(proto: string, includeDir: string, baseUrl: string, auth?: AuthMode) {
  return {
    protos: [proto],
    include_dirs: [includeDir],
    base_url: baseUrl,
    forward_metadata: FORWARDED,
    ...(auth ? { auth } : {}),
  };
}

/** What a spoofing client puts in every identity name: no backend may ever see it. */
export const SPOOF = 'spoofed-by-the-client';

/**
 * Client-sent copies of every identity name, and the grpc-gateway spelling of metadata
 * (`Grpc-Metadata-<name>`) a transcoded route might be expected to pass on.
 */
export const SPOOFED_HEADERS: Readonly<Record<string, string>> = {
  [IDENTITY.subject]: SPOOF,
  [IDENTITY.scopes]: `${SPOOF} admin`,
  [IDENTITY.clientId]: SPOOF,
  [IDENTITY.proof]: SPOOF,
  [`grpc-metadata-${IDENTITY.subject}`]: SPOOF,
  [`grpc-metadata-${IDENTITY.proof}`]: SPOOF,
};

/** The one message every rejected credential gets, whatever check failed. */
export const UNAUTHENTICATED_MESSAGE = 'The request is not authenticated.';

/** The `WWW-Authenticate` challenge's Bearer part, with or without an RFC 6750 error. */
export function bearerChallenge(
  error: 'invalid_token' | 'invalid_request' | undefined,
  realm = 'gateway',
): string {
  return `Bearer realm="${realm}"${error ? `, error="${error}"` : ''}`;
}

/**
 * A 401 as docs/auth.md promises it: `WWW-Authenticate` starting with the Bearer challenge (no
 * `error` attribute when no credential was presented), and the surface's UNAUTHENTICATED body
 * with the one message. Returns the body with the request's correlation id blanked, so callers
 * can compare bodies across cases.
 */
export function assertUnauthenticated(
  res: HttpResult,
  surface: 'graphql' | 'rest',
  error: 'invalid_token' | 'invalid_request' | undefined,
): string {
  assert.equal(res.status, 401, res.text);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.ok(
    challenge.startsWith(bearerChallenge(error)),
    `WWW-Authenticate: ${challenge}, expected it to start with ${bearerChallenge(error)}`,
  );
  if (!error) assert.doesNotMatch(challenge, /error=/);
  if (surface === 'graphql') {
    assert.equal(res.json?.data, undefined);
    assert.equal(res.json?.errors?.length, 1, res.text);
    assert.equal(res.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(res.json.errors[0].message, UNAUTHENTICATED_MESSAGE);
  } else {
    // google.rpc.Status: 16 is UNAUTHENTICATED.
    assert.equal(res.json?.code, 16, res.text);
    assert.equal(res.json.message, UNAUTHENTICATED_MESSAGE);
    assert.equal(res.json.details?.[0]?.reason, 'UNAUTHENTICATED', res.text);
  }
  const correlationId = String(res.headers['x-correlation-id'] ?? '');
  return correlationId ? res.text.replaceAll(correlationId, '<correlation-id>') : res.text;
}

/** Any HTTP request through the gateway, read whole. */
export async function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: unknown;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string | string[]> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  return read(
    await request(url, {
      method: (options.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
      headers,
      body,
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// gRPC clients of the gateway's gRPC port

export interface GrpcAnswer {
  reply?: any;
  error?: grpc.ServiceError;
}

export interface GrpcTestClient {
  call(
    method: string,
    request: object,
    metadata?: Record<string, string | readonly string[]>,
  ): Promise<GrpcAnswer>;
  close(): void;
}

/** A client of `service` (package.Service) from `file`, found under the include dirs. */
export function grpcClient(
  address: string,
  file: string,
  service: string,
  includeDirs: readonly string[] = [PROTOS],
): GrpcTestClient {
  const definition = protoLoader.loadSync(file, {
    includeDirs: [...includeDirs, BUILTIN_PROTOS],
    longs: String,
    enums: String,
  });
  let found: any = grpc.loadPackageDefinition(definition);
  for (const part of service.split('.')) found = found[part];
  const client = new (found as grpc.ServiceClientConstructor)(
    address,
    grpc.credentials.createInsecure(),
  ) as grpc.Client & Record<string, any>;
  return {
    call: (method, req, headers = {}) => {
      const metadata = new grpc.Metadata();
      for (const [name, value] of Object.entries(headers))
        for (const one of typeof value === 'string' ? [value] : value) metadata.add(name, one);
      return new Promise((resolve) => {
        client[method](
          req,
          metadata,
          { deadline: Date.now() + 10_000 },
          (error: grpc.ServiceError | null, reply: unknown) =>
            resolve(error ? { error } : { reply }),
        );
      });
    },
    close: () => client.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Backends that record what reached them

/** Headers of HTTP requests a backend received, in order. */
export class HttpRecord {
  readonly requests: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  push(req: {
    method?: string | undefined;
    url?: string | undefined;
    headers: IncomingHttpHeaders;
  }) {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  }
  get count(): number {
    return this.requests.length;
  }
  last(): IncomingHttpHeaders {
    const last = this.requests.at(-1);
    assert.ok(last, 'the backend received no request');
    return last.headers;
  }
}

/**
 * A REST backend answering every request with `{}` (what an empty protobuf message reads as),
 * recording each: stands behind services of the gRPC port whose answers do not matter here.
 */
export async function startRecordingRest() {
  const record = new HttpRecord();
  const server = createServer((req, res) => {
    record.push(req);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    record,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// An RFC 7662 introspection endpoint

export interface IntrospectionServer {
  readonly url: string;
  /** Requests received so far. */
  readonly requests: number;
  /** Tokens introspected, in order. */
  readonly tokens: readonly string[];
  /** Active tokens and the answer for each; any other token is inactive. */
  readonly active: Map<string, Record<string, unknown>>;
  /** ok: answers; down: drops the connection. */
  setMode(mode: 'ok' | 'down'): void;
  close(): Promise<void>;
}

export async function startIntrospectionServer(): Promise<IntrospectionServer> {
  let requests = 0;
  let mode: 'ok' | 'down' = 'ok';
  const tokens: string[] = [];
  const active = new Map<string, Record<string, unknown>>();
  const server = createServer(async (req, res) => {
    requests += 1;
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const token = new URLSearchParams(body).get('token') ?? '';
    tokens.push(token);
    const answer = active.get(token);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(answer ? { active: true, ...answer } : { active: false }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/introspect`,
    get requests() {
      return requests;
    },
    tokens,
    active,
    setMode(next) {
      mode = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// What a backend saw of identity

/** A header or metadata value as one string (undefined when absent). */
export type Read = (name: string) => string | undefined;

export const readHeaders =
  (headers: IncomingHttpHeaders): Read =>
  (name) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };

export const readMetadata =
  (metadata: grpc.Metadata): Read =>
  (name) => {
    const values = metadata.get(name);
    return values.length === 0 ? undefined : values.map(String).join(', ');
  };

/** Every name and value a backend received, for "the client's value is nowhere". */
export function allValues(received: IncomingHttpHeaders | grpc.Metadata): string[] {
  const entries =
    received instanceof grpc.Metadata
      ? Object.entries(received.getMap())
      : Object.entries(received);
  return entries.flatMap(([name, value]) => [
    name,
    ...(Array.isArray(value) ? value : [value]).map(String),
  ]);
}

/**
 * What a backend must see: exactly the verified identity (none for an anonymous caller) under
 * the identity names, a proof, and the client's spoofed values nowhere, under any name.
 */
export function assertIdentityAtBackend(
  read: Read,
  received: IncomingHttpHeaders | grpc.Metadata,
  expected: { subject: string; scopes?: string; clientId?: string } | undefined,
  where: string,
): void {
  assert.equal(read(IDENTITY.subject), expected?.subject, `${where}: subject`);
  assert.equal(read(IDENTITY.scopes), expected?.scopes, `${where}: scopes`);
  assert.equal(read(IDENTITY.clientId), expected?.clientId, `${where}: client id`);
  const proof = read(IDENTITY.proof);
  assert.ok(proof && proof !== SPOOF, `${where}: the gateway's proof`);
  const leaked = allValues(received).filter((value) => value.includes(SPOOF));
  assert.deepEqual(leaked, [], `${where}: the client's identity values reached the backend`);
}
