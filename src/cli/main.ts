#!/usr/bin/env node
import cluster from 'node:cluster';
import { fstatSync, readFileSync, statSync, type Stats } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Supergraph } from '@apollo/federation-internals';
import { buildAdapters, buildOutbound, type RuntimeDeps } from '../runtime/snapshot.ts';
import { configSource, createLoadDeps, supergraphFileSource } from '../runtime/sources.ts';
import { loadConfig, parseConfig, type LoadedConfig } from '../config/load.ts';
import { displayPath } from '../config/errors.ts';
import { generateApiKey, hashApiKey } from '../policies/auth/api-keys.ts';
import {
  adminListener,
  LogConfig,
  MetricsConfig,
  ServerConfig,
  TracingConfig,
  withAdminPort,
} from '../config/schema.ts';
import { createLogger, logOptionsFrom } from '../observability/log.ts';
import { ExitCode } from '../server/exit-codes.ts';
import { buildManifest, readDocuments } from './manifest-build.ts';
import {
  asksForHelp,
  HELP,
  helpKey,
  MAX_WORKERS,
  parsePort,
  parseWorkers,
  USAGE,
} from './usage.ts';
import { exitOnSignals, startGateway } from '../server/main.ts';
import { perWorkerWarnings } from '../server/cluster/per-worker-state.ts';
import { runPrimary } from '../server/cluster/primary.ts';
import { runWorker, workerSettings } from '../server/cluster/worker.ts';
import { serveSubgraph } from '../server/serve-subgraph.ts';

/**
 * Wrong usage exits 2, a failed start or composition 1 (server/exit-codes.ts). With `command`,
 * the message points to that command's `--help` instead of printing every command's usage.
 */
