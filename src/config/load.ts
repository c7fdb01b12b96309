import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  isScalar,
  LineCounter,
  parse as parseYamlValue,
  parseDocument,
  Scalar,
  visit,
  type Document,
} from 'yaml';
import type { z } from 'zod';
import { checkResolvers, importBffModule, type BffModule } from './bff-module.ts';
import { parseManifest, type PersistedManifest } from './manifest.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { deepFreeze } from './freeze.ts';
import { interpolate, InterpolationError } from './interpolate.ts';
import { locate, sourceLine } from './locate.ts';
import {
  GatewayConfigSchema,
  type GatewayConfig,
  type GrpcServiceConfig,
  type GrpcSource,
  type TranscodeConfig,
} from './schema.ts';

export type ResolvedSchema =
  | { kind: 'file'; file: string; sdl: string }
  | { kind: 'sdl'; sdl: string; file: string; line: number }
  /** A REST source's OpenAPI document, from which its adapter generates the SDL. */
  | { kind: 'openapi'; file: string; text: string }
  /** A gRPC source's protos (absolute), from which its adapter generates the SDL. */
  | {
      kind: 'grpc';
      files: string[];
      includeDirs: string[];
      file: string;
      /** The overlay SDL (`schema.file`) adding federation to the generated types. */
      overlay?: { file: string; sdl: string };
      /** TLS to the backend, PEM files as absolute paths. */
      tls?: ResolvedTls;
    }
  | {
      kind: 'subgraph_url';
      url: string;
      headers: Readonly<Record<string, string>>;
      /** How often the SDL is read again while serving; 0: at load only. */
      pollMs: number;
      /** Where the last SDL read is kept (absolute); undefined: nowhere. */
      cacheFile: string | undefined;
    };

export interface ResolvedTls {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** TLS on a port the gateway listens on (`server.tls`, `grpc_server.tls`), files absolute. */
export interface ResolvedListenerTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
  readonly clientCertificates: 'none' | 'optional' | 'required';
  /** Offer h2 by ALPN (the HTTP port only). */
  readonly http2: boolean;
}

/** A `transcode` entry with its backend settled (its own, or its subgraph's source's). */
export interface ResolvedTranscode {
  readonly config: TranscodeConfig;
  readonly address: string;
  readonly timeout: number;
  /** Absolute proto files and include directories. */
  readonly files: readonly string[];
  readonly includeDirs: readonly string[];
  /** PEM files as absolute paths. */
  readonly tls?: ResolvedTls;
}

/** A `grpc_server.services` entry with its protos found. */
export interface ResolvedGrpcService {
  readonly config: GrpcServiceConfig;
  readonly files: readonly string[];
  readonly includeDirs: readonly string[];
}

export interface LoadedConfig {
  /** Absolute path of supergraph.yaml. */
  readonly file: string;
  /** Validated, defaults applied, deep-frozen; `routing_url` filled from `schema.subgraph_url`. */
  readonly config: GatewayConfig;
  /** By subgraph name, in file order. */
  readonly schemas: ReadonlyMap<string, ResolvedSchema>;
  /** The config file and every `schema.file` and proto, absolute: what hot reload watches. */
  readonly watchFiles: readonly string[];
  /** `transcode` entries by name. */
  readonly transcode: ReadonlyMap<string, ResolvedTranscode>;
  /** `grpc_server.services` by name. */
  readonly grpcServices: ReadonlyMap<string, ResolvedGrpcService>;
  /** The key files of `auth.jwt` entries, read: by the entry's index. */
  readonly authKeys: ReadonlyMap<number, AuthKeyFile>;
  /** `persisted_documents.manifest`, read: document text by id (empty without a manifest). */
  readonly persistedManifest: PersistedManifest;
  /** `clients.<id>.persisted_documents.manifest`, read, for each client that has its own. */
  readonly clientManifests: ReadonlyMap<string, PersistedManifest>;
  /**
   * Locates a key path in the file, for problems found after loading (a client's contract can
   * only be checked once the graph is composed).
   */
  issueAt(path: readonly PropertyKey[], message: string): ConfigIssue;
  /** TLS to HTTP backends (subgraphs, REST sources, route backends) by origin, files absolute. */
  readonly backendTls: ReadonlyMap<string, ResolvedTls>;
  /** `server.tls` and `grpc_server.tls` with their PEM files found (absolute paths). */
  readonly listenerTls: {
    readonly server?: ResolvedListenerTls;
    readonly grpc?: ResolvedListenerTls;
  };
  /** The resolvers modules of BFF subgraphs (`source.kind: bff`), imported, by subgraph name. */
  readonly bffModules: ReadonlyMap<string, BffModule>;
}

