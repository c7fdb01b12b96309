// `npm run bench:startup`: the demo gateway's start (process spawned to its "gateway listening"
// line) and its memory then (RSS and peak RSS from /proc), with its TypeScript compiled by tsx's
// loader (`--import tsx`, how npm start ran it before) and stripped by Node itself (bin/gateway.js now,
// from Node 22.18). Runs alternate between the two; tsx's first run is also timed cold, with its
// transform cache empty, as after a deploy. Backends need not be up: nothing is called at start.
//
// STARTUP_RUNS=10. Compare runtimes with `PATH=<node bin>:$PATH npm run bench:startup`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.STARTUP_RUNS ?? 10);
const START = ['start', '--config', join(ROOT, 'supergraph.yaml')];
const MODES: Record<string, string[]> = {
  tsx: ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...START],
};
if (process.features.typescript) MODES.native = [join(ROOT, 'bin/gateway.js'), ...START];

interface Run {
  ms: number;
  rssMb: number;
  peakMb: number;
}

function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.match(/\d+/)?.[0] ?? NaN) / 1024;
}

async function startOnce(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // No usage reports to Apollo (nor the cloud metadata lookups before them): loopback only.
    env: {
      ...process.env,
      PORT: '0',
      GRPC_PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'info',
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.includes('"msg":"gateway listening"')) continue;
      const ms = performance.now() - started;
      const pid = child.pid as number;
      return { ms, rssMb: memoryMb(pid, 'VmRSS'), peakMb: memoryMb(pid, 'VmHWM') };
    }
    throw new Error(`the gateway exited before listening: ${args.join(' ')}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main() {
  const cold = await mkdtemp(join(tmpdir(), 'startup-cold-'));
  const tsxCold = await startOnce(MODES.tsx as string[], { TMPDIR: cold });
  await rm(cold, { recursive: true, force: true });
  const runs = new Map<string, Run[]>(Object.keys(MODES).map((mode) => [mode, []]));
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? Object.keys(MODES) : Object.keys(MODES).reverse();
    for (const mode of order) runs.get(mode)!.push(await startOnce(MODES[mode] as string[]));
  }
  console.log(`node ${process.version}, ${RUNS} runs each, alternating`);
  console.log('| loading | start ms (median, min-max) | RSS MB (median) | peak RSS MB (median) |');
  console.log('| --- | ---: | ---: | ---: |');
  const row = (name: string, rs: Run[]) => {
    const ms = rs.map((r) => r.ms);
    console.log(
      `| ${name} | ${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}) | ${median(rs.map((r) => r.rssMb)).toFixed(0)} | ${median(rs.map((r) => r.peakMb)).toFixed(0)} |`,
    );
  };
  row('tsx, cold cache', [tsxCold]);
  for (const [mode, rs] of runs) row(mode === 'tsx' ? 'tsx' : 'Node strips types', rs);
}

await main();
