import { setFlagsFromString } from 'node:v8';

/**
 * Applies `server.heap_growth_percent` (config/schema.ts says why): V8 reads the flag each time
 * it sets the old generation's next limit, so setting it at start, before load, governs every
 * limit after. 0 leaves V8's heuristics.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
