import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { withAdminPort, type ServerConfig } from '../../config/schema.ts';
import { ExitCode } from '../exit-codes.ts';
import { exitOnSignals, type RunningGateway } from '../main.ts';

/** What a worker tells the primary once every port it serves is open (primary.ts). */
export interface WorkerReady {
  readonly type: 'gateway:worker-ready';
  /** The GraphQL endpoint, on the port every worker shares. */
  readonly url: string;
  /** This worker's own admin listener, on loopback: the primary asks it. */
  readonly adminOrigin?: string;
  readonly grpcAddress?: string;
}

export function isWorkerReady(message: unknown): message is WorkerReady {
  return (message as WorkerReady | undefined)?.type === 'gateway:worker-ready';
}

/**
 * A worker's settings: the admin listener, when the settings open one, moves to a free loopback
 * port of this worker alone (main.ts listens on it exclusively, outside node:cluster's sharing).
 * The primary opens the configured one and asks every worker's: a shared admin port would send
 * each scrape or probe to one worker at random.
 */
export function workerSettings(server: ServerConfig): ServerConfig {
  const moved = withAdminPort(server, 0);
  return moved.admin ? { ...moved, admin: { ...moved.admin, host: '127.0.0.1' } } : moved;
}

/**
 * Runs one worker: starts the gateway, reports it to the primary, and drains on the SIGTERM the
 * primary sends. SIGINT is ignored: a Ctrl-C reaches every process of the terminal's group, and
 * the primary turns it into the one SIGTERM each worker gets, so each drains once. A SIGTERM
 * before the gateway listens stops the worker at once (nothing to drain yet).
 */
export async function runWorker(
  start: () => Promise<RunningGateway>,
  logger: Logger,
  graphqlPath: string,
): Promise<void> {
  process.on('SIGINT', () => {});
  const early = () => process.exit(ExitCode.OK);
  process.once('SIGTERM', early);
  const running = await start();
  process.off('SIGTERM', early);
  exitOnSignals(running, logger, ['SIGTERM']);
  const url = `${running.origin}${graphqlPath}`;
  logger.info({ url, pid: process.pid }, 'worker listening');
  const ready: WorkerReady = {
    type: 'gateway:worker-ready',
    url,
    ...(running.adminOrigin ? { adminOrigin: running.adminOrigin } : {}),
    ...(running.grpcAddress ? { grpcAddress: running.grpcAddress } : {}),
  };
  cluster.worker?.send(ready);
}
