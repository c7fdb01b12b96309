import type * as grpc from '@grpc/grpc-js';
import type { Dispatcher } from 'undici';
import type { ChannelTls } from '../../kernel/outbound.ts';
import type { GrpcChannelPool } from './exchange.ts';

/**
 * Active health checks of backend instances: each instance of an upstream is asked on its own
 * timer whether it is well, and the verdict flips only after a run of like answers, so one slow
 * answer does not take an instance out and one lucky answer does not bring it back. Envoy's
 * active health checking, reduced to what the balancer needs:
 * https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking
 *
 * - An instance is presumed healthy until `unhealthyThreshold` checks in a row fail: starting
 *   (or reloading) never waits for a first round, and a gateway whose checks cannot run keeps
 *   sending traffic (passive outlier detection still ejects what fails real calls).
 * - The first check of a new instance waits a random part of one interval, so a fleet of
 *   instances (and of gateways) does not probe in lockstep; later ones wait the interval ±10%
 *   (Envoy's `initial_jitter` and `interval_jitter_percent`), counted from the end of the
 *   previous check, so checks of one instance never overlap.
 * - A check's failure is a result, never an exception: nothing here throws out of a timer or
 *   logs. The owner hears every transition through `onChange` and logs it.
 *
 * Timers are unref()'d: health checks alone never keep the process alive.
 */

export interface HealthCheckSettings {
  /** `http`: GET `path`, any 2xx passes. `grpc`: grpc.health.v1 Check of `service`, SERVING passes. */
  readonly kind: 'http' | 'grpc';
  /** http: the path asked, e.g. `/health`. */
  readonly path: string;
  /** grpc: the service asked about; `''` is the whole server. */
  readonly service: string;
  /** Between the end of one check of an instance and the start of the next (jittered ±10%). */
  readonly intervalMs: number;
  /** A check slower than this fails. */
  readonly timeoutMs: number;
  /** Passes in a row that make an unhealthy instance healthy. */
  readonly healthyThreshold: number;
  /** Failures in a row that make a healthy instance unhealthy. */
  readonly unhealthyThreshold: number;
}

export interface HealthTarget {
  /** The upstream the instance belongs to (opaque here). */
  readonly key: string;
  /** `host:port` of the instance. */
  readonly address: string;
  /** http: the scheme to use. gRPC's TLS is given by `tls`. */
  readonly scheme?: 'http' | 'https';
  /**
   * http: the Host header to send (the logical backend's host) when it differs from `address`;
   * undici also sends it as the TLS server name. gRPC takes its server name from `tls.serverName`.
   */
  readonly host?: string;
  /** gRPC: the channel's TLS settings (none: plaintext). */
  readonly tls?: ChannelTls;
  readonly settings: HealthCheckSettings;
}

/** What /readyz shows of an instance: the verdict and the last check behind it. */
export interface HealthReport {
  readonly healthy: boolean;
  /** When the last check finished, epoch ms. */
  readonly lastCheckAt: number;
  /** Why the last check failed; absent when it passed. */
  readonly lastError?: string;
  /** How many checks in a row ended like the last one (passes, or failures when `lastError`). */
  readonly consecutive: number;
}

/**
 * The grpc.health.v1 Check (adapters/grpc/health.ts `checkHealth`): the status name it answers,
 * `SERVING` when the instance serves. Injected because policies do not import adapters.
 */
export type GrpcHealthCheck = (
  client: grpc.Client,
  service: string,
  timeoutMs: number,
) => Promise<string>;

export interface HealthChecksDeps {
  /** undici; the gateway's BackendDispatcher, so checks use the backends' TLS settings. */
  readonly dispatcher: Dispatcher;
  readonly channels: GrpcChannelPool;
  readonly checkGrpcHealth: GrpcHealthCheck;
  /** Called on every transition, and only then. */
  readonly onChange: (key: string, address: string, healthy: boolean) => void;
  /** Epoch ms for `lastCheckAt`. @default Date.now */
  readonly now?: () => number;
  /** In [0, 1): the jitter of the delays. @default Math.random */
  readonly random?: () => number;
}

/** Sent with every HTTP check, so backends can tell probes from traffic (Envoy sends `Envoy/HC`). */
export const HEALTH_CHECK_USER_AGENT = 'federation-gateway/health-check';

/** Bytes of a check's answer read before the connection is dropped: the status is all we use. */
const BODY_LIMIT = 64 * 1024;

/** One instance's verdict: it outlives a change of its check's settings. */
interface Verdict {
  healthy: boolean;
  passes: number;
  failures: number;
  lastCheckAt?: number;
  lastError?: string;
}

/** One instance's check loop. A stopped probe drops what its last call answers. */
class Probe {
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
  stopped = false;

  readonly target: HealthTarget;
  readonly verdict: Verdict;

  constructor(target: HealthTarget, verdict: Verdict) {
    this.target = target;
    this.verdict = verdict;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }
}

export class HealthChecks {
  readonly #deps: HealthChecksDeps;
  readonly #now: () => number;
  readonly #random: () => number;
  /** By key, then address. */
  #probes = new Map<string, Map<string, Probe>>();
  #closed = false;

