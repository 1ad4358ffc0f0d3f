// A fake upstream HTTP API on 127.0.0.1 for service tests: the routes are the service's own (each fake
// follows its API's documented requests and responses); this records every request and can be told to
// answer the next one differently (a failure, an HTML page, a 429 with Retry-After, a huge body).

export interface RecordedUpstreamRequest {
  method: string;
  path: string;
  /** Every query parameter (the last value of a repeated one). */
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The body as sent. */
  text: string;
  /** The body as JSON or form data (parsed by content type), else the text; undefined when empty. */
  body: unknown;
}

export type FakeRoute = (req: RecordedUpstreamRequest, url: URL) => Response | Promise<Response>;

export interface FakeUpstream {
  url: string;
  requests: RecordedUpstreamRequest[];
  /** Answer the next request (still recorded) with this instead of the route's answer. */
  answerNext(response: () => Response): void;
  /** Stop listening; `up()` listens on the same port again. */
  down(): void;
  up(): void;
  stop(): void;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  Response.json(body, { status, headers });

function parseBody(text: string, contentType: string | null): unknown {
  if (text === "") return undefined;
  if (contentType?.startsWith("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Starts a fake upstream answering with `route` (the request already recorded). */
export async function startFakeUpstream(route: FakeRoute): Promise<FakeUpstream> {
  const requests: RecordedUpstreamRequest[] = [];
  const overrides: (() => Response)[] = [];
  async function fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const text = await req.text();
    const recorded: RecordedUpstreamRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(req.headers),
      text,
      body: parseBody(text, req.headers.get("content-type")),
    };
    requests.push(recorded);
    const override = overrides.shift();
    if (override) return override();
    return route(recorded, url);
  }
  let server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  const port = server.port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answerNext: (response) => overrides.push(response),
    down: () => server.stop(true),
    up: () => {
      server = Bun.serve({ hostname: "127.0.0.1", port, fetch });
    },
    stop: () => server.stop(true),
  };
}

/** A streamed JSON body of about `bytes` bytes (never held whole in memory), for size-limit tests. */
export function hugeJson(bytes: number): Response {
  const chunk = new TextEncoder().encode(`{"filler":"${"x".repeat(65_000)}"},`);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode("["));
      if (sent >= bytes) {
        controller.enqueue(new TextEncoder().encode("null]"));
        controller.close();
        return;
      }
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
  return new Response(stream, { headers: { "content-type": "application/json" } });
}
