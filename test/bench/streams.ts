// The benchmark's last step: BENCH_STREAMS (1000) idle 2025-era GET streams held open on the edge, and the
// edge child's resident set around them (the issue's "1,000 concurrent idle 2025-era GET streams held in
// under 200 MB"). The streams are held by a process of its own (clients/streams.ts): Bun's fetch runs at
// most 256 requests at once per process unless BUN_CONFIG_MAX_HTTP_REQUESTS, read at start-up, says more,
// and a held stream is a request in flight.
import { resolve } from "node:path";
import { type Memory, startChild } from "./children.ts";

/** Streams to hold (0 skips the step). */
export const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);
/** Sessions set up at once (initialize, initialized, GET). */
export const STREAMS_CONCURRENCY = 50;
/** How long the streams sit idle before the edge's resident set is read. */
export const STREAMS_IDLE_MS = 3000;
/** The target for the process holding them. */
export const STREAMS_TARGET_MB = 200;

export interface StreamsResult {
  /** Which process held them: the edge alone (shared backends) or the stack child (embedded). */
  holder?: string;
  /** Sessions asked for (BENCH_STREAMS), all on the edge's relayed (custom) instance. */
  asked: number;
  concurrency: number;
  /** GET streams that answered 200 `text/event-stream` and were held. */
  opened: number;
  /** Of those, still open when the resident set was read after the idle wait. */
  openAtMeasure: number;
  /** Sessions that could not be set up (any step), or were not tried before the setup deadline. */
  failed: number;
  /** The first few failures, as `step status body…` or the error. */
  samples: string[];
  /** From the first initialize to the last GET's answer. */
  setupMs: number;
  idleMs: number;
  /**
   * The edge child's memory, each after a full GC (the live memory, not the garbage the throughput
   * scenarios or the setup's requests left): before the first session, with every stream open and idle,
   * after closing them.
   */
  memoryBefore: Memory;
  memoryAfter: Memory;
  memoryAfterClose: Memory;
  /** With every stream open and idle, as it was before that GC. */
  memoryIdle: Memory;
  /** After − before, MB. */
  deltaMb: number;
  /** Readers cancelled, and sessions ended with DELETE (200), when done. */
  closed: number;
  deleted: number;
}

/**
 * Opens the streams on `relayUrl` (2025-era sessions exist only for relayed instances), reads the memory of
 * `edgePid` around them and closes them again; the holder then waits to be stopped with the other children.
 */
export async function measureStreams(edgePid: number, relayUrl: string): Promise<StreamsResult> {
  const holder = await startChild<StreamsResult & { pid?: number }>(
    "streams",
    {
      BENCH_EDGE_PID: String(edgePid),
      BENCH_STREAMS_URL: relayUrl,
      BENCH_STREAMS: String(STREAMS),
      BENCH_STREAMS_CONCURRENCY: String(STREAMS_CONCURRENCY),
      BENCH_STREAMS_IDLE_MS: String(STREAMS_IDLE_MS),
      // Every held stream is a request in flight, plus the sessions being set up.
      BUN_CONFIG_MAX_HTTP_REQUESTS: String(STREAMS + STREAMS_CONCURRENCY * 2 + 64),
    },
    resolve(import.meta.dir, "clients", "streams.ts"),
  );
  const { pid: _, ...result } = holder.info;
  return result;
}
