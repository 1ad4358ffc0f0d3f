import { randomBytes } from "node:crypto";
import { aadFor, type Keyring, open, seal } from "@mcp/crypto";
import type { Kv } from "@mcp/kv";
import type { Redactor } from "@mcp/services";
import type { Client, McpSubscription, RequestOptions } from "@modelcontextprotocol/client";
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequest,
  type InputRequests,
  type JSONRPCNotification,
  type LoggingLevel,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
  SUBSCRIPTION_ID_META_KEY,
} from "@modelcontextprotocol/server";
import { instanceChannel, type Session } from "./sessions.ts";

/** A sealed requestState is good for this long, and for one retry. */
export const REQUEST_STATE_TTL_MS = 10 * 60_000;
/** Bound on an upstream's own requestState carried inside ours. */
const MAX_UPSTREAM_STATE = 64 * 1024;

interface StatePayload {
  /** The upstream's own requestState, echoed back to it on the retry. */
  u?: string;
  /** Expiry (ms since epoch). */
  e: number;
  /** Nonce: the retry consumes it. */
  n: string;
  /** The method the state was minted for. */
  m: string;
  /** A held upstream call (HeldCalls) the retry resumes. */
  h?: string;
}

/** What a sealed requestState carries back on the retry. */
export interface OpenedState {
  upstreamState?: string;
  held?: string;
}

/**
 * The relay's multi-round-trip state: the upstream's requestState sealed with AES-256-GCM under the
 * platform's keyring, bound to the instance and method (AAD), short-lived and single-use (its nonce is
 * spent in the kv on the retry), so a client can neither read nor forge nor replay it.
 */
export class RequestStates {
  constructor(
    private readonly keyring: Keyring,
    private readonly kv: Kv,
  ) {}

  seal(instanceId: string, method: string, upstreamState: string | undefined, held?: string): string {
    if (upstreamState !== undefined && upstreamState.length > MAX_UPSTREAM_STATE) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        "The server's requestState is too large to relay",
      );
    }
    const payload: StatePayload = {
      ...(upstreamState !== undefined && { u: upstreamState }),
      e: Date.now() + REQUEST_STATE_TTL_MS,
      n: randomBytes(16).toString("base64url"),
      m: method,
      ...(held && { h: held }),
    };
    const sealed = seal(this.keyring, JSON.stringify(payload), aadFor("mrtr", instanceId, method));
    return `${sealed.keyVersion}.${sealed.ciphertext}`;
  }

  /** The upstream's state for a retry; throws InvalidParams for anything forged, expired or replayed. */
  async open(instanceId: string, method: string, state: string): Promise<OpenedState> {
    const invalid = () =>
      new ProtocolError(ProtocolErrorCode.InvalidParams, "requestState is invalid, expired or already used");
    const dot = state.indexOf(".");
    const keyVersion = Number(state.slice(0, dot));
    if (dot < 1 || !Number.isInteger(keyVersion) || state.length > MAX_UPSTREAM_STATE * 2) throw invalid();
    const text = open(
      this.keyring,
      { keyVersion, ciphertext: state.slice(dot + 1) },
      aadFor("mrtr", instanceId, method),
    );
    if (!text) throw invalid();
    const payload = JSON.parse(text) as StatePayload;
    if (payload.m !== method || payload.e < Date.now()) throw invalid();
    const fresh = await this.kv.setIfAbsent(`mrtr-used:${payload.n}`, "1", REQUEST_STATE_TTL_MS);
    if (!fresh) throw invalid();
    return {
      ...(payload.u !== undefined && { upstreamState: payload.u }),
      ...(payload.h && { held: payload.h }),
    };
  }
}

/** The client capabilities of the request being relayed: from its envelope (2026) or its session (2025). */
export function clientCapabilities(ctx: ServerContext, session: Session | undefined): ClientCapabilities {
  if (session) return session.record.init.capabilities as ClientCapabilities;
  const declared = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY as keyof typeof ctx.mcpReq.envelope];
  return (declared ?? {}) as ClientCapabilities;
}

const SEVERITY: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

