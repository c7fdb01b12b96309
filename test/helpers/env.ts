import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  configSource,
  supergraphFileSource,
  type SupergraphSource,
} from '../../src/runtime/sources.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ServerConfig, withAdminPort } from '../../src/config/schema.ts';
import type { StageEntry } from '../../src/gateway/pipeline.ts';
import { createLogger } from '../../src/observability/log.ts';
import type { AppOptions } from '../../src/server/app.ts';
import { startGateway, type RunningGateway } from '../../src/server/main.ts';
import {
  startSubgraphServer,
  type SubgraphServer,
  type SubgraphServerOptions,
} from './subgraph-server.ts';

/** Log lines captured in memory, parsed. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        this.lines.push(parsed);
        this.emit('line', parsed);
      }
    callback();
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }

  /** The first line `match` accepts, once it is written (log writes are asynchronous). */
  async find(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 2_000,
  ): Promise<Record<string, unknown>> {
    const found = this.lines.find(match);
    if (found) return found;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('line', check);
        reject(new Error('no such log line was written'));
      }, timeoutMs);
      const check = (line: Record<string, unknown>) => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.off('line', check);
        resolve(line);
      };
      this.on('line', check);
    });
  }
}

/** A plain HTTP backend on 127.0.0.1:0 answering with `handler`: its origin, and a way to stop. */
export async function startHttpBackend(
  handler: RequestListener,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function startSubgraphs(
  defs: readonly Omit<SubgraphServerOptions, 'port'>[],
  delayMs?: number,
) {
  const servers = await Promise.all(defs.map((d) => startSubgraphServer({ ...d, delayMs })));
  return {
    servers,
    byName: (name: string) => servers.find((s) => s.name === name) as SubgraphServer,
    close: () => Promise.all(servers.map((s) => s.close())).then(() => undefined),
  };
}

/** A temp folder with supergraph.yaml and one schema file per subgraph, like a real checkout. */
export async function writeProject(
  subgraphs: readonly { name: string; url: string; sdl: string }[],
  extra: Record<string, unknown> = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-test-'));
  const configFile = join(dir, 'supergraph.yaml');
  const config = {
    federation_version: '=2.3.0',
    subgraphs: Object.fromEntries(
      subgraphs.map((s) => [
        s.name,
        { routing_url: s.url, schema: { file: `./${s.name}.graphql` } },
      ]),
    ),
    ...extra,
  };
  await Promise.all(subgraphs.map((s) => writeFile(join(dir, `${s.name}.graphql`), s.sdl)));
  await writeFile(configFile, stringify(config));
  return {
    dir,
    configFile,
    // Written beside and renamed over, as editors save: a reload the watcher triggers never
    // reads a half-written file (on a loaded machine the truncate and the write can land in
    // different debounce windows).
    write: async (name: string, text: string) => {
      const temp = join(dir, `.${name.replaceAll('/', '_')}.${process.pid}.tmp`);
      await writeFile(temp, text);
      await rename(temp, join(dir, name));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface TestGateway {
  readonly url: string;
  readonly origin: string;
  /**
   * Where `/readyz` with its details and the metrics are served: the admin listener's origin, or
   * the public one when there is none (development mode).
   */
  readonly adminOrigin: string;
  readonly running: RunningGateway;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

/** Our gateway on 127.0.0.1:0, from a config file or a supergraph file. */
export async function startTestGateway(options: {
  configFile?: string;
  supergraphFile?: string;
  server?: Partial<ServerConfig>;
  env?: Record<string, string | undefined>;
  stages?: readonly StageEntry[];
  observability?: AppOptions['observability'];
  clock?: AppOptions['clock'];
  wallClock?: AppOptions['wallClock'];
}): Promise<TestGateway> {
  const env = options.env ?? {};
  const loaded = options.configFile ? await loadConfig(options.configFile, env) : undefined;
  const source: SupergraphSource = options.supergraphFile
    ? supergraphFileSource(options.supergraphFile, loaded)
    : configSource(options.configFile as string, env);
  const logs = new LogCapture();
  // The admin listener, when the settings open one, on port 0 too: tests run side by side, and
  // the default 8088 would be taken by the first.
  const server = withAdminPort(
    {
      ...(loaded?.config.server ?? ServerConfig.parse({})),
      port: 0,
      host: '127.0.0.1',
      ...options.server,
    } as ServerConfig,
    0,
  );
  const running = await startGateway({
    source,
    server,
    logger: createLogger({ level: 'info' }, logs),
    stages: options.stages,
    observability: options.observability ?? {
      ...(loaded ? { log: loaded.config.log, metrics: loaded.config.metrics } : {}),
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
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.wallClock ? { wallClock: options.wallClock } : {}),
  });
  return {
    url: `${running.origin}${server.graphql_path}`,
    origin: running.origin,
    adminOrigin: running.adminOrigin ?? running.origin,
    running,
    logs,
    close: async () => {
      await running.shutdown();
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** POST a GraphQL request (or any body) and read the whole answer. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return read(response);
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return read(await request(url, { method: 'GET', headers }));
}

/** A response read whole: its status, headers, text and, when it is JSON, the parsed value. */
export async function read(response: Awaited<ReturnType<typeof request>>): Promise<HttpResult> {
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

/** Subgraphs, a project folder naming them, and our gateway over it: the usual test setup. */
export async function startGatewayOver(
  defs: readonly Omit<SubgraphServerOptions, 'port'>[],
  options: {
    delayMs?: number;
    /** More of supergraph.yaml, beside the subgraphs (writeProject's `extra`). */
    config?: Record<string, unknown>;
    server?: Partial<ServerConfig>;
    stages?: readonly StageEntry[];
    observability?: AppOptions['observability'];
  } = {},
) {
  const subgraphs = await startSubgraphs(defs, options.delayMs);
  const project = await writeProject(subgraphs.servers, options.config);
  const gateway = await startTestGateway({
    configFile: project.configFile,
    server: options.server,
    stages: options.stages,
    ...(options.observability ? { observability: options.observability } : {}),
  });
  return {
    subgraphs,
    project,
    gateway,
    async close() {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}

export type GatewayOver = Awaited<ReturnType<typeof startGatewayOver>>;
