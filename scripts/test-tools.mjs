// What the tests need from the machine beyond `npm ci`, found (or installed) before they run, so
// that the README's `npm test` passes on a fresh machine and never skips a test for want of a
// tool, and a Redis server answering on REDIS_URL (started for the run when none answers). A tool is needed when a selected test file imports its helper; Debian's package brings
// it in when we may install (root with apt-get), else the run stops with one line saying what to
// install.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * @typedef {object} Tool
 * @property {string} name        the command, and Debian's package of the same name
 * @property {string} helper      the test helper that runs it: a test file importing it needs it
 * @property {string} why         for the message when it is missing
 * @property {string} [env]       a variable naming the binary, which wins over the lookup
 * @property {string[]} [paths]   where Debian puts it, looked at before PATH
 */

/** @type {Tool[]} */
export const TOOLS = [
  {
    name: 'chromium',
    helper: 'helpers/browser.ts',
    why: 'the landing-page, GraphiQL and CORS browser tests drive it headless',
    env: 'CHROMIUM_PATH',
    paths: ['/usr/bin/chromium'],
  },
  { name: 'openssl', helper: 'helpers/tls.ts', why: 'the TLS tests make a throwaway CA with it' },
  {
    name: 'redis-server',
    helper: 'helpers/redis.ts',
    why: 'the Redis outage tests start and stop a server of their own',
    env: 'REDIS_SERVER_PATH',
    paths: ['/usr/bin/redis-server'],
  },
  {
    name: 'haproxy',
    helper: 'demo/cluster/',
    why: 'the cluster test balances three gateway instances with it',
    env: 'HAPROXY_PATH',
    paths: ['/usr/sbin/haproxy'],
  },
];

/** The Redis the tests share, as test/helpers/redis.ts reads it. */
export const redisUrl = (env = process.env) => env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * Makes sure a Redis server answers for the selected tests when they need one (they import its
 * helper): the one at REDIS_URL when it answers; else, when REDIS_URL is not set, a server of the
 * run's own on a free loopback port (nothing saved; stopped by its PID when the run ends), so
 * `npm test` needs nothing running on a fresh machine. A REDIS_URL that is set and does not
 * answer stops the run with one line: those tests fail, never skip, and one clear line beats
 * dozens of connection errors.
 * @param {string[]} files
 * @param {string | undefined} server the redis-server binary (ensureTestTools found or installed it)
 * @returns {Promise<{ env: Record<string, string>, stop: () => void }>}
 */
export async function ensureRedis(files, server) {
  const none = { env: {}, stop: () => {} };
  const needs = files.some((file) => readFileSync(file, 'utf8').includes('helpers/redis.ts'));
  if (!needs || (await redisAnswers())) return none;
  const shown = new globalThis.URL(redisUrl());
  shown.username = '';
  shown.password = '';
  if (process.env.REDIS_URL || !server) {
    console.error(
      `npm test: no Redis answers at ${shown} (REDIS_URL); the Redis tests need one: start one (Debian's redis-server package) or unset REDIS_URL and npm test starts its own`,
    );
    process.exit(1);
  }
  const port = await freePort();
  const child = spawn(
    server,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const stop = () => child.kill();
  process.once('exit', stop);
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await sleep(100);
  if (!(await redisAnswers(url))) {
    stop();
    console.error(`npm test: no Redis answers at ${shown}, and ${server} did not start one`);
    process.exit(1);
  }
  console.log(`npm test: no Redis at ${shown}; started redis-server on ${url} for this run`);
  return { env: { REDIS_URL: url }, stop };
}

/** A port free on loopback now. */
async function freePort() {
  const listener = createServer().listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (listener.address());
  listener.close();
  await once(listener, 'close');
  return port;
}

/**
 * Whether a Redis server answers PING at REDIS_URL within two seconds (.ci/run asks too).
 * @returns {Promise<boolean>}
 */
export async function redisAnswers(url = redisUrl()) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  let answer = '';
  try {
    await redis.connect();
    answer = await redis.ping();
  } catch {
    // Refused, timed out, or refused our credentials: no answer.
  } finally {
    redis.disconnect();
  }
  return answer === 'PONG';
}

const isExecutable = (/** @type {string} */ file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The tool's binary: its variable when set (a wrong one is an error, not a reason to look
 * elsewhere), else the first of its known paths and PATH that is executable.
 * @param {Tool} tool
 * @param {{ env?: NodeJS.ProcessEnv, executable?: (file: string) => boolean }} [seen]
 * @returns {string | undefined}
 */
export function findTool(tool, { env = process.env, executable = isExecutable } = {}) {
  const named = tool.env ? env[tool.env] : undefined;
  if (named) {
    if (isAbsolute(named) && executable(named)) return named;
    throw new Error(`${tool.env}=${named} is not an executable file (give an absolute path)`);
  }
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, tool.name));
  return [...(tool.paths ?? []), ...onPath].find((file) => executable(file));
}

/**
 * What to do about the missing tools: install them with apt-get, or stop with one line.
 * @param {Tool[]} missing
 * @param {{ root: boolean, aptGet: boolean }} may
 * @returns {{ install: string[] } | { stop: string }}
 */
export function planFor(missing, { root, aptGet }) {
  const names = missing.map((tool) => tool.name);
  if (root && aptGet) return { install: names };
  const what = missing.map((tool) => `${tool.name} (${tool.why})`).join(' and ');
  const instead = missing
    .filter((tool) => tool.env)
    .map((tool) => `, or set ${tool.env} to its binary`)
    .join('');
  return {
    stop: `npm test needs ${what}: install Debian's package with \`sudo apt-get install ${names.join(' ')}\`${instead}`,
  };
}

/**
 * Finds (or installs) every tool the given test files need, and returns the variables that tell
 * the tests where each one is. Exits with one line when a tool is missing and cannot be had.
 * @param {string[]} files
 * @returns {Record<string, string>}
 */
export function ensureTestTools(files) {
  const sources = files.map((file) => readFileSync(file, 'utf8'));
  const needed = TOOLS.filter((tool) => sources.some((text) => text.includes(tool.helper)));
  const found = (/** @type {Tool} */ tool) => {
    try {
      return findTool(tool);
    } catch (error) {
      console.error(`npm test: ${/** @type {Error} */ (error).message}`);
      process.exit(1);
    }
  };
  const missing = needed.filter((tool) => !found(tool));
  if (missing.length > 0) {
    const plan = planFor(missing, {
      root: process.getuid?.() === 0,
      aptGet: findTool({ name: 'apt-get', helper: '', why: '' }) !== undefined,
    });
    if ('stop' in plan) {
      console.error(plan.stop);
      process.exit(1);
    }
    install(plan.install);
  }
  /** @type {Record<string, string>} */
  const env = {};
  for (const tool of needed) {
    const file = found(tool);
    if (!file) {
      console.error(`npm test: ${tool.name} is still missing after apt-get installed it`);
      process.exit(1);
    }
    if (tool.env) env[tool.env] = file;
  }
  return env;
}

/** @param {string[]} packages */
function install(packages) {
  console.error(`== installing Debian's ${packages.join(', ')} for the tests (apt-get)`);
  // Non-interactive and quiet: this runs inside `npm test`, maybe in CI with no terminal.
  const options = /** @type {const} */ ({
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  try {
    execFileSync('apt-get', ['update', '-qq'], options);
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], options);
  } catch (error) {
    console.error(
      `npm test: \`apt-get install ${packages.join(' ')}\` failed (${/** @type {Error} */ (error).message.split('\n')[0]}); install it by hand`,
    );
    process.exit(1);
  }
}
