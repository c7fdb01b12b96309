import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { RedisConfig } from '../../src/config/schema.ts';
import type { RedisClient } from '../../src/kernel/redis-reply.ts';

/**
 * Redis for the tests: the machine's server (`REDIS_URL`, else loopback's 6379; .ci/run and
 * scripts/test-tools.mjs make sure one answers), and servers of a test's own that it may stop
 * and start again. Tests that need Redis fail when it does not answer: they never skip.
 */
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A key prefix no other run or test uses, so runs against one server never meet. */
export function uniquePrefix(name: string): string {
  return `gateway-test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** The `redis` settings of a test: the given URL and prefix, the defaults otherwise. */
export function redisSettings(
  url: string,
  keyPrefix: string,
  overrides: Partial<RedisConfig> = {},
) {
  return RedisConfig.parse({ url, key_prefix: keyPrefix, ...overrides });
}

/** A plain client for a test's own look at the server (keys, cleanup). */
export function testClient(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

/**
 * Deletes every key under `prefix` (SCAN, never KEYS: the server may be shared). A cluster's
 * keys are on its masters, and SCAN sees one node's: each master is scanned.
 */
export async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  if (redis instanceof Cluster) {
    for (const node of redis.nodes('master')) await deleteKeys(node, prefix);
    return;
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A port free on loopback now: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Starts `redis-server` with `args` and resolves once its output says `ready` (a server: ready
 * to accept connections; a sentinel: monitoring), or rejects with the output if it exits first.
 */
async function spawnRedis(args: readonly string[], ready: string): Promise<ChildProcess> {
  const binary = process.env.REDIS_SERVER_PATH || 'redis-server';
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output.includes(ready)) resolve();
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited (${code}) before it was ready: ${output}`)),
    );
    child.once('error', reject);
  });
  return child;
}

/** Kills `child` by its PID, as a crash would (SIGKILL: nothing is said to clients). */
async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A redis-server of the test's own: nothing saved, stopped by its PID only. */
export class OwnRedis {
  readonly port: number;
  readonly #args: readonly string[];
  #child: ChildProcess | undefined;
  /** Its working dir: a replica writes the master's snapshot there as it syncs. */
  #dir: string | undefined;

  private constructor(port: number, args: readonly string[]) {
    this.port = port;
    this.#args = args;
  }

  /** `args` are added to the command line (`--requirepass`, `--replicaof`, ...). */
  static async start(args: readonly string[] = []): Promise<OwnRedis> {
    const own = new OwnRedis(await freePort(), args);
    await own.restart();
    return own;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server on its port again when it is stopped; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child && this.#child.exitCode === null) return;
    this.#dir ??= await mkdtemp(join(tmpdir(), 'redis-'));
    this.#child = await spawnRedis(
      [
        '--dir',
        this.#dir,
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        ...this.#args,
      ],
      'Ready to accept connections',
    );
  }

  /** Kills the server by its PID, as a crash would (SIGKILL: nothing is said to clients). */
  async kill(): Promise<void> {
    await killChild(this.#child);
    this.#child = undefined;
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

/**
 * A Redis Sentinel of the test's own (`redis-server <conf> --sentinel`) watching one master as
 * `name`, with fast failure detection. A sentinel rewrites its config file as it learns, so the
 * file lives in a temp dir of its own, removed when the sentinel is killed.
 */
export class OwnSentinel {
  readonly port: number;
  readonly #dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.#dir = dir;
  }

  static async start(options: {
    name: string;
    master: OwnRedis;
    /** The master's password (`sentinel auth-pass`). */
    masterPassword?: string;
    /** The sentinel's own password (`requirepass`). */
    password?: string;
  }): Promise<OwnSentinel> {
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-'));
    const sentinel = new OwnSentinel(await freePort(), dir);
    const file = join(dir, 'sentinel.conf');
    const { name } = options;
    await writeFile(
      file,
      [
        `port ${sentinel.port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        ...(options.password ? [`requirepass ${options.password}`] : []),
        // Quorum 1: the one sentinel decides alone, as a test needs; production runs three.
        `sentinel monitor ${name} 127.0.0.1 ${options.master.port} 1`,
        ...(options.masterPassword ? [`sentinel auth-pass ${name} ${options.masterPassword}`] : []),
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    );
    sentinel.#child = await spawnRedis([file, '--sentinel'], `+monitor master ${name}`);
    return sentinel;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async kill(): Promise<void> {
    await killChild(this.#child);
    this.#child = undefined;
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Cluster of the test's own: `size` masters (no replicas) on loopback, each a
 * redis-server with `--cluster-enabled`, joined and given the 16384 slots by
 * `redis-cli --cluster create`; resolves once every node says the cluster is ok.
 */
export class OwnCluster {
  readonly nodes: readonly OwnRedis[];

  private constructor(nodes: readonly OwnRedis[]) {
    this.nodes = nodes;
  }

  /** `password`: every node's `requirepass` (and `masterauth`). */
  static async start(size = 3, password?: string): Promise<OwnCluster> {
    const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
    const nodes: OwnRedis[] = [];
    for (let i = 0; i < size; i++)
      nodes.push(
        // The nodes file is the node's own state, written in its working dir.
        await OwnRedis.start([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          ...auth,
        ]),
      );
    const cluster = new OwnCluster(nodes);
    const server = process.env.REDIS_SERVER_PATH;
    const cli = server ? join(dirname(server), 'redis-cli') : 'redis-cli';
    const create = spawn(
      cli,
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
        ...(password ? ['-a', password, '--no-auth-warning'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    create.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    create.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(create, 'exit')) as [number | null];
    if (code !== 0) {
      await cluster.kill();
      throw new Error(`redis-cli --cluster create failed (${code}): ${output}`);
    }
    // The nodes agree on the slot map by gossip, a little after `create` returns.
    for (const node of nodes) {
      const client = new Redis(node.port, '127.0.0.1', { password, maxRetriesPerRequest: 1 });
      try {
        while (!(await client.cluster('INFO')).includes('cluster_state:ok'))
          await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        client.disconnect();
      }
    }
    return cluster;
  }

  /** The nodes' addresses, `host:port` each, as `redis.cluster.nodes` takes them. */
  get addresses(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`);
  }

  async kill(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
  }
}