/** A relayed call in flight on an upstream connection: where the upstream's messages for it go. */
export interface InflightCall {
  ctx: ServerContext;
  session: Session | undefined;
  capabilities: ClientCapabilities;
  /** A 2026-07-28 client's call: the upstream's request for input is held for the client's retry. */
  hold?: (request: InputRequest) => Promise<unknown>;
}

/** `subscriptions/listen` streams one upstream connection holds for resource subscriptions. */
const MAX_LISTENS_PER_CONNECTION = 200;
/** Resources one 2025-era upstream connection is subscribed to (memory only: no stream each). */
const MAX_LEGACY_SUBSCRIPTIONS_PER_CONNECTION = 1000;
/**
 * Resource listen streams to 2026-07-28 upstreams one edge process holds open, all connections together: each is
 * an open request, counted against the runtime's ceiling with the relay's other ones (runtime-env.ts).
 */
export const MAX_RESOURCE_LISTENS_PER_PROCESS = 512;

/** An upstream subscription to one resource on one connection: who wants it, once it is made, how it ends. */
interface Subscription {
  owners: Set<string>;
  ready: Promise<void>;
  close: () => Promise<void>;
}

/** Whether an upstream connection negotiated the 2026-07-28 era (per-request envelopes, input_required). */
export const isModern = (client: Client) => (client.getNegotiatedProtocolVersion() ?? "") >= "2026";

/** Log messages relayed to one call, at most; the rest of a flood is dropped. */
export const MAX_RELAYED_NOTIFICATIONS = 1000;

/**
 * What an upstream connection sends that is not an answer: log messages, list changes, resource updates
 * and, from a 2025-era server, requests for input. An upstream's message carries no link to the request
 * it belongs to (the connection is shared by the instance's calls), so it goes to the latest call in
 * flight on that connection (all of them are the same user's), or, outside any call, to the instance's
 * 2025-era sessions' GET streams through the kv.
 */
export class UpstreamRouting {
  private readonly calls = new WeakMap<Client, InflightCall[]>();
  private readonly wired = new WeakSet<Client>();
  /**
   * The user's own secrets on each connection (its headers, URL or key), redacted from everything its server
   * sends that is not an answer (log messages, progress, list changes, requests for input) before it reaches a
   * client, a session's stream or the kv, as the answers themselves are.
   */
  private readonly redactors = new WeakMap<Client, Redactor>();
  /** The list-change `subscriptions/listen` stream of each 2026-07-28 upstream connection, counted. */
  private readonly listFollows = new WeakMap<
    Client,
    { subscription: Promise<McpSubscription>; refs: number }
  >();
  /** The resources each upstream connection is subscribed to, and who wants each. */
  private readonly subscriptions = new WeakMap<Client, Map<string, Subscription>>();

  constructor(
    private readonly kv: Kv,
    /** The process's count of open resource listen streams to 2026-07-28 upstreams (shared by the edge's relays). */
    private readonly listenStreams: { open: number } = { open: 0 },
  ) {}

  /** Runs `run` with `call` registered as in flight on `client`. */
  async during<T>(
    client: Client,
    instanceId: string,
    redactor: Redactor,
    call: InflightCall,
    run: () => Promise<T>,
  ): Promise<T> {
    this.wire(client, instanceId, redactor);
    const list = this.calls.get(client) ?? [];
    this.calls.set(client, list);
    list.push(call);
    try {
      return await run();
    } finally {
      list.splice(list.indexOf(call), 1);
    }
  }

