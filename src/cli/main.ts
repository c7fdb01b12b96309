#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Supergraph } from '@apollo/federation-internals';
import { buildAdapters, buildOutbound, type RuntimeDeps } from '../runtime/snapshot.ts';
import { configSource, createLoadDeps, supergraphFileSource } from '../runtime/sources.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { generateApiKey, hashApiKey } from '../policies/auth/api-keys.ts';
import {
  LogConfig,
  MetricsConfig,
  ServerConfig,
  TracingConfig,
  withAdminPort,
} from '../config/schema.ts';
import { createLogger, logOptionsFrom } from '../observability/log.ts';
import { ExitCode } from '../server/exit-codes.ts';
import { buildManifest, readDocuments } from './manifest-build.ts';
import { exitOnSignals, startGateway } from '../server/main.ts';
import { serveSubgraph } from '../server/serve-subgraph.ts';

const USAGE = `Usage: gateway <command> [options]

Commands:
  start      Serve the federated graph
               --config <file>      supergraph.yaml to compose and watch (default: ./supergraph.yaml)
               --supergraph <file>  serve a supergraph SDL composed elsewhere instead of composing
               --port <n>           listen port (precedence: --port, then PORT, then server.port)
               --host <addr>        listen address (default: server.host, 127.0.0.1)
               --admin-port <n>     the admin listener's port, when there is one (precedence:
                                    --admin-port, then ADMIN_PORT, then server.admin.port)
  compose    Compose supergraph.yaml into a supergraph SDL usable by any Federation 2 router
               --config <file>      (default: ./supergraph.yaml)
               --output <file>      (default: ./supergraph.graphql; "-" for stdout)
  rest print <name>
             Print the SDL a REST adapter serves (generated from OpenAPI, or as written)
               --config <file>      (default: ./supergraph.yaml)
  grpc print <name>
             Print the SDL the gRPC adapter generates from a subgraph's protos
               --config <file>      (default: ./supergraph.yaml)
  serve-subgraph <name>
             Serve one adapter subgraph (a subgraph with a source) standalone over HTTP
               --config <file>      (default: ./supergraph.yaml)
               --port <n>           (default: PORT, else 4100)
               --host <addr>        (default: 127.0.0.1)
  manifest build <dir>
             Build a persisted query manifest (Apollo's format) from the .graphql files under
             dir: one entry per named operation, each validated against the gateway's API schema
               --config <file>      (default: ./supergraph.yaml)
               --out <file>         (default: stdout)
               --client <id>        a configured client's manifest; validated against the same
                                    API schema for now (per-client contracts are not wired yet)
  key hash   Print the SHA-256 of the API key read from stdin (an API key entry's sha256)
  key new    Generate an API key; print it and its SHA-256
  help       Show this text
`;

/** Wrong usage exits 2, a failed start or composition 1 (server/exit-codes.ts). */
class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'compose':
      return compose(rest);
    case 'serve-subgraph':
      return serveSubgraphCommand(rest);
    case 'key':
      return key(rest);
    case 'manifest':
      if (rest[0] !== 'build')
        throw new UsageError('the manifest command has one subcommand: manifest build <dir>');
      return manifestBuild(rest.slice(1));
    case 'rest':
    case 'grpc':
      if (rest[0] !== 'print') {
        throw new UsageError(`the ${command} command has one subcommand: ${command} print <name>`);
      }
      return printAdapter(command, rest.slice(1));
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(USAGE);
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function start(args: string[]): Promise<void> {
  const { values } = asUsage(() =>
    parseArgs({
      args,
      options: {
        config: { type: 'string' },
        supergraph: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'admin-port': { type: 'string' },
      },
    }),
  );
  let loaded: LoadedConfig | undefined;
  if (values.config !== undefined || values.supergraph === undefined) {
    loaded = await loadConfig(resolve(values.config ?? 'supergraph.yaml'), process.env);
  }
  let server: ServerConfig = {
    ...(loaded?.config.server ?? ServerConfig.parse({})),
    ...portAndHost(values.port ?? process.env.PORT, values.host),
  };
  const adminPort = values['admin-port'] ?? process.env.ADMIN_PORT;
  if (adminPort !== undefined) server = withAdminPort(server, portNumber('admin port', adminPort));
  const log = loaded?.config.log ?? LogConfig.parse({});
  const logger = createLogger(
    logOptionsFrom(log, server.mode, process.env, process.stdout.isTTY === true),
  );
  const source = values.supergraph
    ? supergraphFileSource(resolve(values.supergraph), loaded)
    : configSource((loaded as LoadedConfig).file, process.env, loaded);
  const running = await startGateway({
    source,
    server,
    logger,
    observability: {
      log,
      metrics: loaded?.config.metrics ?? MetricsConfig.parse({}),
      tracing: loaded?.config.tracing ?? TracingConfig.parse({}),
    },
    ...(loaded
      ? {
          identity: loaded.config.auth.identity,
          limitStore: loaded.config.limits.store,
          redis: loaded.config.redis,
          cache: loaded.config.cache,
          listenerTls: loaded.listenerTls,
        }
      : {}),
  });
  exitOnSignals(running, logger);
}

