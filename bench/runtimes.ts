// `npm run bench:runtimes`: the same gateway on several Node versions at once, loaded in
// interleaved rounds so that every runtime sees the same machine. On a 2-core machine shared
// with other work, separate runs of `npm run bench` differ by a third; side by side, the order
// of the runtimes holds. Each runtime serves twice: tracing with explicit parents (as shipped),
// and with Apollo Gateway's own spans recorded through the AsyncLocalStorage context manager
// (bench/context-manager.ts). Both with request logs, metrics and tracing on (exporter none,
// every request sampled), the federation query of the bench's federation case.
//
// BENCH_NODES=/path/node,...  (default: this node and the pinned runtimes installed in
// .runtimes/, see scripts/runtimes.mjs)  BENCH_ROUNDS=6  BENCH_DURATION=5 (s)
// BENCH_CONNECTIONS=32
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stopChildren } from './children.ts';
import { stringify } from 'yaml';
import { RUNTIMES, binOf } from '../scripts/runtimes.mjs';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';

const ROOT = join(import.meta.dirname, '..');
const LOADER = join(ROOT, 'bin/typescript-loader.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const NODES = process.env.BENCH_NODES
  ? process.env.BENCH_NODES.split(',')
  : [
      process.execPath,
      ...RUNTIMES.map((r) => join(binOf(r), 'node')).filter((node) => existsSync(node)),
    ];
const BODY = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);

interface Target {
  name: string;
  version: string;
  contextManager: boolean;
  url: string;
  pid: number;
  rounds: { rps: number; p99: number; cpuUs: number }[];
}

const children: ChildProcess[] = [];

/**
 * Starts `args` on `node` and resolves with its first stdout line that `accept`s. Stdout goes to
 * a file, not a pipe: reading the gateways' request log lines here would slow the load generator.
 */
async function start(dir: string, node: string, args: string[], accept: (line: string) => boolean) {
  const outFile = join(dir, `stdout-${children.length}`);
  const out = openSync(outFile, 'w');
  const child = spawn(node, ['--import', LOADER, ...args], {
    cwd: ROOT,
    // No usage reports to Apollo (nor the cloud metadata lookups before them): loopback only.
    env: { ...process.env, NODE_ENV: 'production', PORT: '', APOLLO_TELEMETRY_DISABLED: 'true' },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  children.push(child);
  for (;;) {
    const line = (await readFile(outFile, 'utf8')).split('\n').find((l) => l && accept(l));
    if (line) return { line, pid: child.pid as number };
    if (child.exitCode !== null) throw new Error(`${node} ${args.join(' ')} exited early`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** User plus system CPU time of a process, in ms (clock ticks of 10 ms, the Linux default). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function load(url: string, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) =>
    autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        connections: CONNECTIONS,
        duration,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-bench-runtimes-'));
  try {
    const { line } = await start(dir, process.execPath, ['bench/subgraphs.ts'], () => true);
    const defs = JSON.parse(line) as { name: string; url: string; sdl: string }[];
    const config = join(dir, 'gateway.yaml');
    await writeFile(
      config,
      stringify({
        subgraphs: Object.fromEntries(
          defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
        ),
        tracing: { enabled: true, exporter: 'none', sample_ratio: 1 },
      }),
    );
    const targets: Target[] = [];
    for (const node of NODES) {
      const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
      for (const contextManager of [false, true]) {
        const preload = contextManager ? ['--import', join(ROOT, 'bench/context-manager.ts')] : [];
        const gateway = await start(
          dir,
          node,
          [
            ...preload,
            'src/cli/main.ts',
            'start',
            '--config',
            config,
            '--port',
            '0',
            // Side by side, each gateway its own admin listener (production mode opens one).
            '--admin-port',
            '0',
          ],
          (l) => l.includes('"msg":"gateway listening"'),
        );
        const url = (JSON.parse(gateway.line) as { url: string }).url;
        const name = `${version}${contextManager ? ' + context manager' : ''}`;
        targets.push({ name, version, contextManager, url, pid: gateway.pid, rounds: [] });
      }
    }
    const reference = await (
      await fetch(targets[0]!.url, {
        method: 'POST',
        body: BODY,
        headers: { 'content-type': 'application/json' },
      })
    ).text();
    for (const t of targets) {
      const text = await (
        await fetch(t.url, {
          method: 'POST',
          body: BODY,
          headers: { 'content-type': 'application/json' },
        })
      ).text();
      if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(JSON.parse(reference)))
        throw new Error(`${t.name} answers differently:\n${text}`);
      await load(t.url, 3); // warm-up
    }
    console.log(
      `${targets.length} gateways, ${CONNECTIONS} connections, ${ROUNDS} rounds x ${DURATION_S}s each, interleaved`,
    );
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate the order each round: no runtime always follows the same neighbour.
      const order = targets.map((_, k) => targets[(k + i * 2) % targets.length] as Target);
      for (const t of order) {
        const before = cpuMs(t.pid);
        const result = await load(t.url, DURATION_S);
        const cpuUs = ((cpuMs(t.pid) - before) * 1000) / Math.max(1, result.requests.total);
        const errors = result.errors + result.timeouts + result.non2xx;
        if (errors > 0) throw new Error(`${t.name}: ${errors} errors in round ${i + 1}`);
        t.rounds.push({ rps: result.requests.average, p99: result.latency.p99, cpuUs });
        console.log(
          `  round ${i + 1} ${t.name.padEnd(30)} ${result.requests.average.toFixed(0).padStart(6)} req/s  p99 ${result.latency.p99} ms  cpu ${cpuUs.toFixed(0)} µs/req`,
        );
      }
    }
    console.log(
      '\n| node | tracing | req/s (mean) | p99 ms (median) | CPU µs/req (median) | context manager: CPU (median of per-round ratios) |',
    );
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    for (const t of targets) {
      const twin = targets.find((o) => o.version === t.version && o.contextManager === false)!;
      const ratios = t.rounds.map((r, k) => r.cpuUs / (twin.rounds[k]?.cpuUs ?? r.cpuUs));
      const cost = t.contextManager ? `${((median(ratios) - 1) * 100).toFixed(1)}%` : '';
      console.log(
        `| ${t.version} | ${t.contextManager ? 'context manager + Apollo spans' : 'explicit parents'} | ${mean(t.rounds.map((r) => r.rps)).toFixed(0)} | ${median(t.rounds.map((r) => r.p99))} | ${median(t.rounds.map((r) => r.cpuUs)).toFixed(0)} | ${cost} |`,
      );
    }
  } finally {
    await stopChildren(children);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