  /**
   * Subscribes the upstream to a resource for `owner` (a 2025-era session, or a 2026-07-28 client's listen):
   * `resources/subscribe` on a 2025-era connection, a `subscriptions/listen` stream on a 2026-07-28 one (one
   * per URI). Either way the subscription is shared by the owners that want it on this connection and lasts
   * until the last of them lets go (`unsubscribe`); the updates arrive as `notifications/resources/updated`
   * and go out through the instance channel. A 2026-07-28 upstream's listen streams are bounded per
   * connection and per process (each holds a request open: see runtime-env.ts).
   */
  async subscribe(
    client: Client,
    instanceId: string,
    redactor: Redactor,
    uri: string,
    options: RequestOptions,
    owner: string,
  ): Promise<void> {
    this.wire(client, instanceId, redactor);
    const modern = isModern(client);
    let entry: Subscription | undefined;
    const held = this.subscriptions.get(client) ?? new Map<string, Subscription>();
    this.subscriptions.set(client, held);
    const existing = held.get(uri);
    if (existing) {
      existing.owners.add(owner);
      await existing.ready;
      return;
    }
    const most = modern ? MAX_LISTENS_PER_CONNECTION : MAX_LEGACY_SUBSCRIPTIONS_PER_CONNECTION;
    if (held.size >= most) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        "Too many resource subscriptions on this instance",
      );
    }
    if (modern && this.listenStreams.open >= MAX_RESOURCE_LISTENS_PER_PROCESS) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        "Too many resource subscriptions on this edge",
      );
    }
    // The subscribing request's own signal is over by the time the last owner lets go: only its timeout.
    const later = { ...(options.timeout !== undefined && { timeout: options.timeout }) };
    let close: () => Promise<void> = async () => {
      await client.unsubscribeResource({ uri }, later);
    };
    let ready: Promise<void>;
    // Forgotten when it fails or its stream ends, so the next owner subscribes afresh.
    const forget = () => {
      if (held.get(uri) === entry) held.delete(uri);
    };
    if (modern) {
      const streams = this.listenStreams;
      streams.open++;
      let counted = true;
      const uncount = () => {
        if (counted) streams.open--;
        counted = false;
      };
      // Not the subscribing request's signal: the stream outlives that request.
      const subscription = client.listen({ resourceSubscriptions: [uri] }, later);
      const ended = () => {
        uncount();
        forget();
      };
      void subscription.then((s) => s.closed.then(ended, ended), uncount);
      ready = subscription.then(() => {});
      close = async () => {
        await (await subscription).close();
        uncount();
      };
    } else {
      ready = client.subscribeResource({ uri }, options).then(() => {});
    }
    entry = { owners: new Set([owner]), ready, close };
    held.set(uri, entry);
    ready.catch(forget);
    await ready;
  }

  /**
   * `owner` no longer wants the resource's updates; the upstream is unsubscribed once no owner on this
   * connection does. An owner this connection does not know (it subscribed through another connection, or
   * another edge process) changes nothing here.
   */
  async unsubscribe(client: Client, uri: string, owner: string): Promise<void> {
    const held = this.subscriptions.get(client);
    const entry = held?.get(uri);
    if (!held || !entry || !entry.owners.delete(owner) || entry.owners.size > 0) return;
    held.delete(uri);
    await entry.close();
  }

  /**
   * Follows an upstream's list changes while a client listens for them: a 2026-07-28 upstream tells them
   * only on a `subscriptions/listen` stream (one per connection, shared and counted); a 2025-era one
   * sends them unasked. Returns the function that stops following.
   */
  async followLists(client: Client, instanceId: string, redactor: Redactor): Promise<() => void> {
    this.wire(client, instanceId, redactor);
    if (!isModern(client)) return () => {};
    let held = this.listFollows.get(client);
    if (!held) {
      const subscription = client.listen({
        toolsListChanged: true,
        promptsListChanged: true,
        resourcesListChanged: true,
      });
      const entry = { subscription, refs: 0 };
      held = entry;
      this.listFollows.set(client, entry);
      subscription.catch(() => {
        if (this.listFollows.get(client) === entry) this.listFollows.delete(client);
      });
    }
    const current = held;
    current.refs++;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (--current.refs > 0) return;
      if (this.listFollows.get(client) === current) this.listFollows.delete(client);
      void current.subscription.then((s) => s.close()).catch(() => {});
    };
    try {
      await current.subscription;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  private latest(client: Client, wants?: keyof ClientCapabilities): InflightCall | undefined {
    const list = this.calls.get(client) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const call = list[i];
      if (call && (!wants || call.capabilities[wants])) return call;
    }
    return undefined;
  }

  private publish(instanceId: string, notification: JSONRPCNotification): void {
    void this.kv.publish(instanceChannel(instanceId), JSON.stringify(notification)).catch(() => {});
  }

  private wire(client: Client, instanceId: string, redactor: Redactor): void {
    this.redactors.set(client, redactor);
    if (this.wired.has(client)) return;
    this.wired.add(client);
    const redact = <T>(value: T): T => (this.redactors.get(client) ?? redactor).value(value);
    const relayed = new WeakMap<InflightCall, number>();
    client.setNotificationHandler("notifications/message", (n) => {
      const call = this.latest(client);
      const params = redact(n.params);
      const notification = { jsonrpc: "2.0" as const, method: n.method, params };
      if (!call) return this.publish(instanceId, notification);
      const count = (relayed.get(call) ?? 0) + 1;
      relayed.set(call, count);
      if (count > MAX_RELAYED_NOTIFICATIONS) return;
      const threshold = call.session?.record.level as LoggingLevel | undefined;
      const level = n.params.level as LoggingLevel;
      if (threshold && (SEVERITY[level] ?? 0) < (SEVERITY[threshold] ?? 0)) return;
      void call.ctx.mcpReq.notify({ method: n.method, params }).catch(() => {});
    });
    for (const method of [
      "notifications/resources/updated",
      "notifications/resources/list_changed",
      "notifications/tools/list_changed",
      "notifications/prompts/list_changed",
    ] as const) {
      client.setNotificationHandler(method, (n) => {
        // The upstream's own listen-stream id means nothing to the client.
        const { _meta, ...params } = (n.params ?? {}) as Record<string, unknown>;
        const meta = { ...(_meta as Record<string, unknown> | undefined) };
        delete meta[SUBSCRIPTION_ID_META_KEY];
        const kept = redact({ ...params, ...(Object.keys(meta).length > 0 && { _meta: meta }) });
        this.publish(instanceId, {
          jsonrpc: "2.0",
          method: n.method,
          ...(Object.keys(kept).length > 0 && { params: kept }),
        });
      });
    }
    // A 2025-era server asks for input with a request of its own, during a call: it goes to the latest
    // call in flight whose client declared the capability, on that call's stream (2025-era clients only:
    // a 2026-07-28 client is asked through input_required, which a 2025-era server cannot produce).
    const ask = (
      method: "sampling/createMessage" | "elicitation/create" | "roots/list",
      wants: keyof ClientCapabilities,
    ) =>
      client.setRequestHandler(method, async (request) => {
        const call = this.latest(client, wants);
        const params = redact(request.params);
        if (call?.hold) return call.hold({ method, params } as InputRequest) as never;
        if (!call?.session) {
          throw new ProtocolError(
            ProtocolErrorCode.MethodNotFound,
            `The client of this call does not support ${method} over this connection`,
          );
        }
        return call.ctx.mcpReq.send({ method, params }, { signal: call.ctx.mcpReq.signal });
      });
    ask("sampling/createMessage", "sampling");
    ask("elicitation/create", "elicitation");
    ask("roots/list", "roots");
  }
}