async function compose(args: string[]): Promise<void> {
  const { values } = asUsage(() =>
    parseArgs({ args, options: { config: { type: 'string' }, output: { type: 'string' } } }),
  );
  // The same load as `start`: adapters contribute their SDL (directives stripped).
  const deps = createLoadDeps();
  const { supergraph, hints } = await configSource(
    resolve(values.config ?? 'supergraph.yaml'),
    process.env,
  )
    .load(deps)
    .finally(() => deps.close());
  for (const hint of hints) {
    process.stderr.write(
      `hint ${hint.code}: ${hint.message}${hint.locations.map((l) => `\n    at ${l}`).join('')}\n`,
    );
  }
  const output = values.output ?? 'supergraph.graphql';
  if (output === '-') {
    process.stdout.write(supergraph.sdl);
    return;
  }
  await writeFile(resolve(output), supergraph.sdl);
  process.stderr.write(
    `wrote ${output}: ${supergraph.subgraphs.length} subgraphs, sha256 ${supergraph.hash.slice(0, 12)}\n`,
  );
}

/**
 * `manifest build <dir>`: the manifest a client ships, checked against the graph the config
 * composes (with `--client`, a configured client's contract). Every failure is printed as
 * `file:line:column message` and exits 1 without writing anything.
 */
async function manifestBuild(args: string[]): Promise<void> {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { config: { type: 'string' }, out: { type: 'string' }, client: { type: 'string' } },
    }),
  );
  if (positionals.length !== 1) throw new UsageError('manifest build takes one directory');
  const documents = await readDocuments(resolve(positionals[0] as string));
  if (documents.length === 0) throw new Error(`no .graphql files under ${positionals[0]}`);
  const deps = createLoadDeps();
  const file = resolve(values.config ?? 'supergraph.yaml');
  // The manifests the config names are not read: the one being built may not exist yet.
  const loaded = await loadConfig(file, process.env, { readManifests: false });
  const { supergraph, clients } = await configSource(file, process.env, loaded)
    .load(deps)
    .finally(() => deps.close());
  let sdl = supergraph.sdl;
  if (values.client !== undefined) {
    // A client's manifest is checked against what its endpoint serves: its contract, if any.
    const all = [...clients.byEndpoint.values()];
    const client = all.find((candidate) => candidate.id === values.client);
    if (!client)
      throw new Error(
        `no client ${values.client} in the config (clients: ${all.map((c) => c.id).join(', ') || 'none'})`,
      );
    sdl = client.contract?.supergraphSdl ?? sdl;
  }
  const schema = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
  const built = buildManifest(documents, schema);
  if ('failures' in built) {
    for (const f of built.failures)
      process.stderr.write(`${f.file}:${f.line}:${f.column} ${f.message}\n`);
    throw new Error(`${built.failures.length} problem(s): no manifest written`);
  }
  const text = `${JSON.stringify(built.manifest, null, 2)}\n`;
  if (values.out === undefined) {
    process.stdout.write(text);
    return;
  }
  await writeFile(resolve(values.out), text);
  process.stderr.write(`wrote ${values.out}: ${built.manifest.operations.length} operations\n`);
}

/** parseArgs throws on unknown flags and stray arguments; those are usage errors. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Loads the config and builds the one adapter a command names. */
async function loadAdapter(
  name: string | undefined,
  config: string | undefined,
  deps: RuntimeDeps,
) {
  if (!name) throw new UsageError('name one subgraph');
  const loaded = await loadConfig(resolve(config ?? 'supergraph.yaml'), process.env);
  const adapters = buildAdapters(loaded, buildOutbound(deps, loaded.config), deps);
  const adapter = adapters.get(name);
  if (!adapter) throw new UsageError(notAnAdapter(name, config, [...adapters.keys()]));
  return { loaded, adapter };
}

