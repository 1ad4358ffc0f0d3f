import { randomBytes } from "node:crypto";
import { sha256 } from "@mcp/crypto";
import type { Kv } from "@mcp/kv";
import {
  type EventStore,
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  isJsonContentType,
  type JSONRPCMessage,
  type Server,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { InstanceAuth } from "./instance-handler.ts";
import { acceptsBoth, MODERN_VERSIONS, NOT_ACCEPTABLE, SUPPORTED_VERSIONS } from "./versions.ts";

/**
 * 2025-era sessions for relayed instances, kept in the kv so that any edge process sharing it serves any
 * session: `initialize` mints an `Mcp-Session-Id` bound to the instance, each later POST is served by a
 * fresh SDK Server restored from the session's `initialize`, the client's answers to server-to-client
 * requests (sampling, elicitation, roots) and its cancellations reach the process holding the call
 * through the kv, the GET stream carries what belongs to no call, DELETE ends the session, and every
 * SSE event is kept (bounded, short-lived) so a client resumes any stream with `Last-Event-ID`.
 */

/** A session unused this long is forgotten (the client re-initialises on the 404). */
export const SESSION_IDLE_MS = 60 * 60_000;
/** The record's TTL is pushed back at most this often (one kv write per minute per session at most). */
const REFRESH_EVERY_MS = 60_000;
/** Events kept per stream for resumption, and for how long after the last one. */
const EVENTS_PER_STREAM = 256;
const EVENTS_TTL_MS = 5 * 60_000;
/** One event larger than this is still sent, but not kept for replay (the kv is not a blob store). */
const MAX_KEPT_EVENT_BYTES = 256 * 1024;
/** Resource subscriptions one session may hold. */
export const MAX_SUBSCRIPTIONS = 100;
const KEEPALIVE_MS = 15_000;

export interface SessionRecord {
  v: 2;
  instanceId: string;
  /**
   * The hash of the instance URL's token the session was opened through: only that URL serves it (after a
   * rotation the old URL's sessions do not carry over to the new one), and its streams end when it is retired.
   */
  tokenHash: string;
  /** The client's `initialize` params, replayed into each request's Server. */
  init: {
    protocolVersion: string;
    capabilities: Record<string, unknown>;
    clientInfo: Record<string, unknown>;
  };
  /** Minimum log level the client set with `logging/setLevel`. */
  level?: string;
  /** Resource URIs the client subscribed to. */
  subscriptions?: string[];
  touchedAt: number;
}

export interface Session {
  /** SHA-256 of the id: the only form of it the kv ever holds. */
  hash: string;
  record: SessionRecord;
}

const hashOf = (id: string) => sha256(id, "base64url");
const recordKey = (hash: string) => `mcp-session:${hash}`;
const streamKey = (hash: string, stream: string) => `mcp-session-events:${hash}:${stream}`;
const inboundChannel = (hash: string) => `mcp-session-in:${hash}`;
/** Server-initiated messages of one instance that belong to no call (list changes, resource updates). */
export const instanceChannel = (instanceId: string) => `mcp-instance-events:${instanceId}`;
/** How a session's GET stream announces itself to the session's others: when it opened, and a random id. */
type GetStreamMark = [openedAt: number, id: string];
/** The GET stream's name in the event store. */
const GET_STREAM = "get";
/** Session ids are 32 random bytes, base64url: visible ASCII, as the spec asks. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const STREAM_ID = /^(get|[0-9a-f-]{36})$/;

/** Which instance URL a session belongs to. */
type SessionOwner = Pick<InstanceAuth["instance"], "instanceId" | "tokenHash">;

export class SessionStore {
  constructor(private readonly kv: Kv) {}

  async create(owner: SessionOwner, init: SessionRecord["init"]): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString("base64url");
    const { instanceId, tokenHash } = owner;
    const record: SessionRecord = { v: 2, instanceId, tokenHash, init, touchedAt: Date.now() };
    const hash = hashOf(id);
    await this.kv.set(recordKey(hash), JSON.stringify(record), SESSION_IDLE_MS);
    return { id, session: { hash, record } };
  }

  /**
   * The session, if it exists and was opened through this instance URL (anything else reads as unknown: 404,
   * and a session of an earlier version of the record too: the client initialises again).
   */
  async load(id: string, owner: SessionOwner): Promise<Session | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    const hash = hashOf(id);
    const raw = await this.kv.get(recordKey(hash));
    if (!raw) return undefined;
    let record: SessionRecord;
    try {
      record = JSON.parse(raw) as SessionRecord;
    } catch {
      return undefined;
    }
    if (record.v !== 2 || record.instanceId !== owner.instanceId || record.tokenHash !== owner.tokenHash) {
      return undefined;
    }
    if (Date.now() - record.touchedAt > REFRESH_EVERY_MS) {
      record.touchedAt = Date.now();
      await this.kv.set(recordKey(hash), JSON.stringify(record), SESSION_IDLE_MS);
    }
    return { hash, record };
  }

  /** Re-reads the record (another process may have changed it), applies `change` and stores it. */
  async update(session: Session, change: (record: SessionRecord) => void): Promise<void> {
    const raw = await this.kv.get(recordKey(session.hash));
    if (!raw) return;
    const record = JSON.parse(raw) as SessionRecord;
    change(record);
    record.touchedAt = Date.now();
    session.record = record;
    await this.kv.set(recordKey(session.hash), JSON.stringify(record), SESSION_IDLE_MS);
  }

  async end(session: Session): Promise<void> {
    await this.kv.del(recordKey(session.hash), streamKey(session.hash, GET_STREAM));
    await this.kv.publish(inboundChannel(session.hash), JSON.stringify({ end: true }));
  }
}

