import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ExitCode } from '../exit-codes.ts';
import { sendJson } from '../respond.ts';
import { worstExit } from './exit-status.ts';
import { sumExpositions } from './metrics-sum.ts';
import { RestartBudget } from './restart-budget.ts';
import { isWorkerReady, type WorkerReady } from './worker.ts';

export interface PrimaryOptions {
  /** How many workers serve at once. */
  readonly workers: number;
  readonly logger: Logger;
  /**
   * The admin listener the settings open (host and port after `--admin-port`), and the metrics
   * path when metrics are on: the primary serves it over every worker.
   */
  readonly admin?: { host: string; port: number; metricsPath?: string };
  readonly budget?: RestartBudget;
}

/** A worker the primary forked and has not seen exit; `ready` once it reported its ports. */
interface Slot {
  readonly worker: Worker;
  ready?: WorkerReady;
}

/** How long the primary waits for one worker's admin answer before counting it as not ready. */
const ASK_TIMEOUT_MS = 5_000;
/** A cache invalidation names a few tags (cache-admin.ts has the same bound). */
const BODY_LIMIT = 65_536;

/**
 * The primary of `gateway start --workers N`: it composes nothing and serves no GraphQL. It
 * forks the workers (each a whole gateway, node:cluster sharing its listening ports), replaces
 * one that dies (restart-budget.ts), serves the admin listener over all of them, and on SIGTERM
 * or SIGINT drains them all and exits with the worst of their codes (exit-status.ts).
 */
export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { logger, workers } = options;
  const budget = options.budget ?? new RestartBudget();
  const live = new Map<number, Slot>();
  const codes: (number | null)[] = [];
  const pending = new Set<NodeJS.Timeout>();
  let announced = false;
  let stopping = false;
  /** Set when the primary decided to stop for a reason worse than its workers' codes. */
  let forced: number | undefined;
  let restarts = 0;

  const admin = options.admin
    ? await listenAdmin(options.admin, logger, {
        live: () => [...live.values()],
        workers,
        stopping: () => stopping,
        restarts: () => restarts,
      })
    : undefined;

  const fork = () => {
    const worker = cluster.fork();
    const slot: Slot = { worker };
    live.set(worker.id, slot);
    worker.on('message', (message: unknown) => {
      if (!isWorkerReady(message)) return;
      slot.ready = message;
      if (announced || [...live.values()].filter((s) => s.ready).length < workers) return;
      announced = true;
      // Last, as a single process logs it: every worker serves, and the admin listener is open.
      logger.info(
        {
          url: message.url,
          ...(admin ? { admin: admin.origin } : {}),
          ...(message.grpcAddress ? { grpc: message.grpcAddress } : {}),
          workers,
        },
        'gateway listening',
      );
    });
  };

  const finish = () => {
    const code = worstExit([...codes, ...(forced === undefined ? [] : [forced])]);
    void closeAdmin(admin?.server).then(() => {
      logger.info({ code }, 'stopped');
      logger.flush(() => process.exit(code));
    });
  };

  const stop = () => {
    stopping = true;
    for (const timer of pending) clearTimeout(timer);
    pending.clear();
    for (const { worker } of live.values()) worker.process.kill('SIGTERM');
    if (live.size === 0) finish();
  };

  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker.id);
    if (stopping) {
      codes.push(signal ? null : code);
      if (live.size === 0) finish();
      return;
    }
    const facts = { worker: worker.id, pid: worker.process.pid, code, signal };
    if (!announced) {
      // Not a crash to outlive: a worker of the first generation could not start (a port taken,
      // a backend's schema unreadable), and its replacement would fail the same way. Its error
      // is on stderr. A replacement that fails to start later goes through the budget instead.
      logger.error(facts, 'a worker failed to start; stopping the others');
      forced = ExitCode.FAILED;
      stop();
      return;
    }
    const delay = budget.next(performance.now());
    if (delay === undefined) {
      logger.error(
        { ...facts, restarts },
        'workers keep dying: the restart budget is spent (5 within 60 s); stopping the others and exiting 1',
      );
      forced = ExitCode.FAILED;
      stop();
      return;
    }
    restarts += 1;
    logger.warn({ ...facts, inMs: delay }, 'a worker died; starting another');
    const timer = setTimeout(() => {
      pending.delete(timer);
      fork();
    }, delay);
    pending.add(timer);
  });

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: killing the workers without draining');
      for (const { worker } of live.values()) worker.process.kill('SIGKILL');
      logger.flush(() => process.exit(ExitCode.FAILED));
      return;
    }
    signalled = true;
    logger.info({ signal, workers: live.size }, 'shutting down: draining every worker');
    stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  for (let i = 0; i < workers; i++) fork();
}

interface AdminView {
  live(): Slot[];
  readonly workers: number;
  stopping(): boolean;
  restarts(): number;
}

