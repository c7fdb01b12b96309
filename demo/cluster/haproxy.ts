// The load balancer in front of `npm run cluster`: HAProxy from Debian's package, its config
// written into the cluster's temp dir. The config is what we recommend in front of the gateway
// (docs/deploying.md): readiness checks on each instance's admin `/readyz`, so a draining
// instance leaves the pool before it stops listening, and retries only where they are safe.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

export interface BalancedInstance {
  /** The server's name in HAProxy's config, stats and logs. */
  readonly name: string;
  /** The gateway's port on 127.0.0.1. */
  readonly port: number;
  /** Its admin listener's port, where `/readyz` answers. */
  readonly adminPort: number;
}

export interface HaproxyConfigOptions {
  /** The port the balancer listens on, on 127.0.0.1. */
  readonly port: number;
  readonly instances: readonly BalancedInstance[];
  /** The admin socket (`show stat`, `show servers state`). */
  readonly statsSocket: string;
  /** How often each instance's `/readyz` is asked (ms). @default 500 */
  readonly checkIntervalMs?: number;
}

/**
 * The config, as text. Why each line is there:
 * - `option httpchk GET /readyz` on the admin port, `fall 1`: an instance whose readiness turns
 *   503 (draining on SIGTERM) is out of the pool within one interval, which the gateway's
 *   `server.shutdown_delay` must exceed; `rise 2` takes a restarted one back once it is ready;
 * - `retry-on conn-failure empty-response response-timeout` with `option redispatch 1`: a request
 *   that met a dead instance (refused, or the connection closed with no answer) goes to another
 *   one; `disable-l7-retry` for every method but GET, HEAD and OPTIONS, because a POST (a
 *   mutation, or a query sent as POST) may have run before its instance died, and only the
 *   client knows whether running it twice is safe;
 * - `option forwardfor`: the gateway sees the client's address (server.trusted_proxies names the
 *   balancer), so limits keyed by address are per client, not per balancer;
 * - `timeout http-keep-alive` and the server-side idle pool stay below the gateway's
 *   `server.keep_alive_timeout`, so the balancer never reuses a connection the gateway is closing.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const inter = options.checkIntervalMs ?? 500;
  const servers = options.instances.map(
    (instance) =>
      `  server ${instance.name} 127.0.0.1:${instance.port} check port ${instance.adminPort}`,
  );
  return [
    'global',
    '  maxconn 4096',
    `  stats socket ${options.statsSocket} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-keep-alive 4s',
    '  timeout check 2s',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    '',
    'frontend gateway',
    `  bind 127.0.0.1:${options.port}`,
    '  option forwardfor',
    '  default_backend gateways',
    '',
    'backend gateways',
    '  balance roundrobin',
    '  http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server inter ${inter} fastinter ${inter} downinter ${inter} fall 1 rise 2 pool-purge-delay 2s`,
    ...servers,
    '',
  ].join('\n');
}

export interface RunningHaproxy {
  readonly child: ChildProcess;
  /** Each server's state and counters (`show stat`), by server name. */
  stats(): Promise<Map<string, ServerStats>>;
  close(): Promise<void>;
}

export interface ServerStats {
  /** `UP`, `DOWN`, `MAINT`, `UP 1/2`... as HAProxy reports it. */
  readonly status: string;
  /** Requests (HTTP responses) the server answered. */
  readonly responses: number;
  /** Sessions sent to it. */
  readonly sessions: number;
  /** Requests that were retried or redispatched away from it. */
  readonly retries: number;
  readonly redispatches: number;
}

/**
 * Starts HAProxy in the foreground (`-db`) on a written config, after `-c` has checked it, and
 * resolves once its stats socket answers.
 */
export async function startHaproxy(options: {
  readonly binary: string;
  readonly configFile: string;
  readonly statsSocket: string;
}): Promise<RunningHaproxy> {
  const check = spawn(options.binary, ['-c', '-f', options.configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let checkOutput = '';
  check.stdout.on('data', (chunk: Buffer) => (checkOutput += chunk.toString()));
  check.stderr.on('data', (chunk: Buffer) => (checkOutput += chunk.toString()));
  const [code] = (await once(check, 'exit')) as [number | null];
  if (code !== 0)
    throw new Error(`haproxy refused ${options.configFile} (exit ${code}): ${checkOutput}`);

  const child = spawn(options.binary, ['-db', '-f', options.configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    // Kept short: it says why HAProxy stopped when it stops early.
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = once(child, 'exit');
  const stats = () => readStats(options.statsSocket);
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null)
      throw new Error(`haproxy exited (${child.exitCode}) at start: ${stderr}`);
    try {
      await stats();
      break;
    } catch (error) {
      if (attempt > 100) {
        child.kill('SIGKILL');
        throw new Error(`haproxy's stats socket did not answer: ${stderr}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    child,
    stats,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGUSR1 is HAProxy's soft stop: the listener closes and open connections finish.
      child.kill('SIGUSR1');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One admin-socket command's answer. */
async function ask(socket: string, command: string): Promise<string> {
  const connection = connect(socket);
  let answer = '';
  connection.setEncoding('utf8');
  connection.on('data', (chunk: string) => (answer += chunk));
  await once(connection, 'connect');
  connection.end(`${command}\n`);
  await once(connection, 'close');
  return answer;
}

/** `show stat` for the `gateways` backend's servers (CSV: `# pxname,svname,...` header). */
async function readStats(socket: string): Promise<Map<string, ServerStats>> {
  const [header, ...rows] = (await ask(socket, 'show stat')).trim().split('\n');
  if (!header?.startsWith('# ')) throw new Error(`unexpected stats answer: ${header}`);
  const columns = header.slice(2).split(',');
  const at = (name: string) => columns.indexOf(name);
  const servers = new Map<string, ServerStats>();
  for (const row of rows) {
    const cells = row.split(',');
    const name = cells[at('svname')] ?? '';
    if (cells[at('pxname')] !== 'gateways' || name === 'BACKEND' || name === 'FRONTEND') continue;
    const count = (column: string) => Number(cells[at(column)] || 0);
    servers.set(name, {
      status: cells[at('status')] ?? '',
      responses:
        count('hrsp_1xx') +
        count('hrsp_2xx') +
        count('hrsp_3xx') +
        count('hrsp_4xx') +
        count('hrsp_5xx'),
      sessions: count('stot'),
      retries: count('wretr'),
      redispatches: count('wredis'),
    });
  }
  return servers;
}
