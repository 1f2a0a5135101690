// The few parts of autocannon's programmatic API the benchmarks use (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number; mean: number; stddev: number; min: number; max: number; total: number; p50: number; p90: number; p99: number; p99_9: number }
  export interface Result {
    duration: number; errors: number; timeouts: number; non2xx: number; '2xx': number;
    latency: Histogram & { totalCount: number }; requests: Histogram & { sent: number }; throughput: Histogram;
  }
  export interface Options {
    url: string; connections?: number; duration?: number; headers?: Record<string, string>;
    pipelining?: number; workers?: number; timeout?: number; overallRate?: number;
  }
  /** A run in progress (the callback form): stop() ends it early and the callback gets the result so far. */
  export interface Instance { stop(): void }
  function autocannon(opts: Options): Promise<Result>;
  function autocannon(opts: Options, done: (err: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
