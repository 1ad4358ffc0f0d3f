import { tracingChannel } from "node:diagnostics_channel";

/**
 * ioredis 6 wraps every command, and every pipelined batch, in a `diagnostics_channel` trace (building a
 * context with the command's sanitised arguments) unless `TracingChannel#hasSubscribers` is `false`. Bun's
 * TracingChannel has no such getter (`undefined`), so under Bun every command was traced for nobody: a
 * few per cent of a busy edge's CPU. This adds the getter as Node defines it (true while any of the five
 * sub-channels has a subscriber), so tracing still works the moment an APM subscribes. Idempotent, and a
 * no-op on a runtime that already has it.
 */
export function ensureTracingHasSubscribers(): void {
  const proto = Object.getPrototypeOf(tracingChannel("mcp:kv:probe")) as object;
  if ("hasSubscribers" in proto) return;
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", { hasSubscribers: boolean }>) {
      return (
        this.start.hasSubscribers ||
        this.end.hasSubscribers ||
        this.asyncStart.hasSubscribers ||
        this.asyncEnd.hasSubscribers ||
        this.error.hasSubscribers
      );
    },
  });
}
