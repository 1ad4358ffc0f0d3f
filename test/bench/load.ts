// One load-generator run: autocannon (keep-alive HTTP/1.1 clients in this process, which serves nothing)
// against one URL for a fixed time. Latencies are taken from every response at sub-millisecond precision
// (autocannon's own histogram keeps whole milliseconds), and every answer is checked: the expected status,
// and for MCP calls a JSON-RPC result that is not a tool error.
import autocannon from "autocannon";

export interface Target {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  /** A fresh body per request (e.g. distinct `ids`), or the same one every time. */
  body?: string | (() => string);
  /** The status every answer must have. */
  status: number;
  /** The answer must be a JSON-RPC result (not an error), and not a tool result with `isError`. */
  rpcResult: boolean;
}

export interface Round {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not what `Target` expects, plus socket errors and timeouts. */
  errors: number;
  statuses: Record<string, number>;
  /** The first few unexpected answers, as `status body…`. */
  samples: string[];
}

const SAMPLES = 3;

export async function load(target: Target, connections: number, durationMs: number): Promise<Round> {
  const latencies: number[] = [];
  let bad = 0;
  const samples: string[] = [];
  const { body } = target;
  const options: autocannon.Options = {
    url: target.url,
    connections,
    duration: durationMs / 1000,
    // How often autocannon looks at its clock: a 1 s sample would let a run overshoot its time by up to 1 s.
    sampleInt: 100,
    method: target.method,
    headers: target.headers,
    ...(typeof body === "string" && { body }),
    requests: [
      {
        ...(typeof body === "function" && {
          setupRequest: (req: autocannon.Request) => ({ ...req, body: body() }),
        }),
        onResponse: (status: number, text: string) => {
          const ok =
            status === target.status &&
            (!target.rpcResult || (text.includes('"result"') && !text.includes('"isError":true')));
          if (ok) return;
          bad++;
          if (samples.length < SAMPLES) samples.push(`${status} ${text.slice(0, 400)}`);
        },
      },
    ],
  };
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (error: Error | null, result) =>
      error ? reject(error) : resolve(result),
    );
  });
  instance?.on("response", (_client, _status, _bytes, ms) => void latencies.push(ms));
  const result = await done;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    round2(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? Number.NaN);
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count ?? 0]),
  );
  return {
    requests: latencies.length,
    seconds: result.duration,
    rps: Math.round(latencies.length / result.duration),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    errors: bad + result.errors + result.timeouts,
    statuses,
    samples,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