function notAnAdapter(name: string, config: string | undefined, names: string[]): string {
  return `"${name}" is not an adapter subgraph in ${config ?? 'supergraph.yaml'}${names.length ? ` (adapters: ${names.join(', ')})` : ' (it has none)'}`;
}

async function printAdapter(kind: 'rest' | 'grpc', args: string[]): Promise<void> {
  const { values, positionals } = asUsage(() =>
    parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' } } }),
  );
  if (positionals.length > 1) throw new UsageError(`${kind} print takes one subgraph name`);
  const deps = createLoadDeps();
  try {
    const { loaded, adapter } = await loadAdapter(positionals[0], values.config, deps);
    const actual = loaded.config.subgraphs[positionals[0] as string]?.source?.kind;
    if (actual !== kind)
      throw new UsageError(`"${positionals[0]}" is a ${actual} subgraph: use ${actual} print`);
    for (const warning of adapter.warnings) process.stderr.write(`unsupported: ${warning}\n`);
    process.stdout.write(adapter.sdl);
  } finally {
    await deps.close();
  }
}

async function serveSubgraphCommand(args: string[]): Promise<void> {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    }),
  );
  if (positionals.length > 1) throw new UsageError('serve-subgraph takes one subgraph name');
  const name = positionals[0];
  if (!name) throw new UsageError('name one subgraph');
  const { port = 4100, host = '127.0.0.1' } = portAndHost(
    values.port ?? process.env.PORT,
    values.host,
  );
  const loaded = await loadConfig(resolve(values.config ?? 'supergraph.yaml'), process.env);
  const deps = createLoadDeps(loaded.config.auth.identity);
  // The whole snapshot, as `start` builds it: the adapter runs exactly as it does in-process.
  const snapshot = await configSource(loaded.file, process.env, loaded).load(deps);
  if (!snapshot.adapters.has(name)) {
    await deps.close();
    throw new UsageError(notAnAdapter(name, values.config, [...snapshot.adapters.keys()]));
  }
  const logger = createLogger({ level: loaded.config.log.level });
  const served = await serveSubgraph(snapshot, name, { port, host });
  logger.info({ subgraph: name, url: served.url }, 'subgraph listening');
  const stop = () =>
    void served
      .close()
      .then(() => deps.close())
      .then(() => process.exit(ExitCode.OK));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/**
 * API keys are configured as their SHA-256 only, so operators need the hash of a key they hold
 * (`key hash`) or a new key and its hash (`key new`): the gateway's own hashApiKey and
 * generateApiKey, so what the command prints is what the gateway matches.
 */
async function key(args: string[]): Promise<void> {
  const [subcommand, ...more] = args;
  if (more.length > 0) throw new UsageError(`key ${subcommand} takes no arguments`);
  switch (subcommand) {
    case 'hash':
      process.stdout.write(`${hashApiKey(await readOneKey())}\n`);
      return;
    case 'new': {
      const generated = generateApiKey();
      process.stdout.write(`key:    ${generated}\nsha256: ${hashApiKey(generated)}\n`);
      return;
    }
    default:
      throw new UsageError('the key command has two subcommands: key hash, key new');
  }
}

/** One key from stdin, without the newline `echo` or a terminal adds. */
async function readOneKey(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('key (then Ctrl-D): ');
  process.stdin.setEncoding('utf8'); // whole characters, even split across chunks
  let input = '';
  for await (const chunk of process.stdin) input += chunk as string;
  const value = input.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError('key hash reads one key from stdin, and it was empty');
  if (/[\r\n]/.test(value)) {
    throw new UsageError('key hash reads one key from stdin, and it had several lines');
  }
  return value;
}

function portAndHost(port: string | undefined, host: string | undefined) {
  const overrides: { port?: number; host?: string } = {};
  if (port !== undefined) overrides.port = portNumber('port', port);
  if (host !== undefined) overrides.host = host;
  return overrides;
}

function portNumber(name: string, port: string): number {
  const value = Number(port);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new UsageError(`${name} must be a whole number from 0 to 65535, got "${port}"`);
  }
  return value;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const usage = error instanceof UsageError;
  process.stderr.write(
    `gateway: ${(error as Error).message ?? String(error)}\n${usage ? `\n${USAGE}` : ''}`,
  );
  process.exit(usage ? ExitCode.USAGE : ExitCode.FAILED);
});
