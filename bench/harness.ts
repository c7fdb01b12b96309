// What every case of `npm run bench` (bench/run.ts, bench/traffic.ts) shares: the children it
// starts, the load it makes, the rounds it interleaves and the table it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';

export const ROOT = join(import.meta.dirname, '..');
const LOADER = join(ROOT, 'bin/typescript-loader.js');
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
export const WARMUP_S = 3;

export interface Target {
  name: string;
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  /** The answer, compared as parsed JSON before and after the load. */
  check: (text: string) => void;
  /** Request headers besides the content type (a credential). */
  headers?: Record<string, string>;
  /** Paths the load cycles through on `url`'s origin (each connection in turn); default `url`'s. */
  paths?: string[];
  /** The process serving it, when the bench started it: its CPU time per request is printed. */
  pid?: number | undefined;
  /**
   * Every process serving it (a balancer and its instances): their CPU times per request are
   * added up, and their peak memories. Wins over `pid`.
   */
  pids?: readonly number[];
  /**
   * Count the CPU of `pid` and every process under it (a `--workers` primary and its workers),
   * read anew each round: a replaced worker is counted too.
   */
  tree?: boolean;
  /** For targets autocannon cannot load (gRPC): one call's answer, and a load of `duration` s. */
  call?: () => Promise<string>;
  loadWith?: (duration: number) => Promise<Round>;
}

/**
 * The rounds of one target: mean throughput, median latencies and CPU, all errors, and the
 * peak resident memory of its process after its last round.
 */
export type Summary = Omit<Round, 'count'> & {
  /** Peak resident set size (VmHWM) of the target's process, in MiB (Linux only). */
  peakRssMiB?: number | undefined;
};

export interface Round {
  rps: number;
  /** Requests answered in the round. */
  count: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time the target's process spent per request, in µs (Linux only). */
  cpuUs?: number | undefined;
}

export const children: ChildProcess[] = [];
/** The process behind each started child's first line. */
export const pidOf = new Map<string, number>();

/**
 * Spawns a TypeScript entry point (`--import <file>` arguments first, as node takes them) and resolves with its first stdout line that `accept`s.
 * Stdout goes to a file, not a pipe: a gateway's request log lines would otherwise be read by
 * this process, which also generates the load, and slow the target that logs.
 */