/** A JWT issuer's keys from a file: a JWKS (parsed) or a PEM key or certificate. */
export type AuthKeyFile =
  | { readonly kind: 'jwks'; readonly file: string; readonly jwks: { keys: readonly object[] } }
  | { readonly kind: 'pem'; readonly file: string; readonly pem: string };

export type Env = Readonly<Record<string, string | undefined>>;

interface Parsed {
  config: GatewayConfig;
  /** Locates a key path in the source, for errors found after validation. */
  issueAt(path: readonly PropertyKey[], message: string): ConfigIssue;
}

/** YAML text to a validated, frozen config. Pure: the environment is passed in. */
export function parseConfig(text: string, file: string, env: Env): Parsed {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const issueAt = (path: readonly PropertyKey[], message: string, atKey = false): ConfigIssue => {
    const at = locate(doc, lineCounter, text, path, atKey);
    return { file, path: dottedPath(path), message, ...(at ?? {}) };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const pos = error.linePos?.[0];
        const message =
          error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message;
        return pos
          ? {
              file,
              path: '',
              message,
              line: pos.line,
              column: pos.col,
              snippet: sourceLine(text, pos.line),
            }
          : { file, path: '', message };
      }),
    );
  }

  const fromEnv = new Map<string, string>();
  const issues = interpolateScalars(doc, env, issueAt, fromEnv);
  if (issues.length > 0) throw new ConfigError(issues);

  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([
      { file, path: '', message: 'expected a mapping with at least a `subgraphs` key' },
    ]);
  }
  const result = GatewayConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.flatMap((issue) => {
        // A listen port set by a variable (`port: ${GRPC_PORT:-50051}`) is wrong because of the
        // variable: name it and its value, which the snippet (the raw line) cannot show. Ports
        // only, as they are never secrets.
        const variable = issue.path.at(-1) === 'port' && fromEnv.get(dottedPath(issue.path));
        return variable
          ? [issueAt(issue.path, `${variable} is not a port (0-65535)`)]
          : describeIssue(issue, doc, issueAt);
      }),
    );
  }
  const config = result.data;
  for (const subgraph of Object.values(config.subgraphs)) {
    subgraph.routing_url ??= subgraph.schema?.subgraph_url;
  }
  return { config: deepFreeze(config), issueAt };
}

