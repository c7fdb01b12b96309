/**
 * A latency histogram and its `_total` counter, for series observed on every request and every
 * backend call. prom-client validates, converts and hashes the label set on each observation,
 * bound child or not (about a microsecond, ten times a request); here a label set is bound to
 * its series once and an observation adds to three numbers. Written out in the Prometheus text
 * format at scrape time, after prom-client's own metrics.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export interface LatencyFamilySpec {
  /** The counter, `<name>_total`, counting what the histogram times. */
  counter: { name: string; help: string };
  /** The histogram, in seconds. */
  histogram: { name: string; help: string };
  labelNames: readonly string[];
  /** Upper bounds in seconds, ascending; `+Inf` is implied. */
  buckets: readonly number[];
}

class Series {
  count = 0;
  sum = 0;
  /** Non-cumulative counts per bucket; the last is `+Inf`. */
  readonly counts: Float64Array;
  /** `a="x",b="y"`, escaped once. */
  readonly labels: string;

  constructor(labels: string, buckets: number) {
    this.labels = labels;
    this.counts = new Float64Array(buckets + 1);
  }
}

const escapeLabel = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export class LatencyFamily {
  readonly #spec: LatencyFamilySpec;
  readonly #bounds: Float64Array;
  readonly #series = new Map<string, Series>();

  constructor(spec: LatencyFamilySpec) {
    this.#spec = spec;
    this.#bounds = Float64Array.from(spec.buckets);
  }

  /** One observation of `seconds` for the label `values`, in `labelNames` order. */
  observe(values: readonly string[], seconds: number): void {
    const key = values.join('\u0001');
    let series = this.#series.get(key);
    if (!series) {
      const labels = this.#spec.labelNames
        .map((name, i) => `${name}="${escapeLabel(values[i] ?? '')}"`)
        .join(',');
      series = new Series(labels, this.#bounds.length);
      this.#series.set(key, series);
    }
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++;
    series.counts[bucket]!++;
    series.count++;
    series.sum += seconds;
  }

  /** Both metric families in the text format. */
  render(): string {
    const { counter, histogram } = this.#spec;
    const lines = [
      `# HELP ${counter.name} ${escapeHelp(counter.help)}`,
      `# TYPE ${counter.name} counter`,
    ];
    const braces = (labels: string) => (labels ? `{${labels}}` : '');
    for (const series of this.#series.values())
      lines.push(`${counter.name}${braces(series.labels)} ${series.count}`);
    lines.push(
      `# HELP ${histogram.name} ${escapeHelp(histogram.help)}`,
      `# TYPE ${histogram.name} histogram`,
    );
    const bounds = [...this.#bounds].map(String);
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += series.counts[i] as number;
        const le = bounds[i] ?? '+Inf';
        // `le` first, as prom-client writes it: one scrape, one label order.
        const labels = series.labels ? `le="${le}",${series.labels}` : `le="${le}"`;
        lines.push(`${histogram.name}_bucket{${labels}} ${cumulative}`);
      }
      lines.push(`${histogram.name}_sum${braces(series.labels)} ${series.sum}`);
      lines.push(`${histogram.name}_count${braces(series.labels)} ${series.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