export async function spawnTs(
  args: string[],
  accept = (_line: string) => true,
  env: Record<string, string> = {},
) {
  const outFile = join(await mkdtemp(join(tmpdir(), 'gateway-bench-out-')), 'stdout');
  const out = openSync(outFile, 'w');
  const child = spawn(process.execPath, ['--import', LOADER, ...args], {
    cwd: ROOT,
    // No usage reports to Apollo (nor the cloud metadata lookups before them): loopback only.
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '',
      // Gateways run side by side: each its own admin listener (production mode opens one).
      ADMIN_PORT: '0',
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  children.push(child);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  for (;;) {
    const text = await readFile(outFile, 'utf8');
    const line = text.split('\n').find((l) => l && accept(l));
    if (line) {
      if (child.pid !== undefined) pidOf.set(line, child.pid);
      return line;
    }
    if (exited !== undefined) throw new Error(`${args.join(' ')} exited with ${exited}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const listening = (line: string) => line.includes('"msg":"gateway listening"');
export const urlOf = (line: string) => (JSON.parse(line) as { url: string }).url;
/** Where a gateway's metrics are: its admin listener, else its public port. */
export const adminOf = (line: string) =>
  (JSON.parse(line) as { admin?: string }).admin ?? new URL(urlOf(line)).origin;

export async function request(target: Target): Promise<string> {
  if (target.call) return target.call();
  const init: RequestInit = { method: target.method };
  const headers: Record<string, string> = { ...target.headers };
  if (target.body) headers['content-type'] = 'application/json';
  Object.assign(init, { headers, ...(target.body ? { body: target.body } : {}) });
  return (await fetch(target.url, init)).text();
}

export function load(target: Target, duration: number, connections = CONNECTIONS): Promise<Round> {
  if (target.loadWith) return target.loadWith(duration);
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: target.url,
        method: target.method,
        headers: {
          ...target.headers,
          ...(target.body ? { 'content-type': 'application/json' } : {}),
        },
        body: target.body,
        ...(target.paths ? { requests: target.paths.map((path) => ({ path })) } : {}),
        connections,
        duration,
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          rps: result.requests.average,
          count: result.requests.total,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors + result.timeouts + result.non2xx,
        });
      },
    );
  });
}

/**
 * User plus system CPU time of a process, in ms, from /proc (clock ticks of 10 ms, the Linux
 * default). CPU per request moves far less than throughput on a shared machine: it does not
 * depend on what else got the cores during the round.
 */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * CPU time of a process and all of its descendants, in ms (Linux: /proc/<pid>/task/<tid>/children).
 * A descendant that exits between two reads takes its time with it: the targets it serves keep
 * theirs for the whole run.
 */
export function treeCpuMs(pid: number | undefined): number | undefined {
  const own = cpuMs(pid);
  if (pid === undefined || own === undefined) return undefined;
  let total = own;
  for (const child of childrenOf(pid)) total += treeCpuMs(child) ?? 0;
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** Resident and peak resident memory of a process, in MiB, from /proc (Linux only). */
export function memoryMiB(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU time of every process serving a target, in ms. */
function targetCpuMs(target: Target): number | undefined {
  if (target.tree) return treeCpuMs(target.pid);
  const pids = target.pids ?? (target.pid === undefined ? [] : [target.pid]);
  const times = pids.map((pid) => cpuMs(pid));
  return pids.length === 0 || times.includes(undefined)
    ? undefined
    : times.reduce((sum: number, ms) => sum + ms!, 0);
}

/** Peak resident memory of every process serving a target, added up, in MiB. */
function targetPeakMiB(target: Target): number | undefined {
  const pids = target.pids ?? (target.pid === undefined ? [] : [target.pid]);
  const peaks = pids.map((pid) => memoryMiB(pid)?.peak);
  return pids.length === 0 || peaks.includes(undefined)
    ? undefined
    : peaks.reduce((sum: number, mib) => sum + mib!, 0);
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

/** What `a` costs against `b`: throughput, CPU per request where known, p99. */
export function costOf(a: Summary, b: Summary): string {
  const cpu =
    a.cpuUs !== undefined && b.cpuUs !== undefined
      ? `; CPU per request ${signed((a.cpuUs / b.cpuUs - 1) * 100)}% (${a.cpuUs.toFixed(0)} vs ${b.cpuUs.toFixed(0)} µs)`
      : '';
  return `${((1 - a.rps / b.rps) * 100).toFixed(1)}% throughput${cpu}; p99 ${a.p99} ms vs ${b.p99} ms`;
}

/**
 * Targets posting `query` to gateways started by this bench, each checked against what the
 * gateway of `referenceLine` answers; with that answer's text.
 */
export async function queryTargets(referenceLine: string, query: object) {
  const body = JSON.stringify(query);
  const referenceText = await request({
    name: 'reference',
    url: urlOf(referenceLine),
    method: 'POST',
    body,
    check: () => {},
  });
  const reference: unknown = JSON.parse(referenceText);
  const target = (name: string, line: string, headers: Record<string, string> = {}): Target => ({
    name,
    url: urlOf(line),
    pid: pidOf.get(line),
    method: 'POST',
    body,
    headers,
    check: expectJson(reference),
  });
  return { target, referenceText };
}

/**
 * The federation query's targets on gateways started by this bench, each checked against what
 * the gateway of `referenceLine` answers.
 */
export async function federationTargets(referenceLine: string) {
  return (await queryTargets(referenceLine, SHOP_QUERIES['entities across four subgraphs']!))
    .target;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Interleaved rounds of the targets (two or more); prints every round and a table. Returns
 * each target's summary, in the order given.
 */
export async function compareAll(
  title: string,
  targets: readonly Target[],
  connections = CONNECTIONS,
): Promise<Summary[]> {
  for (const t of targets) t.check(await request(t));
  console.log(
    `\n${title}\n${connections} connections, ${ROUNDS} rounds x ${DURATION_S}s each, interleaved`,
  );
  for (const t of targets) await load(t, WARMUP_S, connections);
  const rounds = new Map<Target, Round[]>(targets.map((t) => [t, []]));
  const peakRss = new Map<Target, number | undefined>();
  const backwards = [...targets].reverse();
  const width = Math.max(26, ...targets.map((t) => t.name.length));
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate the order: a machine that slows under sustained load would otherwise always
    // penalise the last.
    for (const t of i % 2 === 0 ? backwards : targets) {
      const cpuBefore = targetCpuMs(t);
      const round = await load(t, DURATION_S, connections);
      const cpuAfter = targetCpuMs(t);
      if (cpuBefore !== undefined && cpuAfter !== undefined && round.count > 0)
        round.cpuUs = ((cpuAfter - cpuBefore) * 1000) / round.count;
      rounds.get(t)!.push(round);
      // VmHWM only grows: read after the last round, it is the peak of the whole run.
      if (i === ROUNDS - 1) peakRss.set(t, targetPeakMiB(t));
      const cpu = round.cpuUs === undefined ? '' : `  cpu ${round.cpuUs.toFixed(0)} µs/req`;
      console.log(
        `  round ${i + 1} ${t.name.padEnd(width)} ${round.rps.toFixed(0).padStart(6)} req/s  p50 ${round.p50} ms  p99 ${round.p99} ms  errors ${round.errors}${cpu}`,
      );
    }
  }
  for (const t of targets) t.check(await request(t));
  const summaries = targets.map((t): Summary => {
    const r = rounds.get(t)!;
    return {
      rps: mean(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      errors: r.reduce((sum, x) => sum + x.errors, 0),
      cpuUs: r.every((x) => x.cpuUs !== undefined)
        ? median(r.map((x) => x.cpuUs as number))
        : undefined,
      peakRssMiB: peakRss.get(t),
    };
  });
  const withCpu = summaries.some((s) => s.cpuUs !== undefined);
  console.log(
    `\n| target | req/s (mean) | p50 ms (median) | p99 ms (median) | errors |${withCpu ? ' CPU µs/req (median) |' : ''} peak RSS MiB |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: |${withCpu ? ' ---: |' : ''} ---: |`);
  targets.forEach((t, i) => {
    const s = summaries[i]!;
    const cpu = withCpu ? ` ${s.cpuUs === undefined ? '' : s.cpuUs.toFixed(0)} |` : '';
    const rss = s.peakRssMiB === undefined ? '' : s.peakRssMiB.toFixed(0);
    console.log(
      `| ${t.name} | ${s.rps.toFixed(0)} | ${s.p50} | ${s.p99} | ${s.errors} |${cpu} ${rss} |`,
    );
  });
  return summaries;
}

/** Interleaved rounds of the two targets; prints every round and a table. */
export async function compare(title: string, a: Target, b: Target) {
  const [sa, sb] = (await compareAll(title, [a, b])) as [Summary, Summary];
  return { a: sa, b: sb };
}

export function expectJson(expected: unknown): (text: string) => void {
  const want = JSON.stringify(expected);
  return (text) => {
    if (JSON.stringify(JSON.parse(text)) !== want)
      throw new Error(`unexpected answer:\n${text}\nexpected:\n${want}`);
  };
}

/**
 * The shop graph's four subgraphs, in a child process: their names, URLs and SDL. Each answer
 * is held `delayMs` when given. `large`: over `largeShopData(50)` instead of the small shop.
 */
export async function startSubgraphs(
  delayMs = 0,
  shape?: 'large',
): Promise<{ name: string; url: string; sdl: string }[]> {
  const args = ['bench/subgraphs.ts', String(delayMs), ...(shape ? [shape] : [])];
  return JSON.parse(await spawnTs(args)) as {
    name: string;
    url: string;
    sdl: string;
  }[];
}

/** A port free right now (a port to give a process before it starts, or one nothing answers on). */
export async function freePort(): Promise<number> {
  const probe = createNetServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