/** Reads supergraph.yaml and the schema files it names. Throws ConfigError with every problem. */
export async function loadConfig(
  file: string,
  env: Env = process.env,
  options: {
    /**
     * Read the persisted-document manifests the config names. `manifest build` does not: it
     * writes one, which may not exist yet. @default true
     */
    readManifests?: boolean;
  } = {},
): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      {
        file: path,
        path: '',
        message: `cannot read file (${(error as NodeJS.ErrnoException).code})`,
      },
    ]);
  }
  const { config, issueAt } = parseConfig(text, path, env);
  const base = dirname(path);
  const issues: ConfigIssue[] = [];
  // Checked here rather than in the schema: the two keys live in different sections.
  const { url, sentinel, cluster } = config.redis;
  const noRedis = url === undefined && sentinel === undefined && cluster === undefined;
  const needsRedis = 'redis needs redis.url, redis.sentinel or redis.cluster (the shared server)';
  if (config.limits.store.kind === 'redis' && noRedis)
    issues.push(issueAt(['limits', 'store', 'kind'], needsRedis));
  if (config.cache.store === 'redis' && noRedis)
    issues.push(issueAt(['cache', 'store'], needsRedis));
  if (config.server.apq_cache.store === 'redis' && noRedis)
    issues.push(issueAt(['server', 'apq_cache', 'store'], needsRedis));
  /** A file the config names, read relative to it; a problem is an issue at its key. */
  const readNamed = async (relativePath: string, key: string[], what: string) => {
    const absolute = resolve(base, relativePath);
    try {
      const text = await readFile(absolute, 'utf8');
      if (text.trim() === '') throw Object.assign(new Error('empty'), { code: 'empty file' });
      return { file: absolute, text };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      issues.push(issueAt(key, `cannot read ${what} ${relativePath} (${code})`));
      return undefined;
    }
  };
  /** Proto files found in the include directories (absolute); a missing one is an issue. */
  const resolveProtos = (protos: readonly string[], dirs: readonly string[], at: string[]) => {
    const includeDirs = dirs.map((dir) => resolve(base, dir));
    const files: string[] = [];
    for (const [index, proto] of protos.entries()) {
      const found = includeDirs.map((dir) => resolve(dir, proto)).find((f) => existsSync(f));
      if (found) files.push(found);
      else
        issues.push(
          issueAt([...at, 'protos', index], `cannot find ${proto} in ${dirs.join(', ')}`),
        );
    }
    return { files, includeDirs };
  };
  const resolveTls = (tls: GrpcSource['tls'], at: (string | number)[]): ResolvedTls | undefined => {
    const given = tls === true ? {} : tls;
    if (!given) return undefined;
    const resolved: ResolvedTls = given.server_name ? { serverName: given.server_name } : {};
    for (const part of ['ca', 'cert', 'key'] as const) {
      const file = given[part];
      if (file === undefined) continue;
      const absolute = resolve(base, file);
      if (existsSync(absolute)) resolved[part] = absolute;
      else issues.push(issueAt([...at, part], `cannot find ${file}`));
    }
    return resolved;
  };
  /** A listener's PEM files, each read once to tell a missing or non-PEM file at its key. */
  const resolveListenerTls = async (
    tls: (GatewayConfig['grpc_server']['tls'] & { http2?: boolean }) | undefined,
    at: string[],
  ): Promise<ResolvedListenerTls | undefined> => {
    if (!tls) return undefined;
    const found: Partial<Record<'cert' | 'key' | 'ca', string>> = {};
    for (const part of ['cert', 'key', 'ca'] as const) {
      const named = tls[part];
      if (named === undefined) continue;
      const what = part === 'key' ? 'private key' : 'certificate';
      const read = await readNamed(named, [...at, part], what);
      if (!read) continue;
      if (!/-----BEGIN [A-Z ]+-----/.test(read.text))
        issues.push(issueAt([...at, part], `${named} holds no PEM ${what}`));
      else found[part] = read.file;
    }
    if (found.cert === undefined || found.key === undefined) return undefined;
    return {
      cert: found.cert,
      key: found.key,
      ...(found.ca === undefined ? {} : { ca: found.ca }),
      clientCertificates: tls.client_certificates,
      http2: tls.http2 ?? false,
    };
  };
  const serverTls = await resolveListenerTls(config.server.tls, ['server', 'tls']);
  const grpcTls = await resolveListenerTls(config.grpc_server.tls, ['grpc_server', 'tls']);
  const authKeys = new Map<number, AuthKeyFile>();
  for (const [index, issuer] of config.auth.jwt.entries()) {
    const key = issuer.jwks_file === undefined ? 'pem_file' : 'jwks_file';
    const named = issuer.jwks_file ?? issuer.pem_file;
    if (named === undefined) continue;
    const at = ['auth', 'jwt', String(index), key];
    const read = await readNamed(named, at, key === 'jwks_file' ? 'JWKS' : 'PEM key');
    if (!read) continue;
    if (key === 'pem_file') {
      if (/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(read.text))
        authKeys.set(index, { kind: 'pem', file: read.file, pem: read.text });
      else issues.push(issueAt(at, `${named} holds no PEM public key or certificate`));
      continue;
    }
    const jwks = parseJwks(read.text);
    if (typeof jwks === 'string') issues.push(issueAt(at, `${named}: ${jwks}`));
    else authKeys.set(index, { kind: 'jwks', file: read.file, jwks });
  }
  const manifestFiles: string[] = [];
  /** A `persisted_documents.manifest`, read; problems are issues at its key. */
  const readManifest = async (
    manifestPath: string | undefined,
    manifestKey: string[],
  ): Promise<PersistedManifest> => {
    if (options.readManifests === false) return new Map();
    const manifestFile = manifestPath && (await readNamed(manifestPath, manifestKey, 'manifest'));
    if (!manifestFile) return new Map();
    manifestFiles.push(manifestFile.file);
    const parsed = parseManifest(manifestFile.text);
    if ('manifest' in parsed) return parsed.manifest;
    for (const problem of parsed.problems)
      issues.push(
        issueAt(
          manifestKey,
          `${manifestPath}${problem.path ? ` at ${problem.path}` : ''}: ${problem.message}`,
        ),
      );
    return new Map();
  };
  const persistedManifest = await readManifest(config.persisted_documents.manifest, [
    'persisted_documents',
    'manifest',
  ]);
  const clientManifests = new Map<string, PersistedManifest>();
  for (const [id, client] of Object.entries(config.clients)) {
    if (!client.persisted_documents) continue;
    clientManifests.set(
      id,
      await readManifest(client.persisted_documents.manifest, [
        'clients',
        id,
        'persisted_documents',
        'manifest',
      ]),
    );
  }
  const transcode = new Map<string, ResolvedTranscode>();
  for (const [name, entry] of Object.entries(config.transcode)) {
    const from = entry.subgraph === undefined ? undefined : config.subgraphs[entry.subgraph];
    if (entry.subgraph !== undefined && from?.source?.kind !== 'grpc') {
      issues.push(
        issueAt(
          ['transcode', name, 'subgraph'],
          from
            ? `subgraph ${entry.subgraph} has no gRPC source`
            : `no subgraph ${entry.subgraph} (subgraphs: ${Object.keys(config.subgraphs).join(', ')})`,
        ),
      );
      continue;
    }
    const source = from?.source?.kind === 'grpc' ? from.source : undefined;
    const at = source ? ['subgraphs', entry.subgraph as string, 'source'] : ['transcode', name];
    const { files, includeDirs } = resolveProtos(
      source?.protos ?? entry.protos ?? [],
      source?.include_dirs ?? entry.include_dirs ?? ['./protos'],
      at,
    );
    const tls = resolveTls(source ? source.tls : entry.tls, [...at, 'tls']);
    transcode.set(name, {
      config: entry,
      address: source?.address ?? (entry.address as string),
      timeout: source?.timeout ?? entry.timeout ?? 10_000,
      files,
      includeDirs,
      ...(tls ? { tls } : {}),
    });
  }
  // TLS to HTTP backends is a property of their origin: the pools are per origin.
  const backendTls = new Map<string, ResolvedTls>();
  const addBackendTls = (
    url: string | undefined,
    tls: GrpcSource['tls'],
    at: (string | number)[],
  ) => {
    if (tls === undefined || tls === true || url === undefined) return;
    const origin = new URL(url).origin;
    if (!origin.startsWith('https:')) {
      issues.push(issueAt(at, `TLS settings need an https URL, not ${origin}`));
      return;
    }
    const resolved = resolveTls(tls, at);
    if (!resolved) return;
    const other = backendTls.get(origin);
    if (other && JSON.stringify(other) !== JSON.stringify(resolved))
      issues.push(
        issueAt(at, `${origin} has other TLS settings elsewhere; one origin, one setting`),
      );
    else backendTls.set(origin, resolved);
  };
  for (const [name, subgraph] of Object.entries(config.subgraphs)) {
    addBackendTls(subgraph.routing_url, subgraph.tls, ['subgraphs', name, 'tls']);
    if (subgraph.source?.kind === 'rest')
      addBackendTls(subgraph.source.base_url, subgraph.source.tls, [
        'subgraphs',
        name,
        'source',
        'tls',
      ]);
  }
  for (const [index, route] of config.routes.entries())
    for (const [b, backend] of route.backends.entries())
      addBackendTls(backend.url, backend.tls, ['routes', index, 'backends', b, 'tls']);
  for (const [name, service] of Object.entries(config.grpc_server.services))
    addBackendTls(service.base_url, service.tls, ['grpc_server', 'services', name, 'tls']);
  const grpcServices = new Map<string, ResolvedGrpcService>();
  for (const [name, entry] of Object.entries(config.grpc_server.services)) {
    const protos = resolveProtos(entry.protos, entry.include_dirs, [
      'grpc_server',
      'services',
      name,
    ]);
    grpcServices.set(name, { config: entry, ...protos });
  }
  const entries = await Promise.all(
    Object.entries(config.subgraphs).map(
      async ([name, subgraph]): Promise<[string, ResolvedSchema] | undefined> => {
        const { schema, source } = subgraph;
        if (source?.kind === 'grpc') {
          const at = ['subgraphs', name, 'source'];
          const { files, includeDirs } = resolveProtos(source.protos, source.include_dirs, at);
          const channelTls = resolveTls(source.tls, [...at, 'tls']);
          const overlay = schema?.file
            ? await readNamed(schema.file, ['subgraphs', name, 'schema', 'file'], 'overlay SDL')
            : undefined;
          return [
            name,
            {
              kind: 'grpc',
              files,
              includeDirs,
              file: path,
              ...(overlay ? { overlay: { file: overlay.file, sdl: overlay.text } } : {}),
              ...(channelTls ? { tls: channelTls } : {}),
            },
          ];
        }
        const openapi = source?.kind === 'rest' ? source.openapi : undefined;
        if (openapi !== undefined) {
          const read = await readNamed(
            openapi,
            ['subgraphs', name, 'source', 'openapi'],
            'OpenAPI document',
          );
          return read && [name, { kind: 'openapi', file: read.file, text: read.text }];
        }
        if (schema?.file !== undefined) {
          const read = await readNamed(
            schema.file,
            ['subgraphs', name, 'schema', 'file'],
            'schema file',
          );
          return read && [name, { kind: 'file', file: read.file, sdl: read.text }];
        }
        if (schema?.sdl !== undefined) {
          const at = issueAt(['subgraphs', name, 'schema', 'sdl'], '');
          // A block scalar (`sdl: |`) starts on the line after its indicator.
          const line =
            (at.line ?? 1) + (/^\s*[|>]/.test(at.snippet?.split('sdl:')[1] ?? '') ? 1 : 0);
          return [name, { kind: 'sdl', sdl: schema.sdl, file: path, line }];
        }
        return [
          name,
          {
            kind: 'subgraph_url',
            url: schema?.subgraph_url as string,
            headers: schema?.introspection_headers ?? {},
            pollMs: schema?.poll_interval ?? DEFAULT_SDL_POLL_MS,
            cacheFile:
              schema?.sdl_cache === false
                ? undefined
                : resolve(
                    base,
                    schema?.sdl_cache ?? join('.gateway', 'subgraphs', `${name}.graphql`),
                  ),
          },
        ];
      },
    ),
  );
  const bffModules = new Map<string, BffModule>();
  for (const [index, [name, subgraph]] of Object.entries(config.subgraphs).entries()) {
    if (subgraph.source?.kind !== 'bff') continue;
    const at = ['subgraphs', name, 'source', 'resolvers'];
    const named = subgraph.source.resolvers;
    const imported = await importBffModule(resolve(base, named));
    if (typeof imported === 'string') {
      issues.push(issueAt(at, `${named} ${imported}`));
      continue;
    }
    const schema = entries[index]?.[1];
    if (schema?.kind === 'file' || schema?.kind === 'sdl') {
      let problems: string[] = [];
      try {
        problems = checkResolvers(imported.resolvers, schema.sdl);
      } catch {
        // An SDL that does not parse is composition's to report, with its location.
      }
      for (const problem of problems) issues.push(issueAt(at, `${named}: ${problem}`));
    }
    bffModules.set(name, imported);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const schemas = new Map(entries.filter((e): e is [string, ResolvedSchema] => e !== undefined));
  const watchFiles: string[] = [
    path,
    ...[...schemas.values()].flatMap((s) =>
      s.kind === 'file' || s.kind === 'openapi'
        ? [s.file]
        : s.kind === 'grpc'
          ? [...s.files, ...(s.overlay ? [s.overlay.file] : [])]
          : [],
    ),
  ];
  for (const entry of [...transcode.values(), ...grpcServices.values()])
    watchFiles.push(...entry.files);
  for (const keys of authKeys.values()) watchFiles.push(keys.file);
  watchFiles.push(...manifestFiles);
  for (const module of bffModules.values()) watchFiles.push(module.file);
  return {
    file: path,
    config,
    schemas,
    watchFiles,
    backendTls,
    listenerTls: {
      ...(serverTls ? { server: serverTls } : {}),
      ...(grpcTls ? { grpc: grpcTls } : {}),
    },
    transcode,
    grpcServices,
    authKeys,
    persistedManifest,
    clientManifests,
    issueAt,
    bffModules,
  };
}

