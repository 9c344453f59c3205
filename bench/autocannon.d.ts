// The part of autocannon's API that bench/http-load.ts uses (the package ships no types).
declare module "autocannon" {
  type Options = {
    /** Several URLs: the connections are spread over them (round-robin). */
    url: string | readonly string[];
    connections: number;
    duration: number;
    requests: readonly Record<string, unknown>[];
  };
  type Result = {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    /** Seconds the run actually lasted. */
    duration: number;
  };
  export default function autocannon(opts: Options): Promise<Result>;
}
