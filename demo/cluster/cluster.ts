// Several gateway instances behind a real load balancer on one machine: what `npm run cluster`
// starts, what test/e2e/cluster.test.ts proves things with, and what the bench measures 1 and 3
// instances with. Each instance is the `gateway` command in its own process, as production runs
// it; they share one Redis and one config file; HAProxy balances them (haproxy.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startDemoBackends, type DemoBackendHooks, type DemoBackends } from '../backends.ts';
import { startDevIssuer, type RunningDevIssuer } from '../dev-issuer.ts';
import { createGatewayVerifier } from '../gateway-verifier.ts';
import { clusterConfigText } from './config.ts';
import { haproxyConfig, startHaproxy, type RunningHaproxy } from './haproxy.ts';
import { freeLoopbackPort as freePort } from '../ports.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/gateway.js');

export interface ClusterOptions {
  /** How many gateway instances. @default 3 */
  readonly instances?: number;
  /** The balancer's port on 127.0.0.1; 0 picks one. @default 0 */
  readonly port?: number;
  /** The Redis every instance shares (`redis.url`). */
  readonly redisUrl: string;
  /** `redis.key_prefix`: a fresh one per cluster unless given. */
  readonly keyPrefix?: string;
  /** The HAProxy binary. @default 'haproxy' */
  readonly haproxy?: string;
  /** Requests per minute a `trial` API key may make across the cluster. @default 20 */
  readonly trialLimit?: number;
  /** `server.shutdown_delay` (ms); must exceed the balancer's check interval. @default 1500 */
  readonly shutdownDelayMs?: number;
  /** The balancer's readiness check interval (ms). @default 500 */
  readonly checkIntervalMs?: number;
  /** `log.level` of the instances. @default 'info' */
  readonly logLevel?: string;
  /** Where the development issuer keeps its key. @default the demo's (.demo-keys/) */
  readonly keysDir?: string;
  /** Watch the demo backends' calls (tests count them). */
  readonly backendHooks?: Omit<DemoBackendHooks, 'verifier'>;
}

export interface ClusterInstance {
  readonly name: string;
  /** http://127.0.0.1:port of the instance itself, around the balancer. */
  readonly origin: string;
  readonly adminOrigin: string;
  readonly port: number;
  readonly adminPort: number;
  /** Its log (JSON lines), in the cluster's dir. */
  readonly logFile: string;
  /** The running process, while there is one. */
  readonly process: ChildProcess | undefined;
}

export interface RunningCluster {
  /** http://127.0.0.1:port of the balancer. */
  readonly url: string;
  readonly instances: readonly ClusterInstance[];
  /** The config file every instance reads and watches. */
  readonly configFile: string;
  /** The temp dir holding the config, HAProxy's config and socket, and the logs. */
  readonly dir: string;
  /** An API key of the `trial` plan (`x-api-key`). */
  readonly trialKey: string;
  readonly trialLimit: number;
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly haproxy: RunningHaproxy;
  readonly backends: DemoBackends;
  readonly issuer: RunningDevIssuer;
  /** Starts a stopped instance again on its ports; resolves once it listens. */
  start(name: string): Promise<void>;
  /** SIGTERM (the gateway drains); resolves with its exit code. */
  stop(name: string): Promise<number | string>;
  /** SIGKILL, as a crash; resolves once it is gone. */
  kill(name: string): Promise<void>;
  /** Resolves once the balancer counts every running instance UP (or `names` only). */
  waitUntilBalanced(names?: readonly string[]): Promise<void>;
  /** Stops everything it started, by PID, and removes its dir. */
  close(): Promise<void>;
}

interface Instance {
  readonly name: string;
  readonly port: number;
  readonly adminPort: number;
  readonly grpcPort: number;
  readonly logFile: string;
  child: ChildProcess | undefined;
  exited: Promise<number | string> | undefined;
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const count = options.instances ?? 3;
  const trialLimit = options.trialLimit ?? 20;
  const shutdownDelayMs = options.shutdownDelayMs ?? 1_500;
  const checkIntervalMs = options.checkIntervalMs ?? 500;
  // The balancer takes a draining instance out after one failed check (`fall 1`), which may come
  // a whole interval after readiness turns 503, plus the check's own time: the delay must cover it.
  if (shutdownDelayMs < 2 * checkIntervalMs)
    throw new Error(
      `shutdownDelayMs (${shutdownDelayMs}) must be at least twice checkIntervalMs (${checkIntervalMs}), or the balancer may send requests to an instance that stopped listening`,
    );
  const keyPrefix = options.keyPrefix ?? `cluster:${randomBytes(4).toString('hex')}:`;
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cluster-'));
  const cleanups: (() => Promise<void> | void)[] = [
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    // The demo's relative paths (schemas, protos, the BFF module, the manifest) resolve from the
    // config's dir: links to the repository's folders keep them valid in the temp dir.
    for (const folder of ['schemas', 'protos', 'demo'])
      symlinkSync(join(ROOT, folder), join(dir, folder));
    const trialKey = `trial-${randomBytes(16).toString('hex')}`;
    const proofSecret = randomBytes(32).toString('hex');
    const configFile = join(dir, 'supergraph.yaml');
    writeFileSync(
      configFile,
      clusterConfigText(readFileSync(join(ROOT, 'supergraph.yaml'), 'utf8'), {
        trialLimit,
        trialKey,
        shutdownDelayMs,
      }),
    );

    const issuer = await startDevIssuer(options.keysDir ? { keysDir: options.keysDir } : {});
    cleanups.push(() => issuer.close());
    const backends = await startDemoBackends(
      {},
      { ...options.backendHooks, verifier: createGatewayVerifier({ secret: proofSecret }) },
    );
    cleanups.push(() => backends.close());

    const instances: Instance[] = [];
    for (let i = 1; i <= count; i++) {
      instances.push({
        name: `gateway-${i}`,
        port: await freePort(),
        adminPort: await freePort(),
        grpcPort: await freePort(),
        logFile: join(dir, `gateway-${i}.log`),
        child: undefined,
        exited: undefined,
      });
    }
    const byName = (name: string) => {
      const instance = instances.find((candidate) => candidate.name === name);
      if (!instance) throw new Error(`no instance ${name}`);
      return instance;
    };
    const env = {
      ...process.env,
      ...backends.env,
      DEV_ISSUER_JWKS_URL: issuer.jwksUrl,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      GATEWAY_PROOF_SECRET: proofSecret,
      GATEWAY_MODE: 'production',
      LOG_LEVEL: options.logLevel ?? 'info',
    };
    const start = async (name: string) => {
      const instance = byName(name);
      if (instance.child && instance.child.exitCode === null && instance.child.signalCode === null)
        return;
      const child = spawn(process.execPath, [BIN, 'start', '--config', configFile], {
        cwd: dir,
        env: {
          ...env,
          PORT: String(instance.port),
          ADMIN_PORT: String(instance.adminPort),
          GRPC_PORT: String(instance.grpcPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      instance.child = child;
      instance.exited = once(child, 'exit').then(
        ([code, signal]) => (code ?? signal) as number | string,
      );
      const log = createWriteStream(instance.logFile, { flags: 'a' });
      child.stderr.pipe(log, { end: false });
      let stderr = '';
      child.stderr.on(
        'data',
        (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)),
      );
      const lines = createInterface({ input: child.stdout });
      const listening = new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => {
          log.write(`${line}\n`);
          if (line.includes('"msg":"gateway listening"')) resolve();
        });
        void instance.exited!.then((code) =>
          reject(new Error(`${name} exited with ${code} before it listened: ${stderr}`)),
        );
      });
      child.once('exit', () => log.end());
      await listening;
    };
    const stop = async (name: string) => {
      const instance = byName(name);
      const { child, exited } = instance;
      if (!child || !exited) return 'not running';
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    };
    const kill = async (name: string) => {
      const { child, exited } = byName(name);
      if (!child || !exited) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    };
    // SIGTERM, as an orchestrator stops a pod; whatever has not drained in 5 s is killed.
    cleanups.push(async () => {
      await Promise.all(
        instances.map(async ({ name }) => {
          const timer = setTimeout(() => void kill(name), 5_000);
          await stop(name);
          clearTimeout(timer);
        }),
      );
    });
    await Promise.all(instances.map((instance) => start(instance.name)));

    const statsSocket = join(dir, 'haproxy.sock');
    const haproxyFile = join(dir, 'haproxy.cfg');
    const port = options.port ?? (await freePort());
    writeFileSync(
      haproxyFile,
      haproxyConfig({
        port,
        instances,
        statsSocket,
        checkIntervalMs,
      }),
    );
    const haproxy = await startHaproxy({
      binary: options.haproxy ?? 'haproxy',
      configFile: haproxyFile,
      statsSocket,
    });
    cleanups.push(() => haproxy.close());

    const waitUntilBalanced = async (names = instances.map((instance) => instance.name)) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const stats = await haproxy.stats();
        if (names.every((name) => stats.get(name)?.status === 'UP')) return;
        if (Date.now() > deadline) {
          const states = names
            .map((name) => `${name} ${stats.get(name)?.status ?? '?'}`)
            .join(', ');
          throw new Error(`the balancer does not count every instance UP: ${states}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await waitUntilBalanced();

    return {
      url: `http://127.0.0.1:${port}`,
      get instances() {
        return instances.map((instance) => ({
          name: instance.name,
          origin: `http://127.0.0.1:${instance.port}`,
          adminOrigin: `http://127.0.0.1:${instance.adminPort}`,
          port: instance.port,
          adminPort: instance.adminPort,
          logFile: instance.logFile,
          process: instance.child,
        }));
      },
      configFile,
      dir,
      trialKey,
      trialLimit,
      redisUrl: options.redisUrl,
      keyPrefix,
      haproxy,
      backends,
      issuer,
      start,
      stop,
      kill,
      waitUntilBalanced,
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