/** Calls held at once in this process, and the input requests one call may batch into one round. */
const MAX_HELD_CALLS = 10_000;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Held {
  upstream: Promise<unknown>;
  /** The input requests asked since the last round, by key. */
  asked: Map<string, { request: InputRequest; answer: Deferred<unknown> }>;
  /** Resolves when the upstream asks for input. */
  next: Deferred<void>;
  abort: AbortController;
  /** Drops the call when the client does not come back in time (set while held). */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Aborts the upstream call when it neither answers nor asks in time (set while it runs). */
  deadline: ReturnType<typeof setTimeout> | undefined;
  seq: number;
}

/** A held call's outcome for one round: the upstream answered, or it asks the client for input. */
export type HeldOutcome = { done: unknown } | { input: InputRequests; held: string };

/**
 * The bridge from a 2025-era upstream to a 2026-07-28 client: the upstream asks for input with a request
 * of its own during a call, which a 2026-07-28 client can only be asked through an `input_required`
 * result. The upstream call is held (in this process, bounded in number and in time), the client gets
 * the request as an input request, and its retry (whose sealed requestState names the held call)
 * answers the upstream's request and resumes the wait for the upstream's answer or its next request.
 */
export class HeldCalls {
  private readonly held = new Map<string, Held>();

  constructor(
    /** How long a held call waits for the client's retry. */
    private readonly ttlMs: number,
    /** How long the upstream may take to answer or ask, each round (the client's think time excluded). */
    private readonly callTimeoutMs: number,
  ) {}

