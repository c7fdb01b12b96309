// The `cluster` case of `npm run bench` (bench/run.ts): the same demo deployment with one and
// with three gateway instances behind HAProxy (demo/cluster/), one Redis holding the budgets,
// the cache and APQ, on this machine. The query reaches the users REST backend and the orders
// gRPC backend and is not cached (users and orders carry no cache hint), so every request plans,
// fetches twice, and spends from a rate budget in Redis. Targets:
//
//   1 instance, no balancer        the single instance's own port
//   1 instance behind HAProxy      what the balancer adds
//   3 instances behind HAProxy     what two more instances bring on this machine's cores
//
// CPU per request adds up the balancer's and the instances' processes. After the table, one more
// round of each cluster shows where the machine's CPU goes: balancer, instances, Redis, the demo
// backends, and this process, which generates the load.
import { availableParallelism } from 'node:os';
import {
  compareAll,
  cpuMs,
  DURATION_S,
  expectJson,
  load,
  spawnTs,
  WARMUP_S,
  type Target,
} from './harness.ts';

/** Not cached: the users REST backend, then the orders gRPC backend, every time. */
const QUERY = '{ user(id: "1") { id name orders { id } } }';

interface ClusterChild {
  url: string;
  instances: { origin: string; pid: number }[];
  haproxyPid: number;
  redisPid: number;
  backendsPid: number;
}

async function startClusterChild(instances: number): Promise<ClusterChild> {
  return JSON.parse(
    await spawnTs(['bench/cluster-child.ts', String(instances)], (line) =>
      line.startsWith('{"url"'),
    ),
  ) as ClusterChild;
}

/** One round of `target` with each process's CPU per request, and the load generator's. */
async function whereCpuGoes(name: string, cluster: ClusterChild, target: Target) {
  const processes: [string, number][] = [
    ['HAProxy', cluster.haproxyPid],
    ...cluster.instances.map((instance, i): [string, number] => [`gateway ${i + 1}`, instance.pid]),
    ['Redis', cluster.redisPid],
    ['demo backends', cluster.backendsPid],
  ];
  const before = processes.map(([, pid]) => cpuMs(pid) ?? 0);
  const ownBefore = process.cpuUsage();
  const round = await load(target, DURATION_S);
  const own = process.cpuUsage(ownBefore);
  const spent = processes.map(([, pid], i) => (cpuMs(pid) ?? 0) - before[i]!);
  const rows: [string, number][] = [
    ...processes.map(([label], i): [string, number] => [label, spent[i]!]),
    ['load generator (autocannon)', (own.user + own.system) / 1000],
  ];
  const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
  const capacity = availableParallelism() * DURATION_S * 1000;
  console.log(
    `\nWhere the CPU goes, ${name}: ${round.rps.toFixed(0)} req/s, ${((total / capacity) * 100).toFixed(0)}% of ${availableParallelism()} cores busy`,
  );
  console.log('| process | CPU µs/req | share of the CPU spent |');
  console.log('| --- | ---: | ---: |');
  for (const [label, ms] of rows)
    console.log(
      `| ${label} | ${((ms * 1000) / round.count).toFixed(0)} | ${((ms / total) * 100).toFixed(0)}% |`,
    );
}

export async function clusterCase(): Promise<void> {
  const one = await startClusterChild(1);
  const three = await startClusterChild(3);
  const body = JSON.stringify({ query: QUERY });
  const reference = JSON.parse(
    await (
      await fetch(`${one.instances[0]!.origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    ).text(),
  ) as unknown;
  const target = (name: string, url: string, pids: number[]): Target => ({
    name,
    url: `${url}/graphql`,
    method: 'POST',
    body,
    pids,
    check: expectJson(reference),
  });
  const direct = target('1 instance, no balancer', one.instances[0]!.origin, [
    one.instances[0]!.pid,
  ]);
  const single = target('1 instance behind HAProxy', one.url, [
    one.haproxyPid,
    one.instances[0]!.pid,
  ]);
  const triple = target('3 instances behind HAProxy', three.url, [
    three.haproxyPid,
    ...three.instances.map((instance) => instance.pid),
  ]);
  // Each instance compiles its hot paths on its own: three need three times the warm-up traffic
  // of one before the rounds compare them (compareAll's own warm-up is per target).
  await load(triple, 3 * WARMUP_S);
  await load(single, WARMUP_S);
  const [, s1, s3] = await compareAll(
    'Scale-out: the demo graph (REST + gRPC, budgets in Redis, uncached) on 1 and 3 instances behind HAProxy',
    [direct, single, triple],
  );
  console.log(
    `\n3 instances vs 1, both behind HAProxy: ${(s3!.rps / s1!.rps).toFixed(2)}x throughput, p99 ${s3!.p99} vs ${s1!.p99} ms, on ${availableParallelism()} cores shared with Redis, the backends and the load generator`,
  );
  await whereCpuGoes('1 instance behind HAProxy', one, single);
  await whereCpuGoes('3 instances behind HAProxy', three, triple);
}
