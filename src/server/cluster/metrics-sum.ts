/**
 * The admin listener's `/metrics` over several workers: one Prometheus text exposition made of
 * every worker's. A scrape of a port the workers share would land on one of them at random, so
 * the primary asks each and merges. Counters and histograms add up (requests answered by any
 * worker); gauges add up too (requests in flight, bytes cached, resident memory), except the
 * ones where a sum means nothing, merged as the table below says. A series one worker lacks is
 * the others' alone.
 */

type Merge = 'sum' | 'min' | 'max';

/**
 * Gauges that are not amounts. `_up` is 1 only when every worker reaches its store; an
 * instance state is 1 when any worker sees the instance in it; the start time is the oldest
 * worker's; Node's version is the same everywhere; event-loop lag is the slowest worker's
 * (prom-client's own cluster aggregator averages it, which hides the one worker that lags).
 */
const MERGES: readonly [RegExp, Merge][] = [
  [/^gateway_.*_up$/, 'min'],
  [/^gateway_backend_instance_state$/, 'max'],
  [/^process_start_time_seconds$/, 'min'],
  [/^nodejs_version_info$/, 'max'],
  [/^nodejs_eventloop_lag_min_seconds$/, 'min'],
  [/^nodejs_eventloop_lag_/, 'max'],
];

interface Family {
  help?: string;
  type?: string;
  /** Sample name with its labels as written, to value; insertion order is the output order. */
  samples: Map<string, number>;
}

/** Merges expositions in the Prometheus text format (as prom-client writes them: no timestamps). */
export function sumExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  // A sample belongs to the family whose TYPE line came last (a histogram's _bucket, _sum, _count).
  for (const text of texts) {
    let current: Family | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, string, string, string];
        current = familyOf(families, name);
        if (kind === 'HELP') current.help ??= rest;
        else current.type ??= rest;
        continue;
      }
      if (line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      const series = line.slice(0, at);
      const value = Number(line.slice(at + 1));
      const family = current ?? familyOf(families, series.replace(/\{.*$/, ''));
      const merge = family.type === 'gauge' ? mergeOf(series.replace(/\{.*$/, '')) : 'sum';
      const before = family.samples.get(series);
      family.samples.set(series, before === undefined ? value : merged(merge, before, value));
    }
  }
  const out: string[] = [];
  for (const [name, family] of families) {
    if (family.help !== undefined) out.push(`# HELP ${name} ${family.help}`);
    if (family.type !== undefined) out.push(`# TYPE ${name} ${family.type}`);
    for (const [series, value] of family.samples) out.push(`${series} ${format(value)}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function familyOf(families: Map<string, Family>, name: string): Family {
  let family = families.get(name);
  if (!family) families.set(name, (family = { samples: new Map() }));
  return family;
}

function mergeOf(name: string): Merge {
  return MERGES.find(([pattern]) => pattern.test(name))?.[1] ?? 'sum';
}

function merged(merge: Merge, a: number, b: number): number {
  if (merge === 'min') return Math.min(a, b);
  if (merge === 'max') return Math.max(a, b);
  return a + b;
}

/** As Prometheus writes them: +Inf, -Inf and NaN by name. */
function format(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
