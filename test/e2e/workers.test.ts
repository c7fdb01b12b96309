import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { startSubgraphs, writeProject } from '../helpers/env.ts';

const BIN = join(import.meta.dirname, '../../bin/gateway.js');

interface LogEntry {
  msg?: string;
  worker?: number;
  component?: string;
  pid?: number;
  url?: string;
  admin?: string;
  key?: string;
}

/** `gateway start --workers N` with every JSON log line kept, resolved once it serves. */
async function startCluster(args: string[], cwd: string, options: { detached?: boolean } = {}) {
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', '0', '--admin-port', '0', ...args],
    { cwd, env: { ...process.env, PORT: '', ADMIN_PORT: '' }, detached: options.detached ?? false },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const logs: LogEntry[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<LogEntry>((resolve) => {
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as LogEntry;
      logs.push(entry);
      if (entry.msg === 'gateway listening' && entry.worker === undefined) resolve(entry);
    });
  });
  const entry = await Promise.race([
    listening,
    exited.then((code) => {
      throw new Error(`gateway exited with ${code}: ${stderr}`);
    }),
  ]);
  return {
    child: child as ChildProcess,
    url: entry.url as string,
    admin: entry.admin as string,
    logs,
    exited,
    stderr: () => stderr,
    /** Resolves with the first log entry `match` accepts, logged already or later. */
    async waitFor(match: (entry: LogEntry) => boolean): Promise<LogEntry> {
      for (;;) {
        const found = logs.find(match);
        if (found) return found;
        await once(lines, 'line');
      }
    },
  };
}

/**
 * A GraphQL POST on a connection of its own: node:cluster hands each new connection to the next
 * worker in turn, so requests on fresh connections reach every worker.
 */
function postFresh(url: string, query: string) {
  return fresh(url, 'POST', JSON.stringify({ query }));
}

function get(url: string) {
  return fresh(url, 'GET');
}