class UsageError extends Error {
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const topic = command === undefined ? undefined : helpKey(command, rest[0]);
  if (topic !== undefined && asksForHelp(rest)) {
    process.stdout.write(HELP[topic] as string);
    return;
  }
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
    case 'version':
    case '--version':
    case '-v':
      if (rest.length > 0) throw new UsageError('version takes no arguments', 'version');
      process.stdout.write(`${packageVersion()}\n`);
      return;
    case 'help': {
      const about = rest[0] === undefined ? undefined : helpKey(rest[0], rest[1]);
      if (rest[0] !== undefined && about === undefined)
        throw new UsageError(`unknown command "${rest[0]}"`);
      process.stdout.write(about === undefined ? USAGE : (HELP[about] as string));
      return;
    }
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
  const { values } = asUsage('start', () =>
    parseArgs({
      args,
      options: {
        config: { type: 'string' },
        supergraph: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'admin-port': { type: 'string' },
        workers: { type: 'string' },
      },
    }),
  );
  // Checked before the config is read: a bad port is reported as itself, not after a load.
  const port = portSetting('start', 'port', values.port, 'PORT');
  const adminPort = portSetting('start', 'admin-port', values['admin-port'], 'ADMIN_PORT');
  const workers = parseWorkers(values.workers ?? '1', availableParallelism());
  if (workers === undefined)
    throw new UsageError(
      `--workers ${quoted(values.workers ?? '')} is not a number of workers (1-${MAX_WORKERS}, or auto)`,
      'start',
    );
  // Loaded and validated by the primary too: a config error is reported once, as a single
  // process reports it, before any worker is forked (each would fail the same way).
  let loaded: LoadedConfig | undefined;
  if (values.config !== undefined || values.supergraph === undefined) {
    loaded = await loadConfig(resolve(values.config ?? 'supergraph.yaml'), process.env);
  }
  let server: ServerConfig = {
    ...(loaded?.config.server ?? ServerConfig.parse({})),
    ...(port === undefined ? {} : { port }),
    ...(values.host === undefined ? {} : { host: values.host }),
  };
  if (adminPort !== undefined) server = withAdminPort(server, adminPort);
  const log = loaded?.config.log ?? LogConfig.parse({});
  const rootLogger = createLogger(
    logOptionsFrom(log, server.mode, process.env, process.stdout.isTTY === true),
  );
  const metrics = loaded?.config.metrics ?? MetricsConfig.parse({});
  if (workers > 1 && cluster.isPrimary) {
    const admin = adminListener(server);
    for (const { key, message } of perWorkerWarnings(loaded?.config, workers, admin !== undefined))
      rootLogger.warn({ key, workers }, message);
    return runPrimary({
      workers,
      logger: rootLogger,
      ...(admin
        ? { admin: { ...admin, ...(metrics.enabled ? { metricsPath: metrics.path } : {}) } }
        : {}),
    });
  }
  // A worker's lines say which worker wrote them (its node:cluster id, 1, 2, ... and on).
  const worker = cluster.worker;
  const logger = worker ? rootLogger.child({ worker: worker.id }) : rootLogger;
  if (worker) server = workerSettings(server);
  const source = values.supergraph
    ? supergraphFileSource(resolve(values.supergraph), loaded)
    : configSource((loaded as LoadedConfig).file, process.env, loaded);
  const gateway = () =>
    startGateway({
      source,
      server,
      logger,
      ...(worker ? { clusterWorker: true } : {}),
      observability: {
        log,
        metrics,
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
  if (worker) return runWorker(gateway, logger, server.graphql_path);
  exitOnSignals(await gateway(), logger);
}

async function compose(args: string[]): Promise<void> {
  const { values } = asUsage('compose', () =>
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
  const { values, positionals } = asUsage('manifest build', () =>
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

/**
 * parseArgs throws on unknown flags and stray arguments; those are usage errors of `command`,
 * an unknown flag named as typed.
 */
function asUsage<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const flag = /^Unknown option '([^']+)'/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag)
      throw new UsageError(`unknown flag ${flag} for gateway ${command}`, command);
    throw new UsageError(message, command);
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
  const command = `${kind} print`;
  const { values, positionals } = asUsage(command, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { config: { type: 'string' }, output: { type: 'string', short: 'o' } },
    }),
  );
  if (positionals.length > 1) throw new UsageError(`${kind} print takes one subgraph name`);
  const name = positionals[0];
  if (values.output === undefined && name !== undefined)
    refuseStdoutIntoInput(command, resolve(values.config ?? 'supergraph.yaml'), name);
  const deps = createLoadDeps();
  let sdl: string;
  try {
    const { loaded, adapter } = await loadAdapter(name, values.config, deps);
    const actual = loaded.config.subgraphs[name as string]?.source?.kind;
    if (actual !== kind)
      throw new UsageError(`"${name}" is a ${actual} subgraph: use ${actual} print`);
    for (const warning of adapter.warnings) process.stderr.write(`unsupported: ${warning}\n`);
    sdl = adapter.sdl;
  } finally {
    await deps.close();
  }
  if (values.output === undefined) {
    process.stdout.write(sdl);
    return;
  }
  await writeWhole(resolve(values.output), sdl);
  process.stderr.write(`wrote ${values.output}\n`);
}

/**
 * `rest print users > schemas/users.graphql`, when the config reads that very file: the shell
 * opens (and empties) the redirect before the command starts, so the command would read an
 * empty file, fail or print a schema without it, and leave the file empty. Refused before
 * anything is read, naming the file and `--output` (which writes after reading). Stdout is the
 * file when it is a regular file with the same device and inode as one the command reads: the
 * config itself, the subgraph's schema.file, its OpenAPI document or its protos. A config that
 * does not parse is left for the load to report.
 */
function refuseStdoutIntoInput(command: string, configFile: string, subgraph: string): void {
  let out: Stats;
  try {
    out = fstatSync(1);
  } catch {
    return; // stdout closed: nothing to overwrite
  }
  if (!out.isFile()) return; // a terminal or a pipe
  const same = (file: string) => {
    try {
      const stat = statSync(file);
      return stat.dev === out.dev && stat.ino === out.ino;
    } catch {
      return false; // missing: the load says so
    }
  };
  const victim = [configFile, ...filesRead(configFile, subgraph)].find(same);
  if (victim === undefined) return;
  const shown = displayPath(victim);
  // The config is not where the SDL goes: then the advice names no file.
  const instead = `use --output ${victim === configFile ? '<file>' : shown}`;
  throw new UsageError(
    out.size === 0
      ? `the shell emptied ${shown} before the command could read it: restore it, then ${instead}`
      : `stdout is ${shown}, which this command reads: ${instead}`,
    command,
  );
}

/** The files besides the config that loading `subgraph` reads, absolute; [] if it cannot tell. */
function filesRead(configFile: string, subgraph: string): string[] {
  let entry;
  try {
    entry = parseConfig(readFileSync(configFile, 'utf8'), configFile, process.env).config.subgraphs[
      subgraph
    ];
  } catch {
    return [];
  }
  if (!entry) return [];
  const base = dirname(configFile);
  const files = entry.schema?.file === undefined ? [] : [resolve(base, entry.schema.file)];
  const source = entry.source;
  if (source?.kind === 'rest' && source.openapi !== undefined && !/^https?:/.test(source.openapi))
    files.push(resolve(base, source.openapi));
  if (source?.kind === 'grpc')
    for (const proto of source.protos)
      for (const dir of source.include_dirs) files.push(resolve(base, dir, proto));
  return files;
}

/**
 * Writes `text` to `file` whole or not at all: into a temporary file beside it (the same
 * directory, so the same filesystem, where rename is atomic), then renamed over it. A reader
 * never sees half a file, and a failure leaves the old one as it was.
 */
async function writeWhole(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, text);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function serveSubgraphCommand(args: string[]): Promise<void> {
  const { values, positionals } = asUsage('serve-subgraph', () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    }),
  );
  if (positionals.length > 1) throw new UsageError('serve-subgraph takes one subgraph name');
  const name = positionals[0];
  if (!name) throw new UsageError('name one subgraph');
  const port = portSetting('serve-subgraph', 'port', values.port, 'PORT') ?? 4100;
  const host = values.host ?? '127.0.0.1';
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
  const flag = more.find((arg) => arg.startsWith('-'));
  if (flag !== undefined && (subcommand === 'hash' || subcommand === 'new'))
    throw new UsageError(`unknown flag ${flag} for gateway key ${subcommand}`, `key ${subcommand}`);
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

