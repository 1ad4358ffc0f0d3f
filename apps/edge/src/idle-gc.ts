/** When a quiet window collects: collections this far apart at least, the heap this far above its low. */
export interface IdleGcThresholds {
  minGapMs?: number;
  minGrowthBytes?: number;
}

/**
 * A full garbage collection once the edge has gone a whole window with no MCP request in flight or arriving,
 * after serving some that grew its heap. What a burst of requests leaves behind (their requests and answers,
 * the SDK servers of relayed and 2025-era calls, body buffers) is otherwise collected only when later
 * allocation calls for it, which an idle process (between bursts, or holding idle SSE streams) does not
 * reach: its resident set stays at the burst's high-water mark. Measured (2026-12-02, `bun run bench`'s
 * idle-streams step): an edge holding 1,000 idle 2025-era GET streams read 209 MB three seconds after the
 * last one opened, and 178 MB after a full collection.
 *
 * What counts is MCP requests (not health checks or metrics scrapes): arrivals, and requests still being
 * answered (a held SSE stream's request is answered once its stream is open). The heap must have grown by
 * `minGrowthBytes` over its low since the last collection (a few calls leave little to collect), and
 * collections are `minGapMs` apart at least. A full collection holds the event loop (50–150 ms for an edge
 * after a burst of calls, up to 400 ms, measured there), so a request arriving during it waits: the price of
 * an idle process giving its memory back (IDLE_GC_MS=0 turns it off).
 */
export class IdleCollector {
  private arrived = 0;
  private arrivedAtTick = 0;
  private arrivedAtCollect = 0;
  private inFlight = 0;
  /** The smallest heap seen at a window's end since the last collection: what growth is measured from. */
  private heapLow: number;
  private collectedAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Collections made so far. */
  collections = 0;

  constructor(
    private readonly options: IdleGcThresholds & {
      collect?: () => void;
      /** The JavaScript heap's size in bytes, garbage included. */
      heapBytes?: () => number;
    } = {},
  ) {
    this.heapLow = this.heapBytes();
  }

  private heapBytes(): number {
    return (this.options.heapBytes ?? (() => process.memoryUsage().heapUsed))();
  }

  /** An MCP request arrives; `done()` once it is answered. */
  request(): void {
    this.arrived++;
    this.inFlight++;
  }

  done(): void {
    this.inFlight--;
  }

  /**
   * One window's end (`now` in ms, performance.now()'s clock): collects when requests arrived since the last
   * collection but none during the window and none is in flight, the heap is `minGrowthBytes` above the
   * smallest it was at a window's end since the last collection, and that collection is `minGapMs` old.
   * Returns whether it collected.
   */
  tick(now = performance.now()): boolean {
    const heap = this.heapBytes();
    this.heapLow = Math.min(this.heapLow, heap);
    const quiet = this.arrived === this.arrivedAtTick && this.inFlight === 0;
    this.arrivedAtTick = this.arrived;
    if (!quiet || this.arrived === this.arrivedAtCollect) return false;
    if (now - this.collectedAt < (this.options.minGapMs ?? 10_000)) return false;
    if (heap - this.heapLow < (this.options.minGrowthBytes ?? 8 * 1024 * 1024)) return false;
    this.collectedAt = now;
    this.arrivedAtCollect = this.arrived;
    this.collections++;
    (this.options.collect ?? (() => Bun.gc(true)))();
    this.heapLow = this.heapBytes();
    return true;
  }

  /** Ticks every `windowMs` (0: never) without keeping the process alive. */
  start(windowMs: number): void {
    if (windowMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), windowMs);
    this.timer.unref();
  }

  /** Whether its timer is running. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