/** A JWKS document, or what is wrong with it. Private key parts are refused: only public keys. */
function parseJwks(text: string): { keys: readonly object[] } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'expected a JWKS: {"keys": [...]}';
  if (keys.some((key) => typeof key !== 'object' || key === null || 'd' in key))
    return 'holds a private key (a "d" member): publish public keys only';
  return { keys: keys as object[] };
}

/**
 * Replaces `${VAR}` in every scalar value (keys stay literal). An unquoted scalar is re-typed
 * as YAML would read the result, so `port: ${PORT:-4000}` is the number 4000; a quoted one stays
 * a string.
 */
function interpolateScalars(
  doc: Document,
  env: Env,
  issueAt: (path: readonly PropertyKey[], message: string) => ConfigIssue,
  /**
   * Filled with `NAME=value` by dotted key path, for each `port` whose value is one variable's,
   * set: ports only, so that no secret read from the environment is held for messages.
   */
  fromEnv: Map<string, string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Scalar(key, node, ancestry) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      try {
        const path = pathOf(ancestry, node);
        const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$/.exec(node.value)?.[1];
        const set = whole === undefined ? undefined : env[whole];
        if (path.at(-1) === 'port' && whole !== undefined && set !== undefined && set !== '')
          fromEnv.set(dottedPath(path), `${whole}=${set}`);
        const value = interpolate(node.value, env);
        node.value = node.type === Scalar.PLAIN ? retype(value) : value;
      } catch (error) {
        if (!(error instanceof InterpolationError)) throw error;
        issues.push(issueAt(pathOf(ancestry, node), error.message));
      }
    },
  });
  return issues;
}