/** One stored SSE event: its id, the message, and how many responses end its stream. */
type Stored = [id: string, message: JSONRPCMessage | Record<string, never>, responses: number];

/**
 * The SDK transport's event store, backed by the kv for one POST's stream (or the GET stream): ids are
 * `<stream>_<n>`, events are appended to a bounded list and published for a client resuming elsewhere.
 */
class KvEventStore implements EventStore {
  private seq = 0;
  constructor(
    private readonly kv: Kv,
    private readonly hash: string,
    private readonly responses: number,
  ) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = `${streamId}_${(this.seq++).toString(36)}`;
    await keepEvent(this.kv, this.hash, streamId, [eventId, message, this.responses]);
    return eventId;
  }

  // Replays are answered by the session layer itself (a GET may reach any process).
  async replayEventsAfter(): Promise<string> {
    throw new Error("replay is served by the session layer");
  }
}

async function keepEvent(kv: Kv, hash: string, stream: string, event: Stored): Promise<void> {
  const text = JSON.stringify(event);
  if (text.length <= MAX_KEPT_EVENT_BYTES)
    await kv.append(streamKey(hash, stream), text, EVENTS_PER_STREAM, EVENTS_TTL_MS);
  await kv.publish(streamKey(hash, stream), text);
}

/** Sends a server-initiated message on a session's GET stream (kept for resumption). */
export async function sendOnGetStream(kv: Kv, hash: string, message: JSONRPCMessage): Promise<void> {
  const eventId = `${GET_STREAM}_${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
  await keepEvent(kv, hash, GET_STREAM, [eventId, message, 0]);
}

/**
 * The requests in flight in this process, per session: the client's answers and cancellations for them
 * arrive through the kv (the client may POST them to any process) and are handed to their transport.
 * Outgoing server-to-client request ids get an exchange prefix, so two calls of one session never
 * confuse each other's answers.
 */
class SessionBus {
  private readonly live = new Map<
    string,
    { exchanges: Set<Exchange>; ready: Promise<() => Promise<void>> }
  >();

  constructor(private readonly kv: Kv) {}

  attach(hash: string, transport: WebStandardStreamableHTTPServerTransport): Exchange {
    let entry = this.live.get(hash);
    if (!entry) {
      const exchanges = new Set<Exchange>();
      const ready = this.kv.subscribe(inboundChannel(hash), (text) => this.deliver(exchanges, text));
      entry = { exchanges, ready };
      this.live.set(hash, entry);
    }
    const ready = entry.ready.then(() => {});
    ready.catch(() => {}); // a failed subscription fails the exchange's requests to the client, not the process
    const exchange = new Exchange(transport, ready);
    entry.exchanges.add(exchange);
    const current = entry;
    exchange.onDone = () => {
      current.exchanges.delete(exchange);
      if (current.exchanges.size === 0 && this.live.get(hash) === current) {
        this.live.delete(hash);
        void current.ready.then((unsubscribe) => unsubscribe()).catch(() => {});
      }
    };
    return exchange;
  }

  /** A client's answer or cancellation, POSTed to this process: on to whichever process holds the call. */
  async forward(hash: string, message: JSONRPCMessage): Promise<void> {
    await this.kv.publish(inboundChannel(hash), JSON.stringify({ message }));
  }

  private deliver(exchanges: Set<Exchange>, text: string): void {
    let parsed: { message?: JSONRPCMessage; end?: boolean };
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    for (const exchange of exchanges) {
      if (parsed.end) exchange.end();
      else if (parsed.message) exchange.receive(parsed.message);
    }
  }
}

class Exchange {
  readonly prefix = `x${randomBytes(6).toString("base64url")}:`;
  private readonly inflight = new Set<string | number>();
  onDone: () => void = () => {};

  constructor(
    private readonly transport: WebStandardStreamableHTTPServerTransport,
    ready: Promise<void>,
  ) {
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      if (isJSONRPCRequest(message)) {
        // Subscribed before the client can possibly answer.
        await ready;
        return send({ ...message, id: `${this.prefix}${message.id}` }, options);
      }
      const answered =
        (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) &&
        message.id !== undefined &&
        message.id !== null &&
        this.inflight.delete(message.id);
      await send(message, options);
      if (answered && this.inflight.size === 0) this.onIdle();
    };
  }

  /** Every request of the exchange is answered (the answers are stored for resumption by then). */
  onIdle: () => void = () => {};

  get idle(): boolean {
    return this.inflight.size === 0;
  }

  track(messages: JSONRPCMessage[]): void {
    for (const m of messages) if (isJSONRPCRequest(m)) this.inflight.add(m.id);
  }

  receive(message: JSONRPCMessage): void {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      const id = message.id;
      if (typeof id !== "string" || !id.startsWith(this.prefix)) return;
      const original = id.slice(this.prefix.length);
      const restored = /^\d+$/.test(original) ? Number(original) : original;
      this.transport.onmessage?.({ ...message, id: restored });
      return;
    }
    if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      const requestId = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (requestId !== undefined && this.inflight.has(requestId)) this.transport.onmessage?.(message);
    }
  }

  end(): void {
    void this.transport.close().catch(() => {});
  }
}

type ServerFactory = (auth: InstanceAuth, session: Session) => Server;

/**
 * What this process holds open for each instance URL (SSE streams, exchanges in flight), so that retiring the
 * URL's token (rotation, revocation, reconnection to another account) ends them at once: a stream opened
 * through a leaked URL must not go on hearing the instance's messages after its owner rotated it.
 */
export class TokenStreams {
  private readonly open = new Map<string, Set<() => void>>();

  /** Registers `close` for the token; returns the function that lets go of it (when the stream ends by itself). */
  hold(tokenHash: string, close: () => void): () => void {
    let held = this.open.get(tokenHash);
    if (!held) {
      held = new Set();
      this.open.set(tokenHash, held);
    }
    const set = held;
    set.add(close);
    return () => {
      set.delete(close);
      if (set.size === 0 && this.open.get(tokenHash) === set) this.open.delete(tokenHash);
    };
  }

  holds(tokenHash: string): boolean {
    return this.open.has(tokenHash);
  }

  /** Ends everything held for the token. */
  closeAll(tokenHash: string): void {
    const held = this.open.get(tokenHash);
    if (!held) return;
    this.open.delete(tokenHash);
    for (const close of held) {
      try {
        close();
      } catch {
        // One stream that fails to close does not keep the others open.
      }
    }
  }
}

const jsonError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });

/**
 * The checks the SDK's Streamable HTTP transport makes of a request it does not hand to a server, in its order
 * and with its answers; here for what the session layer answers itself (a session's GET stream and DELETE, and
 * POSTs carrying only answers and notifications), which never reach a transport. The spec (2025-06-18 on) says
 * an unsupported `MCP-Protocol-Version` on any request MUST get 400.
 */
function unsupportedVersion(request: Request): Response | undefined {
  const version = request.headers.get("mcp-protocol-version");
  if (version === null || SUPPORTED_VERSIONS.includes(version)) return undefined;
  return jsonError(
    400,
    -32000,
    `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_VERSIONS.join(", ")})`,
  );
}

/** A POST's Accept (both media types, else 406) and Content-Type (JSON, else 415), as the transport checks them. */
function unacceptablePost(request: Request): Response | undefined {
  if (!acceptsBoth(request.headers.get("accept"))) return jsonError(406, -32000, NOT_ACCEPTABLE);
  if (!isJsonContentType(request.headers.get("content-type"))) {
    return jsonError(415, -32000, "Unsupported Media Type: Content-Type must be application/json");
  }
  return undefined;
}

/** The headers of an SSE answer, as the SDK's transports send them (also the fast path's 2025-era answers). */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
};

/**
 * The legacy (2025-era) leg of a relayed instance's handler. `factory` builds the request's Server with
 * the relay's handlers; it is restored from the session's `initialize` before the request is served.
 */
export function createLegacySessions(
  kv: Kv,
  factory: ServerFactory,
  opts: {
    maxRequestBodySize: number;
    onerror: (error: Error) => void;
    /** A GET stream opens: the upstream's own changes are followed while `signal` is live. */
    onListen?: (auth: InstanceAuth, signal: AbortSignal) => Promise<void>;
    /** Where the streams and exchanges of each instance URL are held, to be ended when it is retired. */
    streams: TokenStreams;
  },
) {
  const store = new SessionStore(kv);
  const bus = new SessionBus(kv);

  async function serve(
    request: Request,
    parsedBody: unknown,
    auth: InstanceAuth,
    session: Session,
    sessionId: string,
    authInfo: unknown,
  ): Promise<Response> {
    const messages = (Array.isArray(parsedBody) ? parsedBody : [parsedBody]) as JSONRPCMessage[];
    const requests = messages.filter(isJSONRPCRequest).length;
    const server = factory(auth, session);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      eventStore: new KvEventStore(kv, session.hash, requests),
      maxRequestBodySize: opts.maxRequestBodySize,
      keepAliveMs: KEEPALIVE_MS,
    });
    const exchange = bus.attach(session.hash, transport);
    let done = false;
    const teardown = () => {
      if (done) return;
      done = true;
      release();
      exchange.onDone();
      void transport.close().catch(() => {});
      void server.close().catch(() => {});
    };
    // Retiring the URL's token ends the exchange (its stream) as its own end would.
    const release = opts.streams.hold(session.record.tokenHash, teardown);
    exchange.track(messages);
    transport.onerror = opts.onerror;
    let response: Response;
    try {
      await server.connect(transport);
      restoreInitialize(server, session.record.init);
      // A disconnect does not cancel (the client may resume with Last-Event-ID, and cancels explicitly);
      // the call still ends within the upstream timeout, and the session's end closes it.
      response = await transport.handleRequest(request, {
        ...(parsedBody !== undefined && { parsedBody }),
        ...(authInfo !== undefined && { authInfo: authInfo as never }),
      });
    } catch (error) {
      teardown();
      throw error;
    }
    const headers = new Headers(response.headers);
    headers.set("mcp-session-id", sessionId);
    if (!response.body || !(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      teardown();
      return new Response(response.body, { status: response.status, headers });
    }
    // A client that hangs up does not cancel (it may resume): the exchange ends once every request of
    // it is answered (the answers kept for resumption), or with the session.
    let gone = false;
    exchange.onIdle = () => {
      if (gone) teardown();
    };
    const body = watch(response.body, teardown, () => {
      gone = true;
      if (exchange.idle) teardown();
    });
    return new Response(body, { status: response.status, headers });
  }

  async function initialize(request: Request, parsedBody: unknown, auth: InstanceAuth, authInfo: unknown) {
    const init = parsedBody as { params: SessionRecord["init"] };
    const { id, session } = await store.create(auth.instance, {
      protocolVersion: String(init.params.protocolVersion).slice(0, 32),
      capabilities: init.params.capabilities ?? {},
      clientInfo: init.params.clientInfo ?? {},
    });
    const response = await serve(request, parsedBody, auth, session, id, authInfo);
    if (response.status >= 400) await store.end(session).catch(() => {});
    return response;
  }

  /** A call's stream, resumed after `lastEventId` (which it must still keep): its events, until its last answer. */
  async function resume(session: Session, lastEventId: string, signal: AbortSignal): Promise<Response> {
    const stream = lastEventId.slice(0, lastEventId.lastIndexOf("_"));
    const unknown = () => jsonError(400, -32000, "Bad Request: unknown Last-Event-ID");
    if (!STREAM_ID.test(stream)) return unknown();
    const key = streamKey(session.hash, stream);
    const known = await kv.list(key);
    if (!known.some((text) => text.startsWith(`[${JSON.stringify(lastEventId)},`))) return unknown();
    return sse(signal, undefined, async (write, close) => {
      const release = opts.streams.hold(session.record.tokenHash, close);
      // The stream is over once it carried as many answers as its call has requests (`total`), the ones the
      // client had before it resumed included.
      let responses = 0;
      let expected = Number.POSITIVE_INFINITY;
      const count = (message: Stored[1], total: number) => {
        expected = total;
        if (
          isJSONRPCResultResponse(message as JSONRPCMessage) ||
          isJSONRPCErrorResponse(message as JSONRPCMessage)
        )
          responses++;
      };
      const emit = (eventId: string, message: Stored[1], total: number) => {
        count(message, total);
        if (Object.keys(message).length > 0) write(eventId, message);
        if (responses >= expected) close();
      };
      const unsubscribe = await replayThenFollow(key, lastEventId, emit, (_, message, total) =>
        count(message, total),
      );
      // The client had every answer already: nothing more will come on this stream.
      if (responses >= expected) close();
      return async () => {
        release();
        await unsubscribe();
      };
    });
  }

  /**
   * Follows the events of a stream kept under `key`: the kept ones after `lastEventId` first (every kept one
   * when it is no longer kept: they all came after it), then each new one as it is kept, none twice.
   * `skipped` sees the kept events up to and including `lastEventId` (which the client had).
   */
  async function replayThenFollow(
    key: string,
    lastEventId: string | undefined,
    emit: (eventId: string, message: Stored[1], total: number) => void,
    skipped?: (eventId: string, message: Stored[1], total: number) => void,
  ): Promise<() => Promise<void>> {
    const deliver = (text: string) => {
      const [eventId, message, total] = JSON.parse(text) as Stored;
      emit(eventId, message, total);
    };
    if (lastEventId === undefined) return kv.subscribe(key, deliver);
    // Kept while the stored ones are read, then sent unless they were among them.
    let pending: string[] | undefined = [];
    const unsubscribe = await kv.subscribe(key, (text) => (pending ? pending.push(text) : deliver(text)));
    const kept = await kv.list(key);
    const at = kept.findIndex((text) => text.startsWith(`[${JSON.stringify(lastEventId)},`));
    const sent = new Set<string>();
    for (const [i, text] of kept.entries()) {
      const [eventId, message, total] = JSON.parse(text) as Stored;
      sent.add(eventId);
      if (i <= at) skipped?.(eventId, message, total);
      else emit(eventId, message, total);
    }
    const arrived = pending;
    pending = undefined;
    for (const text of arrived) {
      const [eventId, message, total] = JSON.parse(text) as Stored;
      if (!sent.has(eventId)) emit(eventId, message, total);
    }
    return unsubscribe;
  }

  /**
   * The session's GET stream: what belongs to no call (list changes, resource updates of its subscriptions),
   * after `lastEventId` when the client resumes it. The upstream's changes are followed while it is open. One
   * per session: a newer one (a client reconnecting before this one was seen to drop) takes over, so a message
   * never goes out on two streams (and is not kept twice).
   */
  async function getStream(
    session: Session,
    auth: InstanceAuth,
    signal: AbortSignal,
    lastEventId?: string,
  ): Promise<Response> {
    // The stream's end (the client's, or the session's) stops following the upstream's changes.
    const following = new AbortController();
    signal.addEventListener("abort", () => following.abort(), { once: true });
    await opts.onListen?.(auth, following.signal);
    return sse(signal, following, async (write, close) => {
      const release = opts.streams.hold(session.record.tokenHash, close);
      const unsubscribers: (() => Promise<void>)[] = [];
      const undo = async () => {
        release();
        await Promise.all(unsubscribers.map((u) => u().catch(() => {})));
      };
      try {
        // The session's stored events first: one kept while the stream below announces itself (and the older
        // one ends) is not missed.
        unsubscribers.push(
          await replayThenFollow(streamKey(session.hash, GET_STREAM), lastEventId, (eventId, message) => {
            if (Object.keys(message).length > 0) write(eventId, message);
          }),
        );
        // What the upstream sends outside any call, for this instance: kept on this session's GET stream
        // when the session wants it (resource updates only for the URIs it subscribed to).
        unsubscribers.push(
          await kv.subscribe(instanceChannel(auth.instance.instanceId), (text) => {
            void (async () => {
              const message = JSON.parse(text) as JSONRPCMessage & { params?: { uri?: string } };
              if (isJSONRPCNotification(message) && message.method === "notifications/resources/updated") {
                const raw = await kv.get(recordKey(session.hash));
                const subs = raw ? ((JSON.parse(raw) as SessionRecord).subscriptions ?? []) : [];
                if (!subs.includes(String(message.params?.uri))) return;
              }
              await sendOnGetStream(kv, session.hash, message);
            })().catch(opts.onerror);
          }),
        );
        // Each stream announces itself on the session's channel, and ends when it hears a newer one: opened
        // later, or at the same millisecond with a larger id, so that of two opened at once exactly one stays
        // (each process hears its own announcement first, so the order they are heard in cannot decide). Stamped
        // once subscribed: a stream that announced before another listened is older than it. Between hosts whose
        // clocks disagree by more than the time between two opens, both may stay.
        let self: GetStreamMark | undefined;
        // Best effort: without the kv, an older stream ends when its client is seen to be gone.
        const announce = (mark: GetStreamMark) =>
          kv.publish(inboundChannel(session.hash), JSON.stringify({ getStream: mark })).catch(() => {});
        // Announcements heard before this stream stamped itself: weighed once it has.
        const early: GetStreamMark[] = [];
        const newer = (other: unknown, mine: GetStreamMark) =>
          Array.isArray(other) &&
          (other[0] > mine[0] || (other[0] === mine[0] && String(other[1]) > mine[1]));
        unsubscribers.push(
          await kv.subscribe(inboundChannel(session.hash), (text) => {
            const inbound = JSON.parse(text) as { end?: boolean; getStream?: GetStreamMark };
            const other = inbound.getStream;
            if (inbound.end) close();
            else if (other && !self) early.push(other);
            else if (self && newer(other, self)) close();
            else if (self && Array.isArray(other) && other[0] === self[0] && other[1] !== self[1]) {
              // Opened in the same millisecond, and this one wins the tie: the other may have subscribed only
              // after this one announced itself (so it never heard it), so this one says it again.
              void announce(self);
            }
          }),
        );
        const mine: GetStreamMark = [Date.now(), randomBytes(9).toString("base64url")];
        self = mine;
        if (early.some((other) => newer(other, mine))) close();
        await announce(mine);
      } catch (error) {
        // Nothing set up is left behind (a subscription, the URL's hold) when a step fails.
        await undo();
        throw error;
      }
      return undo;
    });
  }

  return {
    store,
    /** Serves one 2025-era HTTP request of a relayed instance. */
    async fetch(
      request: Request,
      options: { parsedBody?: unknown; authInfo?: { extra?: unknown } } = {},
    ): Promise<Response> {
      const auth = options.authInfo?.extra as InstanceAuth;
      const method = request.method.toUpperCase();
      const sessionId = request.headers.get("mcp-session-id");
      const { parsedBody } = options;
      if (method === "POST") {
        if (parsedBody !== undefined && !Array.isArray(parsedBody) && isInitializeRequest(parsedBody)) {
          return initialize(request, parsedBody, auth, options.authInfo);
        }
        if (Array.isArray(parsedBody) && parsedBody.some((m) => isInitializeRequest(m))) {
          return jsonError(400, -32600, "Invalid Request: initialize must be sent alone");
        }
      }
      if (method !== "POST" && method !== "GET" && method !== "DELETE") {
        return jsonError(405, -32000, "Method not allowed.", { Allow: "GET, POST, DELETE" });
      }
      if (!sessionId) {
        // A 2026-07-28 client has no GET stream or session to end here: as every instance answers it.
        const version = request.headers.get("mcp-protocol-version")?.trim();
        if (method !== "POST" && version !== undefined && MODERN_VERSIONS.includes(version as never)) {
          return jsonError(405, -32000, "Method not allowed.", { Allow: "POST" });
        }
        return jsonError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
      }
      const session = await store.load(sessionId, auth.instance);
      if (!session) return jsonError(404, -32001, "Session not found");

      if (method === "DELETE") {
        const refused = unsupportedVersion(request);
        if (refused) return refused;
        await store.end(session);
        return new Response(null, { status: 200 });
      }
      if (method === "GET") {
        if (!(request.headers.get("accept") ?? "").includes("text/event-stream")) {
          return jsonError(406, -32000, "Not Acceptable: Client must accept text/event-stream");
        }
        const refused = unsupportedVersion(request);
        if (refused) return refused;
        const lastEventId = request.headers.get("last-event-id")?.slice(0, 128);
        const response =
          lastEventId && !lastEventId.startsWith(`${GET_STREAM}_`)
            ? await resume(session, lastEventId, request.signal)
            : await getStream(session, auth, request.signal, lastEventId || undefined);
        response.headers.set("mcp-session-id", sessionId);
        return response;
      }
      const messages = (Array.isArray(parsedBody) ? parsedBody : [parsedBody]) as JSONRPCMessage[];
      if (parsedBody !== undefined && !messages.some((m) => isJSONRPCRequest(m))) {
        // Answers to our requests, cancellations, `initialized`: on to the process holding the call, once the
        // request passed what the transport would check (a POST with requests gets those checks from it).
        const refused = unacceptablePost(request) ?? unsupportedVersion(request);
        if (refused) return refused;
        for (const m of messages) {
          const routed =
            isJSONRPCResultResponse(m) ||
            isJSONRPCErrorResponse(m) ||
            (isJSONRPCNotification(m) && m.method === "notifications/cancelled");
          if (routed) await bus.forward(session.hash, m);
        }
        return new Response(null, { status: 202, headers: { "mcp-session-id": sessionId } });
      }
      return serve(request, parsedBody, auth, session, sessionId, options.authInfo);
    },
  };
}

/**
 * Restores what the client's `initialize` told the session into a fresh Server (client capabilities and
 * info, the negotiated 2025 revision), by running the SDK's own `initialize` handling; the SDK has no
 * public way to do it. Covered by the session tests: if an SDK upgrade renames it, they fail.
 */
function restoreInitialize(server: Server, init: SessionRecord["init"]): void {
  const target = server as unknown as {
    _oninitialize?: (request: { method: string; params: SessionRecord["init"] }) => Promise<unknown>;
  };
  if (!target._oninitialize) throw new Error("SDK Server has no _oninitialize: cannot restore a session");
  void target._oninitialize({ method: "initialize", params: init });
}

/**
 * Passes a response body through, calling `done` once it ends or fails and `hungUp` when the client cancels it;
 * `cut` aborting ends it from our side (its source cancelled, the client's stream closed, `done` called).
 */
export function watch(
  body: ReadableStream<Uint8Array>,
  done: () => void,
  hungUp: () => void,
  cut?: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // Cancelling the reader ends its pending read: that end is the client's (or the cut's), not the exchange's.
  let gone = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      cut?.addEventListener(
        "abort",
        () => {
          if (gone) return;
          gone = true;
          done();
          void reader.cancel().catch(() => {});
          try {
            controller.close();
          } catch {}
        },
        { once: true },
      );
    },
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (gone) return;
        if (ended) {
          done();
          controller.close();
          return;
        }
        controller.enqueue(value);
      } catch (error) {
        if (gone) return;
        done();
        controller.error(error);
      }
    },
    cancel() {
      if (gone) return;
      // The client went away: the call goes on (it may resume); its transport is closed when it ends.
      gone = true;
      hungUp();
      void reader.cancel().catch(() => {});
    },
  });
}

/**
 * An SSE response fed by `open` (which subscribes and returns its unsubscribe), with keep-alive comments,
 * ended by `close()`, by the client going away, or by the request's abort.
 */
function sse(
  signal: AbortSignal,
  ended: AbortController | undefined,
  open: (
    write: (eventId: string, message: unknown) => void,
    close: () => void,
  ) => Promise<() => Promise<void>>,
): Response {
  const encoder = new TextEncoder();
  let unsubscribe: (() => Promise<void>) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  const finish = () => {
    if (closed) return;
    closed = true;
    ended?.abort();
    if (timer) clearInterval(timer);
    void unsubscribe?.().catch(() => {});
    try {
      controllerRef?.close();
    } catch {}
  };
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controllerRef = controller;
      const write = (eventId: string, message: unknown) => {
        if (closed) return;
        try {
          controller.enqueue(
            encoder.encode(`event: message\nid: ${eventId}\ndata: ${JSON.stringify(message)}\n\n`),
          );
        } catch {
          finish();
        }
      };
      timer = setInterval(() => {
        try {
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
        } catch {
          finish();
        }
      }, KEEPALIVE_MS);
      try {
        unsubscribe = await open(write, finish);
      } catch {
        // `open` undid what it had set up (the kv failed it); the stream ends, and stops following the upstream.
        finish();
        return;
      }
      if (closed) {
        void unsubscribe().catch(() => {});
        return;
      }
      // A first comment at once: until some body bytes are written Bun sends no response head, so a client
      // would otherwise wait for the first keep-alive (15 s) to learn that its stream is open.
      try {
        controller.enqueue(encoder.encode(": open\n\n"));
      } catch {
        finish();
      }
    },
    cancel: finish,
  });
  signal.addEventListener("abort", finish, { once: true });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
