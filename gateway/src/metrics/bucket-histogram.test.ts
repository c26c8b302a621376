import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.ts';

const BUCKETS = [0.00001, 0.000025, 0.0001, 0.001, 0.25, 1];
/** Below, at and between bounds, above every bound, zero and negative. */
const VALUES = [0, -1, 0.00001, 0.000011, 0.0000249, 0.000025, 0.5, 1, 1.0000001, 7, 0.001, 0.0009];

function pair(labelNames: string[]): { ours: Registry; theirs: Registry; bucket: BucketHistogram<string>; reference: Histogram<string> } {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: 'x_seconds', help: 'Time to do x.', buckets: BUCKETS, labelNames };
  return {
    ours,
    theirs,
    bucket: new BucketHistogram<string>({ ...config, registers: [ours] }),
    reference: new Histogram<string>({ ...config, registers: [theirs] }),
  };
}

describe('BucketHistogram', () => {
  it('is scraped as the same text and JSON as a prom-client Histogram given the same observations, without labels', async () => {
    const { ours, theirs, bucket, reference } = pair([]);
    const series = bucket.labels({});
    for (const v of VALUES) {
      series.observe(v);
      reference.observe(v);
    }
    bucket.observe(0.3);
    reference.observe(0.3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('keeps one series per label values, in the order first used, as prom-client does', async () => {
    const { ours, theirs, bucket, reference } = pair(['engine']);
    const rego = bucket.labels({ engine: 'rego' });
    const cedar = bucket.labels({ engine: 'cedar' });
    VALUES.forEach((v, i) => {
      (i % 3 === 0 ? cedar : rego).observe(v);
      reference.labels({ engine: i % 3 === 0 ? 'cedar' : 'rego' }).observe(v);
    });
    // A series asked for again is the same one.
    bucket.labels({ engine: 'cedar' }).observe(0.002);
    reference.labels({ engine: 'cedar' }).observe(0.002);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('x_seconds_bucket{le="+Inf",engine="cedar"} 5');
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('exports nothing before the first observation or series, and nothing after a reset', async () => {
    const { ours, theirs, bucket, reference } = pair(['engine']);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    bucket.labels({ engine: 'rego' }).observe(0.1);
    bucket.reset();
    reference.labels({ engine: 'rego' }).observe(0.1);
    reference.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses what prom-client refuses: a value that is not finite, a missing or unknown label, le as a label', () => {
    const { bucket } = pair(['engine']);
    const series = bucket.labels({ engine: 'rego' });
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
    expect(() => series.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => bucket.labels({})).toThrow(/label engine is missing/);
    expect(() => bucket.labels({ engine: 'rego', other: 'x' })).toThrow(/unknown label/);
    expect(() => new BucketHistogram({ name: 'y', help: 'y', buckets: [1], labelNames: ['le'], registers: [] })).toThrow(/reserved/);
    expect(() => new BucketHistogram({ name: 'z', help: 'z', buckets: [1, 1], registers: [] })).toThrow(/ascending/);
  });
});