function retype(value: string): unknown {
  try {
    const typed: unknown = parseYamlValue(value);
    return typeof typed === 'number' || typeof typed === 'boolean' ? typed : value;
  } catch {
    return value;
  }
}

/** The key path of a node from `visit`'s ancestry (pairs give keys, sequences give indexes). */
function pathOf(ancestry: readonly unknown[], node: unknown): PropertyKey[] {
  const path: PropertyKey[] = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length; i++) {
    const item = chain[i] as { key?: unknown; items?: unknown[] };
    if (
      item &&
      typeof item === 'object' &&
      'key' in item &&
      'value' in item &&
      isScalar(item.key)
    ) {
      path.push(String(item.key.value));
    } else if (item && Array.isArray(item.items) && !('key' in item)) {
      const next = chain[i + 1];
      const index = item.items.indexOf(next);
      if (
        index !== -1 &&
        (item as { constructor: { name: string } }).constructor.name === 'YAMLSeq'
      )
        path.push(index);
    }
  }
  return path;
}

function dottedPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, segment) =>
      typeof segment === 'number'
        ? `${out}[${segment}]`
        : out
          ? `${out}.${String(segment)}`
          : String(segment),
    '',
  );
}

/** Keys that were, and where their setting lives now: named rather than merely unknown. */
/** How often a `subgraph_url` subgraph's SDL is read again by default (`schema.poll_interval`). */
const DEFAULT_SDL_POLL_MS = 30_000;

