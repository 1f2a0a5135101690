// Latency histograms with log-scale buckets: 8 per doubling of milliseconds, so any percentile read from
// one is within about 4.5 % of the true value, and histograms of any buckets or rollups merge by addition.
// Stored sparse (only non-empty buckets) as JSON: {"index": count}.

const PER_DOUBLING = 8;
const MAX_INDEX = 20 * PER_DOUBLING; // 2^20 ms ≈ 17 minutes; slower requests land in the last bucket

export type Histogram = Map<number, number>;

/** Bucket i holds (upper(i-1), upper(i)] ms; bucket 0 holds everything up to 1 ms. */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(MAX_INDEX, Math.ceil(Math.log2(ms) * PER_DOUBLING));
}

export function upperBoundMs(index: number): number {
  return 2 ** (index / PER_DOUBLING);
}

export function record(h: Histogram, ms: number, count = 1): void {
  const i = bucketOf(ms);
  h.set(i, (h.get(i) ?? 0) + count);
}

export function merge(into: Histogram, from: Histogram): void {
  for (const [i, n] of from) into.set(i, (into.get(i) ?? 0) + n);
}

export function total(h: Histogram): number {
  let n = 0;
  for (const count of h.values()) n += count;
  return n;
}

/** The q-quantile (0..1) in ms: the geometric middle of the bucket holding it; null when empty. */
export function percentile(h: Histogram, q: number): number | null {
  const n = total(h);
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (const i of [...h.keys()].sort((a, b) => a - b)) {
    seen += h.get(i)!;
    if (seen >= rank) return i === 0 ? 1 : Math.sqrt(upperBoundMs(i - 1) * upperBoundMs(i));
  }
  return null;
}

export function encode(h: Histogram): string {
  return JSON.stringify(Object.fromEntries(h));
}

export function decode(text: string): Histogram {
  const h: Histogram = new Map();
  for (const [i, n] of Object.entries(JSON.parse(text) as Record<string, number>)) h.set(Number(i), n);
  return h;
}
