/**
 * A full garbage collection once the edge has gone a whole window without a request after serving some.
 * What a burst of requests leaves behind (their requests and answers, the SDK servers of relayed and
 * 2025-era calls, body buffers) is otherwise collected only when later allocation calls for it, which an
 * idle process (between bursts, or holding idle SSE streams) does not reach: its resident set stays at the
 * burst's high-water mark. Measured (2026-12-02, `bun run bench`'s idle-streams step): an edge holding
 * 1,000 idle 2025-era GET streams read 209 MB three seconds after the last one opened, and 178 MB after a
 * full collection. Under load there is no such window, so nothing is collected here then; under a trickle of
 * requests (each followed by a quiet window) collections are at least `minGapMs` apart. A full collection
 * holds the event loop (50–150 ms for an edge after a burst of calls, up to 400 ms, measured there), so a
 * request arriving during it waits: the price of an idle process giving its memory back (IDLE_GC_MS=0 turns
 * it off).
 */
export class IdleCollector {
  private served = 0;
  private seenAtTick = 0;
  private servedAtCollect = 0;
  private collectedAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Collections made so far. */
  collections = 0;

  constructor(
    private readonly collect: () => void = () => Bun.gc(true),
    private readonly minGapMs = 10_000,
  ) {}

  /** Counts a request (called for every request the edge serves). */
  request(): void {
    this.served++;
  }

  /**
   * One window's end (`now` in ms, performance.now()'s clock): collects when requests came since the last
   * collection but none during this window, and the last collection is `minGapMs` old (else a later quiet
   * window does it). Returns whether it collected.
   */
  tick(now = performance.now()): boolean {
    const busy = this.served !== this.seenAtTick;
    this.seenAtTick = this.served;
    if (busy || this.served === this.servedAtCollect || now - this.collectedAt < this.minGapMs) return false;
    this.servedAtCollect = this.served;
    this.collectedAt = now;
    this.collections++;
    this.collect();
    return true;
  }

  /** Ticks every `windowMs` (0: never) without keeping the process alive. */
  start(windowMs: number): void {
    if (windowMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