const MOVED_KEYS = new Map([
  ['metrics.port', 'metrics are served on the admin listener now: set server.admin.port'],
  ['metrics.host', 'metrics are served on the admin listener now: set server.admin.host'],
]);

/** Short, human messages for zod's issues; never the value itself (it may be a secret). */
function describeIssue(
  issue: z.core.$ZodIssue,
  doc: Document,
  issueAt: (path: readonly PropertyKey[], message: string, atKey?: boolean) => ConfigIssue,
): ConfigIssue[] {
  const path = issue.path;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const moved = MOVED_KEYS.get(dottedPath([...path, key]));
        if (moved) return issueAt([...path, key], moved, true);
        const known = knownKeys(path);
        const hint = closest(key, known);
        return issueAt(
          [...path, key],
          `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
          true,
        );
      });
    case 'invalid_type':
      if (!doc.hasIn(path)) return [issueAt(path, 'required')];
      return [issueAt(path, `expected ${article(issue.expected)}`)];
    case 'invalid_value':
      return [issueAt(path, `expected one of ${issue.values.map(String).join(', ')}`)];
    case 'invalid_key':
      return [issueAt(path, issue.issues[0]?.message ?? 'invalid key', true)];
    default:
      return [issueAt(path, issue.message.replace(/^Invalid input: /, ''))];
  }
}

function article(type: string): string {
  return type === 'object'
    ? 'a mapping'
    : type === 'array'
      ? 'a list'
      : /^[aeiou]/.test(type)
        ? `an ${type}`
        : `a ${type}`;
}

interface ZodDef {
  type: string;
  shape?: Record<string, { _zod: { def: ZodDef } }>;
  valueType?: { _zod: { def: ZodDef } };
  innerType?: { _zod: { def: ZodDef } };
  in?: { _zod: { def: ZodDef } };
}

/** The keys the schema allows at a path, for "did you mean" hints. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let def = (GatewayConfigSchema as unknown as { _zod: { def: ZodDef } })._zod.def;
  const unwrap = () => {
    while (def.innerType || (def.type === 'pipe' && def.in))
      def = (def.innerType ?? def.in)!._zod.def;
  };
  unwrap();
  for (const segment of path) {
    const next =
      def.type === 'object'
        ? def.shape?.[String(segment)]
        : def.type === 'record'
          ? def.valueType
          : undefined;
    if (!next) return [];
    def = next._zod.def;
    unwrap();
  }
  return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

/** The known key within a small edit distance (a third of the key's length, at least 1), if any. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: a swap of two neighbours (`prot`/`port`) counts as one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}