function fresh(
  url: string,
  method: string,
  body?: string,
  more: Record<string, string> = {},
): Promise<{ status: number; text: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...more,
    };
    const req = httpRequest(url, { method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, PORT: '', ADMIN_PORT: '' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  const [code] = await once(child, 'exit');
  return { code: code as number, stderr };
}

/** The sum of a counter's samples in a Prometheus text exposition whose line matches `series`. */
function sumOf(text: string, series: RegExp): number {
  return text
    .split('\n')
    .filter((line) => series.test(line))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const ME = '{ me { name } }';

describe('gateway start --workers', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;

  before(async () => {
    // Slow enough that a few requests are still in flight when SIGTERM arrives.
    subgraphs = await startSubgraphs(SHOP, 300);
    project = await writeProject(subgraphs.servers);
  });

  after(async () => {
    await subgraphs.close();
    await project.remove();
  });

  test('two workers share the port and the admin listener sums their metrics; a killed worker is replaced; SIGTERM drains both', async () => {
    const gateway = await startCluster(['--workers', '2'], project.dir);
    try {
      // The APQ store is memory by default: the primary says what that costs, once.
      const warnings = gateway.logs.filter((e) => e.key === 'server.apq_cache.store');
      assert.equal(warnings.length, 1);

      const answers = await Promise.all(
        Array.from({ length: 6 }, () => postFresh(gateway.url, ME)),
      );
      for (const answer of answers)
        assert.deepEqual(answer.json, { data: { me: { name: 'Ada Lovelace' } } });
      // Every request's access line names its worker: both served some.
      await gateway.waitFor(() => gateway.logs.filter((e) => e.component === 'access').length >= 6);
      const served = new Set(
        gateway.logs.filter((e) => e.component === 'access').map((e) => e.worker),
      );
      assert.deepEqual([...served].sort(), [1, 2]);
      // /metrics on the admin listener counts the requests of both workers, not one's.
      const metrics = await get(`${gateway.admin}/metrics`);
      assert.equal(metrics.status, 200);
      assert.equal(sumOf(metrics.text, /^gateway_requests_total\{surface="graphql"/), 6);
      assert.equal(sumOf(metrics.text, /^gateway_workers /), 2);
      const ready = await get(`${gateway.admin}/readyz`);
      assert.equal(ready.status, 200);
      const workers = (ready.json as { workers: { pid: number; status: string }[] }).workers;
      assert.deepEqual(
        workers.map((w) => w.status),
        ['ready', 'ready'],
      );
      assert.deepEqual((await get(`${new URL(gateway.url).origin}/readyz`)).json, {
        status: 'ready',
      });
      // A worker killed outright is replaced; the gateway serves all along.
      const victim = workers[0]!.pid;
      process.kill(victim, 'SIGKILL');
      await gateway.waitFor((e) => e.msg === 'a worker died; starting another');
      assert.deepEqual((await postFresh(gateway.url, ME)).json, {
        data: { me: { name: 'Ada Lovelace' } },
      });
      await gateway.waitFor((e) => e.msg === 'worker listening' && e.worker === 3);
      const again = await get(`${gateway.admin}/readyz`);
      assert.equal(again.status, 200);
      const pids = (again.json as { workers: { pid: number }[] }).workers.map((w) => w.pid);
      assert.equal(pids.length, 2);
      assert.ok(!pids.includes(victim));
      // SIGTERM with requests in flight on both workers: every one is answered, then exit 0.
      const accounts = subgraphs.byName('accounts');
      let seen = 0;
      const arrived = new Promise<void>((resolve) =>
        accounts.events.on('request', () => ++seen === 4 && resolve()),
      );
      // Four different queries: identical backend calls in flight would be made once.
      const inFlight = Array.from({ length: 4 }, (_, i) =>
        postFresh(gateway.url, `{ me { name${i}: name } }`),
      );
      await arrived;
      gateway.child.kill('SIGTERM');
      const drained = await Promise.all(inFlight);
      drained.forEach((answer, i) =>
        assert.deepEqual(answer.json, { data: { me: { [`name${i}`]: 'Ada Lovelace' } } }),
      );
      assert.equal(await gateway.exited, 0);
      const drains = gateway.logs.filter(
        (e) => e.msg === 'shutting down: draining in-flight requests',
      );
      assert.deepEqual(drains.map((e) => e.worker).sort(), [2, 3]);
    } finally {
      // Only when an assertion failed first: the primary's death stops its workers too.
      gateway.child.kill('SIGKILL');
    }
  });

  test('a cache invalidation on the admin listener reaches every worker; a Ctrl-C to the whole process group drains each worker once and exits 0', async () => {
    const token = 'invalidate-0123456789';
    const config = await readFile(project.configFile, 'utf8');
    await project.write(
      'cached.yaml',
      `${config}cache: { enabled: true }\nserver: { admin: { token: ${token} } }\n`,
    );
    const gateway = await startCluster(['--workers', '2', '--config', 'cached.yaml'], project.dir, {
      detached: true,
    });
    try {
      // Each worker holds its own memory cache: the primary asks both, with the caller's token.
      const invalidate = (headers: Record<string, string>) =>
        fresh(`${gateway.admin}/cache/invalidate`, 'POST', '{"types":["User"]}', headers);
      const done = await invalidate({ authorization: `Bearer ${token}` });
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(done.json, { removed: 0, workers: 2 });
      assert.equal((await invalidate({})).status, 401);

      // What a terminal does: SIGINT to every process of the foreground group.
      process.kill(-(gateway.child.pid as number), 'SIGINT');
      assert.equal(await gateway.exited, 0);
      const drains = gateway.logs.filter(
        (e) => e.msg === 'shutting down: draining in-flight requests',
      );
      assert.deepEqual(drains.map((e) => e.worker).sort(), [1, 2]);
      assert.equal(gateway.logs.filter((e) => e.msg?.startsWith('second signal')).length, 0);
    } finally {
      // Only when an assertion failed first: the primary's death stops its workers too.
      gateway.child.kill('SIGKILL');
    }
  });

  test('a broken config is reported once, before any worker starts, with the single-process exit code', async () => {
    await project.write(
      'bad.yaml',
      'subgraphs:\n  users:\n    routing_url: not a url\n    schema:\n      file: ./accounts.graphql\n',
    );
    const [single, several] = await Promise.all([
      run(['start', '--config', 'bad.yaml'], project.dir),
      run(['start', '--workers', '2', '--config', 'bad.yaml'], project.dir),
    ]);
    assert.equal(several.code, single.code);
    assert.equal(several.code, 1);
    assert.equal(several.stderr, single.stderr);
    assert.equal(
      several.stderr.match(/bad\.yaml:3:18: subgraphs\.users\.routing_url: /g)?.length,
      1,
    );
  });

  test('--workers that is not 1 to 64 or auto is wrong usage: exit 2', async () => {
    const values = ['0', 'x', '65'];
    const runs = await Promise.all(values.map((v) => run(['start', '--workers', v], project.dir)));
    runs.forEach(({ code, stderr }, i) => {
      assert.equal(code, 2, values[i]);
      assert.match(stderr, new RegExp(`--workers ${values[i]} is not a number of workers`));
      assert.match(stderr, /gateway start --help/);
    });
  });
});