  constructor(deps: HealthChecksDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Replaces the checked set. A target with the same key, address and check keeps its state and
   * timer; one whose check changed keeps its verdict (the owner was told of it) and starts
   * checking anew; a removed one stops, and a call it has in flight is dropped.
   */
  set(targets: readonly HealthTarget[]): void {
    if (this.#closed) return;
    // Listed twice, the last one counts.
    const wanted = new Map<string, Map<string, HealthTarget>>();
    for (const target of targets) {
      let byAddress = wanted.get(target.key);
      if (!byAddress) wanted.set(target.key, (byAddress = new Map()));
      byAddress.set(target.address, target);
    }
    const next = new Map<string, Map<string, Probe>>();
    for (const [key, byAddress] of wanted) {
      const probes = new Map<string, Probe>();
      next.set(key, probes);
      for (const [address, target] of byAddress) {
        const current = this.#probes.get(key)?.get(address);
        if (current && sameCheck(current.target, target)) {
          probes.set(address, current);
          continue;
        }
        const probe = new Probe(
          target,
          current?.verdict ?? { healthy: true, passes: 0, failures: 0 },
        );
        this.#schedule(probe, this.#random() * target.settings.intervalMs);
        probes.set(address, probe);
      }
    }
    for (const [key, probes] of this.#probes)
      for (const [address, probe] of probes)
        if (next.get(key)?.get(address) !== probe) probe.stop();
    this.#probes = next;
  }

  /** `undefined`: not checked (no check configured for it, or none finished yet). */
  healthOf(key: string, address: string): boolean | undefined {
    const verdict = this.#probes.get(key)?.get(address)?.verdict;
    return verdict?.lastCheckAt === undefined ? undefined : verdict.healthy;
  }

  /** The verdict and its last check, for /readyz; `undefined` as for `healthOf`. */
  describe(key: string, address: string): HealthReport | undefined {
    const verdict = this.#probes.get(key)?.get(address)?.verdict;
    if (verdict?.lastCheckAt === undefined) return undefined;
    const { healthy, lastCheckAt, lastError } = verdict;
    return lastError === undefined
      ? { healthy, lastCheckAt, consecutive: verdict.passes }
      : { healthy, lastCheckAt, lastError, consecutive: verdict.failures };
  }

  /** Stops every check; nothing in flight is reported afterwards. */
  close(): void {
    this.#closed = true;
    for (const byAddress of this.#probes.values())
      for (const probe of byAddress.values()) probe.stop();
    this.#probes.clear();
  }

  #schedule(probe: Probe, delayMs: number): void {
    probe.timer = setTimeout(() => void this.#run(probe), delayMs);
    probe.timer.unref();
  }

  async #run(probe: Probe): Promise<void> {
    const { target } = probe;
    const error =
      target.settings.kind === 'grpc'
        ? await this.#checkGrpc(target)
        : await this.#checkHttp(probe);
    if (probe.stopped) return;
    this.#record(probe, error);
    const { intervalMs } = target.settings;
    this.#schedule(probe, intervalMs * (0.9 + 0.2 * this.#random()));
  }

  /** Counts one result, and tells the owner when it flips the verdict. */
  #record(probe: Probe, error: string | undefined): void {
    const { verdict, target } = probe;
    const { healthyThreshold, unhealthyThreshold } = target.settings;
    verdict.lastCheckAt = this.#now();
    verdict.lastError = error;
    if (error === undefined) {
      verdict.passes++;
      verdict.failures = 0;
    } else {
      verdict.failures++;
      verdict.passes = 0;
    }
    const flips = verdict.healthy
      ? verdict.failures >= unhealthyThreshold
      : verdict.passes >= healthyThreshold;
    if (!flips) return;
    verdict.healthy = !verdict.healthy;
    try {
      this.#deps.onChange(target.key, target.address, verdict.healthy);
    } catch {
      // The owner's listener failing must not end the checks from inside a timer.
    }
  }

  /** GET `path`: undefined when it answers 2xx within the timeout, else why not. */
  async #checkHttp(probe: Probe): Promise<string | undefined> {
    const { target } = probe;
    const { path, timeoutMs } = target.settings;
    const abort = (probe.abort = new AbortController());
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    timer.unref();
    try {
      const { statusCode, body } = await this.#deps.dispatcher.request({
        origin: `${target.scheme ?? 'http'}://${target.address}`,
        path,
        method: 'GET',
        headers: {
          'user-agent': HEALTH_CHECK_USER_AGENT,
          ...(target.host === undefined ? {} : { host: target.host }),
        },
        signal: abort.signal,
      });
      // Read (up to a bound) so the connection can serve the next check.
      await body.dump({ limit: BODY_LIMIT });
      return statusCode >= 200 && statusCode < 300 ? undefined : `HTTP ${statusCode}`;
    } catch (error) {
      return abort.signal.aborted ? `timed out after ${timeoutMs} ms` : messageOf(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** grpc.health.v1 Check: undefined when SERVING, else the status it answered. */
  async #checkGrpc(target: HealthTarget): Promise<string | undefined> {
    const { service, timeoutMs } = target.settings;
    try {
      const client = this.#deps.channels.get(target.address, target.tls);
      const status = await this.#deps.checkGrpcHealth(client, service, timeoutMs);
      return status === 'SERVING' ? undefined : `grpc.health.v1 ${status}`;
    } catch (error) {
      return messageOf(error);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether two targets of one instance are checked the same way. */
function sameCheck(a: HealthTarget, b: HealthTarget): boolean {
  const sa = a.settings;
  const sb = b.settings;
  return (
    sa.kind === sb.kind &&
    sa.path === sb.path &&
    sa.service === sb.service &&
    sa.intervalMs === sb.intervalMs &&
    sa.timeoutMs === sb.timeoutMs &&
    sa.healthyThreshold === sb.healthyThreshold &&
    sa.unhealthyThreshold === sb.unhealthyThreshold &&
    (a.scheme ?? 'http') === (b.scheme ?? 'http') &&
    a.host === b.host &&
    sameTls(a.tls, b.tls)
  );
}

function sameTls(a: ChannelTls | undefined, b: ChannelTls | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.serverName !== b.serverName) return false;
  const same = (x: Buffer | undefined, y: Buffer | undefined) =>
    x === y || (x !== undefined && y !== undefined && x.equals(y));
  return same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key);
}
