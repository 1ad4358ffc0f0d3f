import { isBrokenCircuitError } from "cockatiel";
import { type BreakerScope, breakersFor } from "./breaker.ts";
import type { UpstreamRequest } from "./request.ts";

export type UpstreamResult =
  /** The body as text, unparsed: the caller redacts secrets from it before anything else reads it. */
  | { kind: "status"; status: number; body: string; contentType: string | null }
  | { kind: "too_large"; status: number }
  | { kind: "network" }
  | { kind: "timeout" }
  | { kind: "cancelled" }
  | { kind: "open"; scope: BreakerScope };

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
}

const RETRY_BACKOFF_MS = 100;

// Thrown through the breakers so a caller hanging up counts neither as a failure nor a success.
class Cancelled extends Error {}
// Thrown through the caller's own breaker when the shared one is open, so it does not count there either.
class ServiceOpen extends Error {}

/**
 * One upstream call through two circuit breakers, with one retry for GETs that never connected: the
 * caller's own (keyed by its credential; opened by 500s and timeouts, which a caller can provoke) around
 * the service's shared one (opened by connection failures and 502/503/504 only).
 */
export async function callUpstream(
  service: object,
  credential: string,
  req: UpstreamRequest,
  opts: CallOptions,
): Promise<UpstreamResult> {
  // One deadline for the whole call, retry and body included, so callers get a hard bound.
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  const once = () => attempt(req, signal, opts);
  const { shared, own } = breakersFor(service, credential);
  try {
    return await own.execute(async () => {
      try {
        return await shared.execute(async () => {
          let result = await once();
          // Only a GET whose connection failed is safe to repeat; a timed-out or POST request may have
          // been applied upstream already.
          if (result.kind === "network" && req.method === "GET") {
            await Bun.sleep(RETRY_BACKOFF_MS + Math.random() * RETRY_BACKOFF_MS);
            result = await once();
          }
          if (result.kind === "cancelled") throw new Cancelled();
          return result;
        });
      } catch (err) {
        throw isBrokenCircuitError(err) ? new ServiceOpen() : err;
      }
    });
  } catch (err) {
    if (err instanceof Cancelled) return { kind: "cancelled" };
    if (err instanceof ServiceOpen) return { kind: "open", scope: "service" };
    if (isBrokenCircuitError(err)) return { kind: "open", scope: "credential" };
    throw err;
  }
}

async function attempt(
  req: UpstreamRequest,
  signal: AbortSignal,
  opts: CallOptions,
): Promise<UpstreamResult> {
  try {
    // Redirects are not followed: the credential header must never travel to another host.
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      redirect: "manual",
    });
    const bytes = await readBounded(res, opts.maxBytes);
    if (!bytes) return { kind: "too_large", status: res.status };
    return {
      kind: "status",
      status: res.status,
      body: new TextDecoder().decode(bytes),
      contentType: res.headers.get("content-type"),
    };
  } catch {
    if (opts.signal?.aborted) return { kind: "cancelled" };
    if (signal.aborted) return { kind: "timeout" };
    return { kind: "network" };
  }
}

/** Reads the body up to `max` bytes; null when it is larger, without buffering the rest. */
async function readBounded(res: Response, max: number): Promise<Uint8Array | null> {
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    await res.body?.cancel();
    return null;
  }
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
