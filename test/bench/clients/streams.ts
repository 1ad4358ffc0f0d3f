// Child process: the stream holder of the benchmark's last step (../streams.ts). Sets up BENCH_STREAMS
// 2025-era sessions on the edge's relayed instance, BENCH_STREAMS_CONCURRENCY at a time, each as a
// 2025-06-18 client does it: POST `initialize` (its answer read in full, SSE or JSON), POST
// `notifications/initialized` (202), then the GET stream (200 `text/event-stream`), whose body is held and
// never read to its end (only drained, so that a stream the edge ends is seen). Once every GET is answered
// (the edge opens each with an SSE comment) it waits BENCH_STREAMS_IDLE_MS, reads the edge child's
// VmRSS (BENCH_EDGE_PID) as it is and after a full GC (as before the first session), cancels every reader,
// ends the sessions with DELETE, reads the VmRSS again and prints its result as its ready line. Every
// request is bounded in time (a held stream's until its answer is in), and so are the setup and the close.
import { type Memory, memoryOf } from "../children.ts";
import { ready } from "../common.ts";
import type { StreamsResult } from "../streams.ts";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env("BENCH_STREAMS_URL");
const edgePid = Number(env("BENCH_EDGE_PID"));
const count = Number(env("BENCH_STREAMS"));
const concurrency = Number(env("BENCH_STREAMS_CONCURRENCY"));
const idleMs = Number(env("BENCH_STREAMS_IDLE_MS"));
if (Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256) < count + concurrency) {
  throw new Error("BUN_CONFIG_MAX_HTTP_REQUESTS is below the streams held plus those being set up");
}

const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Bun.serve completes a streamed response's head only with its first body bytes; the edge writes an SSE
 * comment as soon as a GET stream is subscribed (apps/edge/src/mcp/sessions.ts), so the answer comes at once.
 * The bound is generous for a loaded host.
 */
const GET_TIMEOUT_MS = 10_000;
/** No session is started after this long; those not tried count as failed. */
const SETUP_DEADLINE_MS = 30_000;
/** Cancelling the readers, and the DELETEs (a session not ended expires in the kv on its own). */
const CLOSE_TIMEOUT_MS = 5000;
const SAMPLES = 3;
const GC_WAIT_MS = 1000;
const VERSION = "2025-06-18";
const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "bench", version: "1" } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });

class StepFailed extends Error {}

interface Held {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The edge ended the stream (or it failed) before it was closed here. */
  ended: boolean;
}

/** `run` with a signal aborted after `ms` unless `run` is done by then. */
async function timed<T>(step: string, ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new StepFailed(`${step}: no answer in ${ms} ms`)), ms);
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

let closing = false;
const held: Held[] = [];
/** The GET streams sent, each settled once its answer is in (or it failed). */
const streams: Promise<void>[] = [];
/** Every session the edge minted, ended with DELETE at the close (whether its GET stream opened or not). */
const sessions: string[] = [];
const samples: string[] = [];
const fail = (reason: string) => {
  if (samples.length < SAMPLES) samples.push(reason.slice(0, 400));
};

/**
 * Sets one session up (initialize, initialized) and sends its GET, whose answer is awaited apart (in
 * `streams`): the edge's answer arrives with the stream's first bytes (its opening comment).
 */
async function openOne(): Promise<void> {
  const sessionId = await timed("initialize", REQUEST_TIMEOUT_MS, async (signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: INITIALIZE,
      signal,
    });
    const text = await res.text();
    const id = res.headers.get("mcp-session-id");
    if (res.status !== 200 || !id || !text.includes('"result"')) {
      throw new StepFailed(`initialize ${res.status} ${text}`);
    }
    sessions.push(id);
    return id;
  });
  const session = { "mcp-session-id": sessionId, "mcp-protocol-version": VERSION };
  await timed("initialized", REQUEST_TIMEOUT_MS, async (signal) => {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...session,
      },
      body: INITIALIZED,
      signal,
    });
    const text = await res.text();
    if (res.status !== 202) throw new StepFailed(`initialized ${res.status} ${text}`);
  });
  streams.push(holdStream(session));
}

