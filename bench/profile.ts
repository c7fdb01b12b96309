// `npm run bench:profile`: where a gateway's CPU goes on one bench shape. Starts the shape's
// subgraphs in a child, the target gateway with --cpu-prof, loads it, stops it, and reads the
// profile: self time by part (parsing and writing JSON, HTTP, Apollo Server, plan execution,
// response shaping, graphql-js, our stages and observability, GC), then the heaviest functions.
// Not a test: CI skips it. The breakdown is what docs/performance.md reports.
//
//   npm run bench:profile -- [ours|bare|minimal] [large|federation]   (default: ours large)
//   BENCH_DURATION=15 (s)  BENCH_CONNECTIONS=50  BENCH_PROFILE_TOP=25 (functions listed)
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stopChildren } from './children.ts';
import { largeGatewayConfig } from './large.ts';
import { children, listening, request, spawnTs, startSubgraphs, urlOf } from './harness.ts';
import { composeSupergraph } from '../src/composition/compose.ts';
import { LARGE_SHOP_QUERY, SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';

const TARGET = (process.argv[2] ?? 'ours') as 'ours' | 'bare' | 'minimal';
const SHAPE = (process.argv[3] ?? 'large') as 'large' | 'federation';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 25);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The part of the request path a function belongs to, by its file (and, for V8's pseudo frames,
 * its name). Order matters: the first match wins.
 */
const PARTS: [string, (url: string, fn: string) => boolean][] = [
  ['GC', (_u, fn) => fn === '(garbage collector)'],
  ['idle', (_u, fn) => fn === '(idle)'],
  ['V8 and native (program)', (_u, fn) => fn === '(program)'],
  ['JSON parse and stringify', (u, fn) => u === '' && (fn === 'parse' || fn === 'stringify')],
  ['Apollo Gateway: response shaping', (u) => u.includes('@apollo/gateway/dist/resultShaping')],
  [
    'Apollo Gateway: plan execution and merging',
    (u) =>
      u.includes('@apollo/gateway/dist/executeQueryPlan') ||
      u.includes('@apollo/gateway/dist/utilities/deepMerge') ||
      u.includes('@apollo/gateway/dist/dataRewrites'),
  ],
  ['Apollo Gateway: other', (u) => u.includes('@apollo/gateway/')],
  ['federation-internals (operation objects)', (u) => u.includes('@apollo/federation-internals')],
  ['query planner', (u) => u.includes('@apollo/query-planner')],
  ['Apollo Server', (u) => u.includes('@apollo/server')],
  ['graphql-js', (u) => u.includes('/node_modules/graphql/')],
  ['OpenTelemetry', (u) => u.includes('@opentelemetry')],
  ['undici (outbound HTTP)', (u) => u.includes('undici')],
  ['pino (logs)', (u) => u.includes('pino') || u.includes('sonic-boom')],
  ['prom-client (metrics)', (u) => u.includes('prom-client')],
  ['node: HTTP server, sockets, streams', (u) => u.startsWith('node:')],
  ['ours: observability', (u) => u.includes('/src/observability/')],
  ['ours: policies (stages, chain)', (u) => u.includes('/src/policies/')],
  ['ours: gateway (data sources, plugins)', (u) => u.includes('/src/gateway/')],
  ['ours: server (HTTP edge)', (u) => u.includes('/src/server/')],
  ['ours: kernel', (u) => u.includes('/src/kernel/')],
  ['ours: other', (u) => u.includes('/src/')],
  ['other dependencies', (u) => u.includes('/node_modules/')],
  ['other', () => true],
];

function partOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  for (const [name, test] of PARTS) if (test(url, functionName)) return name;
  return 'other';
}

/**
 * Named pieces of work whose inclusive time the breakdown reports: synchronous ones, whose
 * callees are on their stack (an awaited continuation is not).
 */
const PHASES: [string, (url: string, fn: string) => boolean][] = [
  [
    'shaping the response (ours: shape; Apollo: computeResponse)',
    (u, fn) => (fn === 'shape' && u.includes('/execution/')) || fn === 'computeResponse',
  ],
  [
    'merging fetched data (mergeInto, deepMerge)',
    (_u, fn) => fn === 'mergeInto' || fn === 'deepMerge',
  ],
  [
    'entity representations (represent, executeSelectionSet)',
    (u, fn) =>
      fn === 'represent' || (fn === 'executeSelectionSet' && u.includes('@apollo/gateway')),
  ],
  [
    "Apollo's per-request operation (operationFromDocument)",
    (_u, fn) => fn === 'operationFromDocument',
  ],
  [
    'parsing subgraph answers (#parse, json)',
    (u, fn) => fn === '#parse' || (fn === 'json' && u.includes('undici')),
  ],
  ['actual cost (addFetchCost)', (_u, fn) => fn === 'addFetchCost'],
  ['logs (pino)', (u) => u.includes('pino') || u.includes('sonic-boom')],
  ['metrics (prom-client)', (u) => u.includes('prom-client')],
];

