import type { Clock } from '../../kernel/clock.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { BackendTarget } from '../../kernel/outbound.ts';
import type { Interceptor } from './chain.ts';

/**
 * Circuit breakers, one per backend endpoint (a backend name and address). After
 * `failure_threshold` consecutive failed calls the circuit opens: calls fail at once with
 * UPSTREAM_CIRCUIT_OPEN instead of waiting on a backend that is down, and the backend gets room
 * to recover. After `open_for` one trial call goes through (half-open): its success closes the
 * circuit, its failure opens it again. The pattern of Envoy's consecutive-5xx outlier detection
 * and Hystrix, without the percentages: a gateway instance sees too few calls per backend for a
 * ratio to be stable. Per instance, by design: every instance learns the backend's health itself.
 *
 * What counts as a failure is the transport's judgement (`exchange.backendFailed`, see
 * transport.ts): unreachable, too slow on its own bound, a 5xx or its gRPC equivalents, garbage.
 * A client error is an answer, and a deadline the gateway cut is not the backend's doing.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSettings {
  failureThreshold: number;
  openForMs: number;
}

/** A call refused without being made: its backend's circuit is open. */
export class CircuitOpenError extends GatewayError {
  constructor(backend: string, retryInMs: number) {
    super(
      ErrorCode.UPSTREAM_CIRCUIT_OPEN,
      `"${backend}" is failing; calls to it are paused for ${Math.ceil(retryInMs / 1000)} s.`,
      { subgraph: backend },
    );
  }
}

class Breaker {
  state: BreakerState = 'closed';
  failures = 0;
  openedAt = 0;
  /** When the half-open trial call started; another is let through if it never settles. */
  trialAt = -1;
}

export class Breakers {
  readonly #settings: BreakerSettings;
  readonly #clock: Clock;
  readonly #onChange: (backend: string, endpoint: string, state: BreakerState) => void;
  readonly #breakers = new Map<string, Breaker>();

  constructor(
    settings: BreakerSettings,
    clock: Clock,
    onChange: (backend: string, endpoint: string, state: BreakerState) => void = () => {},
  ) {
    this.#settings = settings;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  /** The state of one endpoint's circuit (closed when it has never failed). */
  stateOf(backend: string, address = ''): BreakerState {
    return this.#breakers.get(`${backend}@${address}`)?.state ?? 'closed';
  }

  /**
   * Whether a call to this endpoint would be refused now (open and not yet due for a trial, or
   * half-open with its trial in flight): a balancer passes over it while another will do.
   */
  refuses(backend: string, address = ''): boolean {
    const breaker = this.#breakers.get(`${backend}@${address}`);
    if (!breaker || breaker.state === 'closed') return false;
    const now = this.#clock.now();
    if (breaker.state === 'open') return now - breaker.openedAt < this.#settings.openForMs;
    return breaker.trialAt >= 0 && now - breaker.trialAt < this.#settings.openForMs;
  }

  /** The chain's breaker interceptor: admit, call, learn. */
  readonly intercept: Interceptor = (next) => async (exchange) => {
    this.admit(exchange.target);
    try {
      const value = await next(exchange);
      this.settle(exchange.target, exchange.backendFailed);
      return value;
    } catch (error) {
      this.settle(exchange.target, exchange.backendFailed);
      throw error;
    }
  };

  /** Throws CircuitOpenError when a call to this endpoint must not be made now. */
  admit(call: BackendTarget): void {
    const breaker = this.#breakers.get(keyOf(call));
    if (!breaker || breaker.state === 'closed') return;
    const now = this.#clock.now();
    const { openForMs } = this.#settings;
    if (breaker.state === 'open') {
      const waited = now - breaker.openedAt;
      if (waited < openForMs) throw new CircuitOpenError(call.backend, openForMs - waited);
      this.#move(breaker, call, 'half_open');
      breaker.trialAt = now;
      return;
    }
    // Half-open: one trial at a time; the others fail fast until it settles.
    if (breaker.trialAt >= 0 && now - breaker.trialAt < openForMs)
      throw new CircuitOpenError(call.backend, openForMs);
    breaker.trialAt = now;
  }

  /** Learns how a call ended: `failed` when the backend failed it (not when it said no). */
  settle(call: BackendTarget, failed: boolean): void {
    const key = keyOf(call);
    let breaker = this.#breakers.get(key);
    if (!breaker) {
      // Healthy endpoints cost no state until they first fail.
      if (!failed) return;
      breaker = new Breaker();
      this.#breakers.set(key, breaker);
    }
    if (!failed) {
      breaker.failures = 0;
      breaker.trialAt = -1;
      if (breaker.state !== 'closed') this.#move(breaker, call, 'closed');
      return;
    }
    breaker.failures++;
    if (
      breaker.state === 'half_open' ||
      (breaker.state === 'closed' && breaker.failures >= this.#settings.failureThreshold)
    ) {
      breaker.openedAt = this.#clock.now();
      breaker.trialAt = -1;
      this.#move(breaker, call, 'open');
    }
  }

  #move(breaker: Breaker, call: BackendTarget, state: BreakerState): void {
    breaker.state = state;
    this.#onChange(call.backend, call.address, state);
  }
}

const keyOf = (call: BackendTarget) => `${call.backend}@${call.address}`;