/**
 * A port from its flag, else from its environment variable (empty counts as unset, as
 * `\${PORT:-4000}` reads it in the config), else undefined. A value that is not a whole number
 * from 0 to 65535 names where it came from and what it was: a flag is wrong usage (exit 2), a
 * variable is wrong configuration (exit 1).
 */
function portSetting(
  command: string,
  flag: string,
  flagValue: string | undefined,
  variable: string,
): number | undefined {
  if (flagValue !== undefined) {
    const port = parsePort(flagValue);
    if (port === undefined)
      throw new UsageError(`--${flag} ${quoted(flagValue)} is not a port (0-65535)`, command);
    return port;
  }
  const value = process.env[variable];
  if (value === undefined || value === '') return undefined;
  const port = parsePort(value);
  if (port === undefined) throw new Error(`${variable}=${quoted(value)} is not a port (0-65535)`);
  return port;
}

/** A value as typed, quoted only when it would not read back: empty, or with spaces. */
function quoted(value: string): string {
  return value === '' || /\s/.test(value) ? JSON.stringify(value) : value;
}

/** From package.json beside the sources, not the working directory's (npx runs in the user's). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const usage = error instanceof UsageError;
  const help = !usage
    ? ''
    : error.command === undefined
      ? `\n${USAGE}`
      : `run "gateway ${error.command} --help" for its usage\n`;
  process.stderr.write(`gateway: ${(error as Error).message ?? String(error)}\n${help}`);
  process.exit(usage ? ExitCode.USAGE : ExitCode.FAILED);
});
