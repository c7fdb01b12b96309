import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds. Policies that wait (breakers) take one, so tests can move time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };
