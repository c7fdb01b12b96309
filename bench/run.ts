// `npm run bench`: this gateway against a bare Apollo Gateway on the same subgraphs and query,
// interleaved round by round in one run so both see the same machine. Not a test: CI skips it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { composeSupergraph } from '../src/composition/compose.ts';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';

const ROOT = join(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_S = 3;

interface Round {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

/** Spawns a TypeScript entry point and resolves with its first stdout line that `accept`s. */
async function spawnTs(
  args: string[],
  env: Record<string, string> = {},
  accept = (_line: string) => true,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const first = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (accept(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  return { child, line: await first };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

function load(url: string, body: string, duration: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: CONNECTIONS,
        duration,
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors + result.timeouts + result.non2xx,
          requests: result.requests.total,
        });
      },
    );
  });
}

/** Every answer must be right before its speed counts. */
async function checkAnswer(url: string, body: string, expected: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  if (text !== expected)
    throw new Error(`${url} answered differently:\n${text}\nexpected:\n${expected}`);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-bench-'));
  const children: ChildProcess[] = [];
  try {
    const subgraphs = await spawnTs(['bench/subgraphs.ts']);
    children.push(subgraphs.child);
    const defs = JSON.parse(subgraphs.line) as { name: string; url: string; sdl: string }[];
    const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
    const supergraphFile = join(dir, 'supergraph.graphql');
    await writeFile(supergraphFile, supergraphSdl);

    const listening = (line: string) => line.includes('"msg":"gateway listening"');
    const ours = await spawnTs(
      ['src/cli/main.ts', 'start', '--supergraph', supergraphFile, '--port', '0'],
      { PORT: '' },
      listening,
    );
    children.push(ours.child);
    const bare = await spawnTs(['bench/bare-gateway.ts', supergraphFile], {}, listening);
    children.push(bare.child);
    const targets = {
      ours: (JSON.parse(ours.line) as { url: string }).url,
      bare: (JSON.parse(bare.line) as { url: string }).url,
    };

    const body = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);
    const reference = await (
      await fetch(targets.bare, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    ).text();
    await checkAnswer(targets.ours, body, reference);

    console.log(
      `federation fan-out: 4 subgraphs, lists, nested entities, @requires; ${CONNECTIONS} connections, ` +
        `${ROUNDS} rounds x ${DURATION_S}s each, interleaved`,
    );
    for (const url of Object.values(targets)) await load(url, body, WARMUP_S);
    const rounds: Record<keyof typeof targets, Round[]> = { ours: [], bare: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const name of ['bare', 'ours'] as const) {
        const round = await load(targets[name], body, DURATION_S);
        rounds[name].push(round);
        console.log(
          `  round ${i + 1} ${name.padEnd(4)} ${round.rps.toFixed(0).padStart(6)} req/s  p50 ${round.p50} ms  p99 ${round.p99} ms  errors ${round.errors}`,
        );
      }
    }
    await checkAnswer(targets.ours, body, reference);

    const summary = (name: keyof typeof targets) => ({
      rps: mean(rounds[name].map((r) => r.rps)),
      p50: median(rounds[name].map((r) => r.p50)),
      p99: median(rounds[name].map((r) => r.p99)),
      errors: rounds[name].reduce((a, r) => a + r.errors, 0),
    });
    const o = summary('ours');
    const b = summary('bare');
    console.log('\n| gateway | req/s (mean) | p50 ms (median) | p99 ms (median) | errors |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(`| this gateway | ${o.rps.toFixed(0)} | ${o.p50} | ${o.p99} | ${o.errors} |`);
    console.log(
      `| bare @apollo/gateway | ${b.rps.toFixed(0)} | ${b.p50} | ${b.p99} | ${b.errors} |`,
    );
    console.log(
      `\nratio ours/bare: ${(o.rps / b.rps).toFixed(2)}x throughput; p99 ${o.p99} ms vs ${b.p99} ms`,
    );
  } finally {
    await Promise.all(children.map(stop));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
