// A Prometheus histogram for the hot path: an observation is a bucket search and two additions in a
// Float64Array (prom-client's observe validates and hashes its labels and keys its buckets by
// number-to-string property names on every call); the counts are handed to prom-client's registry,
// in the shape its own Histogram exports, only when scraped.

import type { Metric, Registry } from 'prom-client';

/** One exported value, as prom-client's registry reads them: the series' labels apart (sharedLabels) or merged in. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  /** prom-client's buckets carry one (null without exemplars); kept so that the JSON form is the same. */
  exemplar?: null;
}

interface ExportedHistogram {
  name: string;
  help: string;
  type: 'histogram';
  values: ExportedValue[];
  aggregator: 'sum';
}

/** One labelled series of a histogram, to keep and observe into. */
export interface HistogramSeries {
  /** Counts one observation (seconds). A value that is not a finite number throws, as prom-client's does. */
  observe(value: number): void;
}

export interface BucketHistogramConfig<L extends string> {
  name: string;
  help: string;
  /** Upper bounds, ascending (le); +Inf is added. */
  buckets: readonly number[];
  labelNames?: readonly L[];
  registers: readonly Registry[];
}

class Series implements HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound (+Inf only). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** The owner's epoch this series was last exported in: -1 until its first observation, as prom-client's. */
  epoch = -1;

  constructor(
    private readonly owner: BucketHistogram<string>,
    private readonly bounds: Float64Array,
    readonly key: string,
    /** The label values, one object kept for the series (prom-client caches its formatting by identity). */
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`);
    if (this.epoch !== this.owner.epoch) this.owner.adopt(this);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

export class BucketHistogram<L extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: Float64Array;
  private readonly labelNames: readonly L[];
  /** Every series handed out, by its label values joined with NUL in the order of labelNames. */
  private readonly known = new Map<string, Series>();
  /** The series observed since the start or the last reset, in the order of their first observation (exported). */
  private series = new Map<string, Series>();
  /** Counts resets: a series observed again after one starts from zero. */
  epoch = 0;

  constructor(config: BucketHistogramConfig<L>) {
    for (let i = 1; i < config.buckets.length; i++) {
      if (!(config.buckets[i]! > config.buckets[i - 1]!)) throw new Error(`${config.name}: buckets must be ascending`);
    }
    const labelNames = config.labelNames ?? [];
    if (labelNames.includes('le' as L)) throw new Error('le is a reserved label keyword');
    this.name = config.name;
    this.help = config.help;
    this.bounds = Float64Array.from(config.buckets);
    this.labelNames = labelNames;
    // prom-client's Registry takes any object with a name and get(); its type names its own Metric class.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric<string>);
  }

  /** Observes into the series without labels (a histogram declared without labelNames). */
  observe(value: number): void {
    this.labels({} as Record<L, string>).observe(value);
  }

  /** The series of these label values (made on first use): keep it, and observe into it on the hot path. */
  labels(values: Readonly<Record<L, string>>): HistogramSeries {
    let key = '';
    for (const name of this.labelNames) {
      const value = values[name];
      if (typeof value !== 'string') throw new Error(`${this.name}: label ${name} is missing`);
      key += `${value}\u0000`;
    }
    if (Object.keys(values).length !== this.labelNames.length) throw new Error(`${this.name}: unknown label among ${Object.keys(values).join(', ')}`);
    let series = this.known.get(key);
    if (series === undefined) {
      series = new Series(this as BucketHistogram<string>, this.bounds, key, Object.freeze({ ...values }));
      this.known.set(key, series);
    }
    return series;
  }

  /** A series' first observation since the start or the last reset: exported from now on, from zero. */
  adopt(series: Series): void {
    series.counts.fill(0);
    series.sum = 0;
    series.count = 0;
    series.epoch = this.epoch;
    this.series.set(series.key, series);
  }

  /** What prom-client's registry formats when scraped: the same values, in the same order, as its Histogram's. */
  async getForPromString(): Promise<ExportedHistogram> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: cumulative, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The registry's JSON form: each value's labels with the series' labels merged in. */
  async get(): Promise<ExportedHistogram> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...rest }) => ({ ...rest, labels: { ...rest.labels, ...sharedLabels } }));
    return data;
  }

  /** Forgets every observation (Registry.resetMetrics); a series observed again starts from zero. */
  reset(): void {
    this.series = new Map();
    this.epoch++;
  }
}
