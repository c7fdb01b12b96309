import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { composeSupergraph } from '../src/composition/compose.ts';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';
import {
  compareAll,
  listening,
  queryTargets,
  spawnTs,
  startSubgraphs,
  type Summary,
} from './harness.ts';

/**
 * `gateway start --workers 2` against `--workers 1` (today's single process), the federation
 * case's graph and query, the same supergraph file: what a second worker buys on this host.
 * CPU per request is summed over every process of each target (the primary and its workers;
 * the single process alone), so the primary's share and each worker's own overhead count. The
 * subgraphs and the load generator share the same cores: on a 2-core machine the second worker
 * competes with them, which is what a small host does too.
 */
export async function workersCase(dir: string) {
  const defs = await startSubgraphs();
  const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
  const supergraphFile = join(dir, 'workers-supergraph.graphql');
  await writeFile(supergraphFile, supergraphSdl);
  const start = (workers: number) =>
    spawnTs(
      [
        'src/cli/main.ts',
        'start',
        '--supergraph',
        supergraphFile,
        '--port',
        '0',
        '--workers',
        String(workers),
      ],
      // The primary's line: every worker listens (a worker's own line says "worker listening").
      listening,
    );
  const [one, two] = await Promise.all([start(1), start(2)]);
  const { target } = await queryTargets(one, SHOP_QUERIES['entities across four subgraphs']!);
  const [a, b] = (await compareAll(
    'workers: the federation fan-out on --workers 2 vs --workers 1 (CPU over every process of each)',
    [
      { ...target('--workers 2', two), tree: true },
      { ...target('--workers 1', one), tree: true },
    ],
  )) as [Summary, Summary];
  const cpu =
    a.cpuUs !== undefined && b.cpuUs !== undefined
      ? `; CPU per request ${a.cpuUs.toFixed(0)} vs ${b.cpuUs.toFixed(0)} µs (${(a.cpuUs / b.cpuUs).toFixed(2)}x)`
      : '';
  console.log(
    `\nratio 2 workers / 1: ${(a.rps / b.rps).toFixed(2)}x throughput; p99 ${a.p99} ms vs ${b.p99} ms${cpu}`,
  );
}