/**
 * The admin listener over every worker. `/healthz` is the primary's (it answers while workers
 * live); `/readyz` is ready when every worker is, with each worker's details; `/metrics` is the
 * workers' summed (metrics-sum.ts) with the primary's own two series; `POST /cache/invalidate`
 * reaches every worker, since a memory cache is one per worker; anything else is relayed to one
 * worker, whose answer names what the listener serves.
 */
async function listenAdmin(
  settings: NonNullable<PrimaryOptions['admin']>,
  logger: Logger,
  view: AdminView,
): Promise<{ server: Server; origin: string }> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const path = url.replace(/\?.*$/, '');
    const ready = view.live().filter((slot) => slot.ready?.adminOrigin !== undefined);
    if (path === '/healthz') {
      const alive = view.live().length > 0;
      return sendJson(res, alive ? 200 : 503, {
        status: alive ? 'ok' : 'no workers',
        workers: view.live().length,
      });
    }
    if (path === '/readyz') {
      if (view.stopping()) return sendJson(res, 503, { status: 'draining' });
      const answers = await Promise.all(
        view.live().map(async (slot) => ({
          worker: slot.worker.id,
          pid: slot.worker.process.pid,
          ...(slot.ready
            ? await ask(slot, '/readyz')
            : { status: 503, body: { status: 'starting' } }),
        })),
      );
      const all = answers.length === view.workers && answers.every((a) => a.status === 200);
      const notReady = answers.find((a) => a.status !== 200)?.body as { status?: string };
      return sendJson(res, all ? 200 : 503, {
        status: all ? 'ready' : (notReady?.status ?? 'starting'),
        workers: answers.map(({ worker, pid, body }) => ({ worker, pid, ...(body as object) })),
      });
    }
    if (settings.metricsPath !== undefined && path === settings.metricsPath) {
      const answers = await Promise.all(ready.map((slot) => ask(slot, path, undefined, 'text')));
      const texts = answers.filter((a) => a.status === 200).map((a) => a.body as string);
      res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return res.end(`${sumExpositions(texts)}${primarySeries(ready.length, view.restarts())}`);
    }
    if (path === '/cache/invalidate' && req.method === 'POST') {
      const body = await readLimited(req);
      const answers = await Promise.all(ready.map((slot) => ask(slot, path, { req, body })));
      const failed = answers.find((a) => a.status !== 200);
      if (failed) return sendJson(res, failed.status, failed.body);
      const removed = answers.reduce(
        (n, a) => n + ((a.body as { removed: number }).removed ?? 0),
        0,
      );
      return sendJson(res, 200, { removed, workers: answers.length });
    }
    const [first] = ready;
    if (!first) return sendJson(res, 503, { status: 'starting' });
    const relayed = await ask(first, url, { req, body: await readLimited(req) });
    return sendJson(res, relayed.status, relayed.body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      else res.destroy();
    });
  });
  server.listen(settings.port, settings.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw new Error(
      `cannot listen on server.admin.port ${settings.port} (host ${settings.host}): ${(error as Error).message}; set server.admin.port to a free port (0 picks one)`,
      { cause: error },
    );
  }
  const { port } = server.address() as AddressInfo;
  const origin = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;
  logger.info({ url: origin }, 'admin listening');
  return { server, origin };
}

/**
 * One worker's admin answer (JSON, else text): a worker that does not answer in time is 503,
 * as one that is not ready.
 */
async function ask(
  slot: Slot,
  path: string,
  forward?: { req: IncomingMessage; body: Buffer },
  as: 'json' | 'text' = 'json',
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'content-type'])
    if (typeof forward?.req.headers[name] === 'string')
      headers[name] = forward.req.headers[name] as string;
  try {
    const response = await fetch(`${slot.ready?.adminOrigin}${path}`, {
      method: forward?.req.method ?? 'GET',
      headers,
      ...(forward && forward.body.length > 0 ? { body: forward.body } : {}),
      signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
    });
    const text = await response.text();
    if (as === 'text') return { status: response.status, body: text };
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, body: { status: text } };
    }
  } catch (error) {
    return { status: 503, body: { status: 'unreachable', error: (error as Error).message } };
  }
}

async function readLimited(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The primary's own series: how many workers serve, and how many were replaced. */
function primarySeries(ready: number, restarts: number): string {
  return [
    '# HELP gateway_workers Workers serving (gateway start --workers), as the primary counts them.',
    '# TYPE gateway_workers gauge',
    `gateway_workers ${ready}`,
    '# HELP gateway_worker_restarts_total Workers that died and were replaced by the primary.',
    '# TYPE gateway_worker_restarts_total counter',
    `gateway_worker_restarts_total ${restarts}`,
    '',
  ].join('\n');
}

async function closeAdmin(server: Server | undefined): Promise<void> {
  if (!server) return;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
}
