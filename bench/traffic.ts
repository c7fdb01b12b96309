// The traffic cases of `npm run bench` (bench/run.ts), each only when named in BENCH_CASES: with
// three or four targets of ROUNDS x DURATION_S each, each takes two to three minutes at the defaults.
//
//   replicas   the federation query with each subgraph served by one instance, against two
//              instances of each (two subgraph processes, `instances` listing both) balanced
//              round robin, then least loaded; dedup off in all three
//   fast-fail  a query over two subgraphs whose second one's only instance refuses connections:
//              ejected by outlier detection (max_ejection_percent 100, calls fail at once with
//              UPSTREAM_CIRCUIT_OPEN), against the same backend down and not ejected (every call
//              tries the refused connection), against it healthy, against it hanging (every
//              call waits out a 1s timeout)
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deepStrictEqual } from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  compareAll,
  cpuMs,
  federationTargets,
  freePort,
  listening,
  pidOf,
  request,
  spawnTs,
  startSubgraphs,
  urlOf,
  type Summary,
  type Target,
} from './harness.ts';

/** A gateway on a config written to `file`, on an ephemeral port: its first log line. */
async function startGateway(file: string, config: unknown): Promise<string> {
  await writeFile(file, stringify(config));
  return spawnTs(['src/cli/main.ts', 'start', '--config', file, '--port', '0'], listening);
}

/** Throughput and p99 of `s` against the baseline `base`. */
const ratioOf = (s: Summary, base: Summary) =>
  `${(s.rps / base.rps).toFixed(2)}x throughput; p50 ${s.p50} ms vs ${base.p50} ms; p99 ${s.p99} ms vs ${base.p99} ms`;

/**
 * The federation query over one instance of each subgraph, then over two of each (round robin,
 * least loaded). The replicas are two subgraph processes, each serving all four subgraphs; the
 * one-instance gateway calls the first only. Dedup is off everywhere: with it on, identical
 * fetches in flight are shared and fewer calls reach the instances, so less balancing is done.
 */
export async function replicasCase(dir: string) {
  const [first, second] = await Promise.all([startSubgraphs(), startSubgraphs()]);
  const host = (url: string) => new URL(url).host;
  const config = (instances: 1 | 2, balance: 'round_robin' | 'least_loaded') => ({
    subgraphs: Object.fromEntries(
      first.map((d) => {
        const replica = second.find((r) => r.name === d.name);
        if (!replica) throw new Error(`no second instance of ${d.name}`);
        return [
          d.name,
          {
            routing_url: d.url,
            ...(instances === 2 ? { instances: [host(d.url), host(replica.url)] } : {}),
            schema: { sdl: d.sdl },
          },
        ];
      }),
    ),
    log: { requests: false },
    traffic: { dedup: { enabled: false }, balance },
  });
  const [one, roundRobin, leastLoaded] = await Promise.all([
    startGateway(join(dir, 'replicas-1.yaml'), config(1, 'round_robin')),
    startGateway(join(dir, 'replicas-2-rr.yaml'), config(2, 'round_robin')),
    startGateway(join(dir, 'replicas-2-ll.yaml'), config(2, 'least_loaded')),
  ]);
  const target = await federationTargets(one);
  // The subgraph processes' CPU over the case: the second replica works only if calls reach it.
  const subgraphPids = [first, second].map((defs) => pidOf.get(JSON.stringify(defs)));
  const cpuBefore = subgraphPids.map(cpuMs);
  const [base, rr, ll] = (await compareAll(
    'replicas: federation query over one instance of each subgraph vs two (two subgraph processes), round robin and least loaded; traffic.dedup off in all three',
    [
      target('1 instance each', one),
      target('2 instances, round robin', roundRobin),
      target('2 instances, least loaded', leastLoaded),
    ],
  )) as [Summary, Summary, Summary];
  console.log(`\nagainst 1 instance each:`);
  console.log(`  2 instances, round robin:  ${ratioOf(rr, base)}`);
  console.log(`  2 instances, least loaded: ${ratioOf(ll, base)}`);
  const cpuAfter = subgraphPids.map(cpuMs);
  const spent = cpuAfter.map((after, i) => {
    const before = cpuBefore[i];
    return after === undefined || before === undefined ? 'n/a' : `${after - before} ms`;
  });
  console.log(
    `subgraph processes' CPU over the case: first ${spent[0]}, second ${spent[1]} (the first also serves the one-instance gateway alone; the two processes share the machine with the gateways and the load generator)`,
  );
}

interface Answer {
  data?: unknown;
  errors?: { extensions?: { code?: string } }[];
}

/** Every error of the answer has `code`, and its data is `data`. */
function expectFailure(code: string, data: unknown): (text: string) => void {
  return (text) => {
    const answer = JSON.parse(text) as Answer;
    const codes = (answer.errors ?? []).map((e) => e.extensions?.code);
    if (codes.length === 0 || codes.some((c) => c !== code))
      throw new Error(`expected only ${code} errors, got:\n${text}`);
    deepStrictEqual(answer.data, data, `unexpected data beside ${code}:\n${text}`);
  };
}

/** The query of the fast-fail case: accounts' `me`, then reviews' entity fetch for its reviews. */
const TWO_SUBGRAPHS = JSON.stringify({ query: '{ me { id name reviews { body } } }' });

