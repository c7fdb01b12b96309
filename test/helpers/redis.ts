import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisConfig } from '../../src/config/schema.ts';

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

/** Deletes every key under `prefix` (SCAN, never KEYS: the server may be shared). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
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

/** A redis-server of the test's own: nothing saved, stopped by its PID only. */
export class OwnRedis {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<OwnRedis> {
    const own = new OwnRedis(await freePort());
    await own.restart();
    return own;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server on its port again when it is stopped; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child && this.#child.exitCode === null) return;
    const binary = process.env.REDIS_SERVER_PATH || 'redis-server';
    const child = spawn(
      binary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (output.includes('Ready to accept connections')) resolve();
      };
      child.stdout?.on('data', check);
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited (${code}) before it was ready: ${output}`)),
      );
      child.once('error', reject);
    });
    await ready;
  }

  /** Kills the server by its PID, as a crash would (SIGKILL: nothing is said to clients). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.#child = undefined;
  }
}
