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
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