/**
 * What a request costs when one of its backends is out, three ways, the reviews subgraph the
 * backend (B): its only instance refusing connections and ejected by outlier detection
 * (`consecutive_failures: 1`, `max_ejection_percent: 100`, an ejection of an hour, so it stays
 * out for the whole run), so its fetches fail at once with UPSTREAM_CIRCUIT_OPEN; the
 * same backend down but outlier detection off, so every fetch tries the refused connection; and
 * B healthy with the ejected target's settings. Retries are off for B in all three: retried
 * refused connections would wait out backoffs, a different cost than the one measured here.
 */
export async function fastFailCase(dir: string) {
  const defs = await startSubgraphs();
  // Nothing listens there: a connection to it is refused at once (loopback answers with a RST;
  // a backend behind a dropped route would instead hold each connect until its timeout).
  const deadUrl = `http://127.0.0.1:${await freePort()}/graphql`;
  const noRetries = { enabled: false };
  const ejecting = {
    consecutive_failures: 1,
    // The ejection's length is capped at max_ejection_time (default 300 s): both raised, so B
    // stays out however long the run.
    base_ejection_time: '1h',
    max_ejection_time: '1h',
    max_ejection_percent: 100,
  };
  // A backend that takes the connection and never answers (a hung process, a full accept
  // queue behind a proxy): without ejection every fetch waits out B's timeout.
  const hanging = createServer(() => {});
  hanging.listen(0, '127.0.0.1');
  await once(hanging, 'listening');
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/graphql`;
  const config = (b: { url: string; outlier: object; timeout?: string }) => ({
    subgraphs: Object.fromEntries(
      defs.map((d) => [
        d.name,
        d.name === 'reviews'
          ? {
              routing_url: b.url,
              schema: { sdl: d.sdl },
              ...(b.timeout ? { timeout: b.timeout } : {}),
              traffic: { outlier_detection: b.outlier, retries: noRetries },
            }
          : { routing_url: d.url, schema: { sdl: d.sdl } },
      ]),
    ),
    log: { requests: false },
  });
  const reviews = defs.find((d) => d.name === 'reviews');
  if (!reviews) throw new Error('the shop graph has no reviews subgraph');
  const [ejected, down, healthy, hung] = await Promise.all([
    startGateway(join(dir, 'fast-fail-ejected.yaml'), config({ url: deadUrl, outlier: ejecting })),
    startGateway(
      join(dir, 'fast-fail-down.yaml'),
      config({ url: deadUrl, outlier: { enabled: false } }),
    ),
    startGateway(
      join(dir, 'fast-fail-healthy.yaml'),
      config({ url: reviews.url, outlier: ejecting }),
    ),
    startGateway(
      join(dir, 'fast-fail-hanging.yaml'),
      config({ url: hangingUrl, outlier: { enabled: false }, timeout: '1s' }),
    ),
  ]);
  const targetOf = (name: string, line: string, check: Target['check']): Target => ({
    name,
    url: urlOf(line),
    pid: pidOf.get(line),
    method: 'POST',
    body: TWO_SUBGRAPHS,
    check,
  });
  const healthyAnswer = JSON.parse(await request(targetOf('healthy', healthy, () => {}))) as Answer;
  if (healthyAnswer.errors)
    throw new Error(`B healthy answers errors: ${JSON.stringify(healthyAnswer)}`);
  // Warm up until B's only instance is out: its first refused call ejects it.
  let ejectedAnswer: Answer | undefined;
  for (let i = 0; i < 20 && !ejectedAnswer; i++) {
    const answer = JSON.parse(await request(targetOf('ejected', ejected, () => {}))) as Answer;
    if (answer.errors?.some((e) => e.extensions?.code === 'UPSTREAM_CIRCUIT_OPEN'))
      ejectedAnswer = answer;
  }
  if (!ejectedAnswer) throw new Error('B was not ejected after 20 requests');
  const downAnswer = JSON.parse(await request(targetOf('down', down, () => {}))) as Answer;
  const downCode = downAnswer.errors?.[0]?.extensions?.code ?? 'no error';
  console.log(
    `\nfast-fail answers: B ejected ${JSON.stringify(ejectedAnswer)}\nB down, not ejected ${JSON.stringify(downAnswer)}`,
  );
  const [fast, slow, ok, hangs] = (await compareAll(
    `fast-fail: ${TWO_SUBGRAPHS} with the reviews subgraph (B) ejected vs down and not ejected (outlier detection off; a refused connection on loopback) vs healthy; B's retries off in all three`,
    [
      targetOf(
        'B ejected: fails fast',
        ejected,
        expectFailure('UPSTREAM_CIRCUIT_OPEN', ejectedAnswer.data),
      ),
      targetOf('B down, not ejected', down, expectFailure(downCode, ejectedAnswer.data)),
      targetOf('B healthy', healthy, (text) => deepStrictEqual(JSON.parse(text), healthyAnswer)),
      targetOf(
        'B hanging, not ejected (1s timeout)',
        hung,
        expectFailure('GATEWAY_TIMEOUT', ejectedAnswer.data),
      ),
    ],
  )) as [Summary, Summary, Summary, Summary];
  hanging.closeAllConnections();
  hanging.close();
  console.log(`\nB ejected against B healthy:           ${ratioOf(fast, ok)}`);
  console.log(`B ejected against B down, not ejected: ${ratioOf(fast, slow)}`);
  console.log(`B ejected against B hanging:           ${ratioOf(fast, hangs)}`);
  console.log(
    "An ejected backend's fetch costs no network at all; what it costs over a healthy one is the error path (Apollo Gateway's error wrapping and null propagation, error formatting) of its failed field. Against a backend that hangs, it saves the whole timeout (docs/benchmarks.md, Failing fast)",
  );
}