  /**
   * Starts `run` (the upstream call) with a `hold` function for the upstream's requests for input;
   * `signal` (the client's request) cancels the call until it is first held.
   */
  async start(
    signal: AbortSignal,
    run: (hold: (request: InputRequest) => Promise<unknown>, signal: AbortSignal) => Promise<unknown>,
  ): Promise<HeldOutcome> {
    if (this.held.size >= MAX_HELD_CALLS) {
      throw new ProtocolError(ProtocolErrorCode.InternalError, "Too many calls waiting for input; try again");
    }
    const id = randomBytes(16).toString("base64url");
    const abort = new AbortController();
    const entry: Held = {
      upstream: Promise.resolve(),
      asked: new Map(),
      next: deferred<void>(),
      abort,
      timer: undefined,
      deadline: undefined,
      seq: 0,
    };
    const cancel = () => {
      if (!this.held.has(id)) abort.abort(signal.reason);
    };
    signal.addEventListener("abort", cancel, { once: true });
    const hold = (request: InputRequest) => {
      const answer = deferred<unknown>();
      entry.asked.set(`input_${entry.seq++}`, { request, answer });
      entry.next.resolve();
      return answer.promise;
    };
    entry.upstream = run(hold, abort.signal);
    entry.upstream.catch(() => {});
    try {
      return await this.wait(id, entry);
    } finally {
      signal.removeEventListener("abort", cancel);
    }
  }

  /** The client's retry: answers the held call's requests and waits for its next outcome. */
  async resume(id: string, responses: Record<string, unknown>): Promise<HeldOutcome> {
    const entry = this.held.get(id);
    if (!entry) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        "The call this requestState resumes is no longer waiting (it ended, expired, or waits on another edge process); call again",
      );
    }
    this.held.delete(id);
    clearTimeout(entry.timer);
    for (const [key, { answer }] of entry.asked) {
      if (key in responses) answer.resolve(responses[key]);
      else answer.reject(new ProtocolError(ProtocolErrorCode.InvalidParams, `No input response for ${key}`));
    }
    entry.asked.clear();
    entry.next = deferred<void>();
    return this.wait(id, entry);
  }

  private async wait(id: string, entry: Held): Promise<HeldOutcome> {
    entry.deadline = setTimeout(
      () => entry.abort.abort(new Error("the upstream did not answer in time")),
      this.callTimeoutMs,
    );
    entry.deadline.unref?.();
    const outcome = await Promise.race([
      entry.upstream.then((done) => ({ done })),
      // Requests asked together (before the next turn of the event loop) go out in one round.
      entry.next.promise.then(() => new Promise<"input">((r) => setTimeout(() => r("input"), 0))),
    ]).finally(() => clearTimeout(entry.deadline));
    if (outcome !== "input") return outcome;
    const input: InputRequests = {};
    for (const [key, { request }] of entry.asked) input[key] = request;
    this.held.set(id, entry);
    entry.timer = setTimeout(() => this.drop(id, "expired"), this.ttlMs);
    entry.timer.unref?.();
    return { input, held: id };
  }

  private drop(id: string, why: string): void {
    const entry = this.held.get(id);
    if (!entry) return;
    this.held.delete(id);
    entry.abort.abort(new Error(`held call ${why}`));
    for (const { answer } of entry.asked.values()) answer.reject(new Error(`held call ${why}`));
  }

  close(): void {
    for (const id of [...this.held.keys()]) this.drop(id, "closed");
  }
}
