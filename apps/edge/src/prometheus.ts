/**
 * The little of a Prometheus client the edge needs: counters, gauges and histograms with labels, read by a
 * registry in the text exposition format (0.0.4). prom-client did this before: importing it loads its push
 * gateway's HTTP client, cluster aggregation and default process metrics, none used here (17 MB of resident
 * memory in a bare process, 3 MB of an edge's), and each `inc` / `observe` on the hot path hashed its labels by
 * sorting their keys. Here a series is found by its label values in the metric's label order.
 */

type Values<N extends string> = Partial<Record<N, string | number>>;

interface Series<N extends string> {
  labels: Values<N>;
  value: number;
}

/** A metric as the registry reads it: its exposition lines, after its `collect` hook ran. */
interface Exposed {
  expose(): string;
}

interface MetricOptions<N extends string, M = never> {
  name: string;
  help: string;
  labelNames?: readonly N[];
  registers?: Registry[];
  /** Called before each read, to set the metric from elsewhere (`this` is the metric). */
  collect?: (this: M) => void;
}

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`, else the number). */
function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** `{a="1",b="2"}` for the label values given (`extra` first, then the metric's label order), or "". */
function labelText(
  names: readonly string[],
  values: Record<string, string | number | undefined>,
  extra = "",
) {
  const parts: string[] = extra ? [extra] : [];
  for (const name of names) {
    const value = values[name];
    if (value !== undefined) parts.push(`${name}="${escapeLabel(String(value))}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export class Registry {
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  private readonly entries: Exposed[] = [];

  register(metric: Exposed): void {
    this.entries.push(metric);
  }

  /** Every metric in the text format, each preceded by its HELP and TYPE lines. */
  async metrics(): Promise<string> {
    return `${this.entries.map((metric) => metric.expose()).join("\n\n")}\n`;
  }
}

abstract class Metric<N extends string> implements Exposed {
  protected readonly name: string;
  private readonly help: string;
  protected readonly labelNames: readonly N[];
  private readonly collectHook?: (this: unknown) => void;
  protected abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(opts: MetricOptions<N>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.collectHook = opts.collect as ((this: unknown) => void) | undefined;
    for (const registry of opts.registers ?? []) registry.register(this);
  }

  /** The series' key: its label values in label order (a label left out is the empty string). */
  protected key(labels: Values<N> | undefined): string {
    if (!labels || this.labelNames.length === 0) return "";
    if (this.labelNames.length === 1) return String(labels[this.labelNames[0] as N] ?? "");
    let key = "";
    for (const name of this.labelNames) key += `${labels[name] ?? ""}\u0000`;
    return key;
  }

  protected abstract samples(): string[];

  expose(): string {
    this.collectHook?.call(this);
    const head = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}`;
    const lines = this.samples();
    return lines.length === 0 ? head : `${head}\n${lines.join("\n")}`;
  }
}

/** A value per label set, set or added to; one without labels starts at 0. */
abstract class Scalar<N extends string> extends Metric<N> {
  private series = new Map<string, Series<N>>();

  constructor(opts: MetricOptions<N>) {
    super(opts);
    this.reset();
  }

  /** Forgets every series (one without labels goes back to 0). */
  reset(): void {
    this.series = new Map();
    if (this.labelNames.length === 0) this.series.set("", { labels: {}, value: 0 });
  }

  protected add(labels: Values<N> | undefined, value: number, replace: boolean): void {
    const key = this.key(labels);
    const series = this.series.get(key);
    if (series) series.value = replace ? value : series.value + value;
    else this.series.set(key, { labels: { ...labels }, value });
  }

  protected samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      lines.push(`${this.name}${labelText(this.labelNames, labels)} ${formatValue(value)}`);
    }
    return lines;
  }
}

export class Counter<N extends string = string> extends Scalar<N> {
  protected readonly type = "counter";

  /** Typed so that `this` in the options' collect hook is this metric. */
  constructor(opts: MetricOptions<N, Counter<N>>) {
    super(opts);
  }

  /** Adds `value` (default 1, never negative) to the series of `labels`. */
  inc(labels?: Values<N> | number, value = 1): void {
    if (typeof labels === "number") {
      this.inc(undefined, labels);
      return;
    }
    if (!(value >= 0)) throw new RangeError(`a counter only goes up (${this.name}: ${value})`);
    this.add(labels, value, false);
  }
}

export class Gauge<N extends string = string> extends Scalar<N> {
  protected readonly type = "gauge";

  /** Typed so that `this` in the options' collect hook is this metric. */
  constructor(opts: MetricOptions<N, Gauge<N>>) {
    super(opts);
  }

  /** Sets the series of `labels` (or the one series) to `value`. */
  set(labels: Values<N> | number, value?: number): void {
    if (typeof labels === "number") this.add(undefined, labels, true);
    else this.add(labels, value ?? 0, true);
  }
}

interface HistogramSeries<N extends string> {
  labels: Values<N>;
  /** Observations per bucket (not cumulative: summed when read), the last one for `+Inf`. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<N extends string = string> extends Metric<N> {
  protected readonly type = "histogram";
  private readonly buckets: number[];
  private readonly bounds: string[];
  private readonly series = new Map<string, HistogramSeries<N>>();

  constructor(opts: MetricOptions<N, Histogram<N>> & { buckets: readonly number[] }) {
    super(opts);
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
    this.bounds = [...this.buckets.map(formatValue), "+Inf"];
  }

  /**
   * Records `value` in the series of `labels`. NaN is refused, as a counter refuses it: recorded, it would make
   * the series' sum NaN for good.
   */
  observe(labels: Values<N> | number, value?: number): void {
    if (typeof labels === "number") {
      this.observe({}, labels);
      return;
    }
    const observed = value ?? 0;
    if (Number.isNaN(observed)) throw new RangeError(`${this.name}: cannot observe NaN`);
    const key = this.key(labels);
    let series = this.series.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: new Array(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    let i = 0;
    while (i < this.buckets.length && observed > (this.buckets[i] as number)) i++;
    series.counts[i] = (series.counts[i] as number) + 1;
    series.sum += observed;
    series.count++;
  }

  protected samples(): string[] {
    const lines: string[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      counts.forEach((n, i) => {
        cumulative += n;
        lines.push(
          `${this.name}_bucket${labelText(this.labelNames, labels, `le="${this.bounds[i]}"`)} ${cumulative}`,
        );
      });
      const own = labelText(this.labelNames, labels);
      lines.push(`${this.name}_sum${own} ${formatValue(sum)}`, `${this.name}_count${own} ${count}`);
    }
    return lines;
  }
}