/** Frames of module loading and exit, whose samples are left out. */
const OUTSIDE = new Set([
  'makeAsyncRequest',
  'waitForWorker',
  'compileSourceTextModule',
  'wrapSafe',
  'flushSync',
  'onExit',
]);

/**
 * Self time per part and per function, and inclusive time per phase, in µs, over the samples
 * from the first one inside a request on (startup's module loading is not the request path).
 */
function breakdown(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number) => {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      stack.push(byId.get(at)!);
    return stack;
  };
  // Loading modules (startup, and the first use of a lazily imported one) and flushing logs at
  // exit are not the request path.
  const outside = (stack: ProfileNode[]) =>
    stack.some(
      ({ callFrame: { url, functionName } }) =>
        url.startsWith('node:internal/modules') || OUTSIDE.has(functionName),
    );
  const self = new Map<number, number>();
  let skipped = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const us = profile.timeDeltas[i] ?? 0;
    if (outside(stackOf(id))) skipped += us;
    else self.set(id, (self.get(id) ?? 0) + us);
  }
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  const phases = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const part = partOf(node);
    if (part === 'idle') continue;
    total += us;
    parts.set(part, (parts.get(part) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/src\//, 'src/')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const stack = stackOf(id);
    for (const [phase, test] of PHASES)
      if (stack.some((n) => test(n.callFrame.url, n.callFrame.functionName)))
        phases.set(phase, (phases.get(phase) ?? 0) + us);
  }
  return { total, parts, functions, phases, skipped };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-profile-'));
  const defs = await startSubgraphs(0, SHAPE === 'large' ? 'large' : undefined);
  const body = JSON.stringify(
    SHAPE === 'large' ? LARGE_SHOP_QUERY : SHOP_QUERIES['entities across four subgraphs'],
  );
  const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
  const supergraphFile = join(dir, 'supergraph.graphql');
  await writeFile(supergraphFile, supergraphSdl);
  const profileDir = join(dir, 'profile');
  const prof = ['--cpu-prof', '--cpu-prof-dir', profileDir];
  let headers: Record<string, string> = {};
  let line: string;
  if (TARGET === 'ours') {
    const { configFile, token } = await largeGatewayConfig(dir, defs, supergraphSdl);
    headers = { authorization: `Bearer ${token}` };
    line = await spawnTs(
      [...prof, 'src/cli/main.ts', 'start', '--config', configFile, '--port', '0'],
      listening,
    );
  } else {
    const entry = TARGET === 'bare' ? 'bench/bare-gateway.ts' : 'bench/minimal-gateway.ts';
    line = await spawnTs([...prof, entry, supergraphFile], listening);
  }
  const url = urlOf(line);
  const first = await request({
    name: 'first',
    url,
    method: 'POST',
    body,
    headers,
    check: () => {},
  });
  if (!first.startsWith('{"data"') || first.includes('"errors"'))
    throw new Error(`unexpected answer: ${first.slice(0, 300)}`);
  const load = (duration: number) =>
    new Promise<autocannon.Result>((resolve, reject) =>
      autocannon(
        {
          url,
          method: 'POST',
          body,
          headers: { ...headers, 'content-type': 'application/json' },
          connections: CONNECTIONS,
          duration,
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    );
  const warm = await load(3);
  const result = await load(DURATION_S);
  console.log(
    `${TARGET} on ${SHAPE}: ${result.requests.average.toFixed(0)} req/s, p99 ${result.latency.p99} ms, ${result.requests.total} requests, ${result.errors + result.non2xx} errors`,
  );
  // The target writes its profile as it exits.
  const target = children.at(-1)!;
  target.kill('SIGTERM');
  await new Promise((resolve) => target.once('exit', resolve));
  await stopChildren(children);
  // The main thread's profile (a loader's hooks thread writes one too): thread id 0 in the name.
  const file = (await readdir(profileDir)).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error('the target wrote no profile');
  const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as Profile;
  const { total, parts, functions, phases } = breakdown(profile);
  const requests = result.requests.total + warm.requests.total;
  console.log(
    `\nprofile: ${join(profileDir, file)}\nbusy ${(total / 1000).toFixed(0)} ms over about ${requests.toFixed(0)} requests (${(total / requests).toFixed(0)} µs per request)\n`,
  );
  console.log('| part | share | µs per request |\n| --- | ---: | ---: |');
  for (const [part, us] of [...parts].sort((a, b) => b[1] - a[1]))
    console.log(
      `| ${part} | ${((us / total) * 100).toFixed(1)}% | ${(us / requests).toFixed(0)} |`,
    );
  console.log('\n| phase (inclusive) | share | µs per request |\n| --- | ---: | ---: |');
  for (const [phase] of PHASES) {
    const us = phases.get(phase) ?? 0;
    console.log(
      `| ${phase} | ${((us / total) * 100).toFixed(1)}% | ${(us / requests).toFixed(0)} |`,
    );
  }
  console.log(`\nheaviest functions (self time):`);
  for (const [fn, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${fn}`);
}

await main();