/** The GET stream: bounded until its answer is in, then held (its reader kept) until the close. */
async function holdStream(session: Record<string, string>): Promise<void> {
  const res = await timed("GET", GET_TIMEOUT_MS, (signal) =>
    fetch(url, { method: "GET", headers: { accept: "text/event-stream", ...session }, signal }),
  );
  const type = res.headers.get("content-type") ?? "";
  if (res.status !== 200 || !type.includes("text/event-stream") || !res.body) {
    const text = await timed("GET body", REQUEST_TIMEOUT_MS, () => res.text()).catch(() => "");
    throw new StepFailed(`GET ${res.status} ${type} ${text}`);
  }
  const stream: Held = { reader: res.body.getReader(), ended: false };
  held.push(stream);
  // Drained (keep-alive comments, every 15 s), so that a stream the edge ends counts as ended.
  void (async () => {
    for (;;) if ((await stream.reader.read()).done) break;
  })()
    .catch(() => {})
    .finally(() => {
      if (!closing) stream.ended = true;
    });
}

/** Runs `task` for each of `items`, `concurrency` at a time, until `deadline` (performance.now()). */
async function pool<T>(items: T[], task: (item: T) => Promise<void>, deadline = Number.POSITIVE_INFINITY) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && performance.now() < deadline) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * The edge child's memory after a full garbage collection (SIGUSR2, ../servers/edge.ts) and a moment for it:
 * the live memory, not what the throughput scenarios (or the setup's requests) left behind as garbage.
 */
async function settled(): Promise<Memory> {
  process.kill(edgePid, "SIGUSR2");
  await Bun.sleep(GC_WAIT_MS);
  return memoryOf(edgePid);
}

const failed = (error: unknown) =>
  fail(error instanceof StepFailed ? error.message : `${error instanceof Error ? error.message : error}`);
const memoryBefore = await settled();
const started = performance.now();
let tried = 0;
await pool(
  Array.from({ length: count }, (_, i) => i),
  async () => {
    tried++;
    await openOne().catch(failed);
  },
  started + SETUP_DEADLINE_MS,
);
if (tried < count) fail(`${count - tried} session(s) not tried within ${SETUP_DEADLINE_MS} ms`);
await Promise.all(streams.map((s) => s.catch(failed)));
const setupMs = Math.round(performance.now() - started);

await Bun.sleep(idleMs);
const memoryIdle = memoryOf(edgePid);
const memoryAfter = await settled();
const openAtMeasure = held.filter((s) => !s.ended).length;

closing = true;
let closed = 0;
await Promise.all(
  held.map((s) =>
    Promise.race([s.reader.cancel().then(() => closed++), Bun.sleep(CLOSE_TIMEOUT_MS)]).catch(() => {}),
  ),
);
let deleted = 0;
await pool(
  sessions,
  async (sessionId) => {
    const status = await timed("DELETE", REQUEST_TIMEOUT_MS, (signal) =>
      fetch(url, {
        method: "DELETE",
        headers: { "mcp-session-id": sessionId, "mcp-protocol-version": VERSION },
        signal,
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      }),
    ).catch(() => 0);
    if (status === 200) deleted++;
  },
  performance.now() + CLOSE_TIMEOUT_MS,
);

const result: StreamsResult = {
  asked: count,
  concurrency,
  opened: held.length,
  openAtMeasure,
  failed: count - held.length,
  samples,
  setupMs,
  idleMs,
  memoryBefore,
  memoryIdle,
  memoryAfter,
  memoryAfterClose: await settled(),
  deltaMb: Math.round((memoryAfter.rssMb - memoryBefore.rssMb) * 10) / 10,
  closed,
  deleted,
};
ready({ ...result });
