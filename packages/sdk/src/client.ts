import type { AppRouter } from "@mcp/control-plane/router";
import { createTRPCUntypedClient, type TRPCClient, type TRPCProcedureOptions } from "@trpc/client";
import { type CallContext, type FetchLike, platformLink } from "./link.ts";
import { KEYSET_LISTS, type Page, paginate, paginateAfter } from "./paginate.ts";
import { type Backoff, DEFAULT_BACKOFF } from "./retry.ts";

export interface ClientOptions {
  /** The control plane's base URL, e.g. `https://mcp.example.com` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** An API key from the dashboard or `apiKeys.create` (`mcpsk_…`). */
  apiKey: string;
  /** Custom fetch (proxies, tests). Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Retries after the first attempt on connection errors, timeouts, 408, 429 and 5xx (default 2). */
  maxRetries?: number;
  /** Milliseconds one attempt may take, answer included (default 30,000); each retry gets its own. */
  timeout?: number;
  /** Sent with every call. */
  headers?: Record<string, string>;
  /** How retries wait (exponential backoff with full jitter; `Retry-After` honoured up to a cap). */
  backoff?: Partial<Backoff>;
}

/** Per-call options: the second argument of every `.query()`, `.mutate()` and `.iterate()`. */
export interface CallOptions {
  signal?: AbortSignal;
  timeout?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
  /** A mutation's `Idempotency-Key` (default: a fresh UUID per call, kept across its retries). */
  idempotencyKey?: string;
}

/**
 * What only a signed-in session may call: an API key gets 403 `FORBIDDEN` for every procedure of these
 * namespaces and for these procedures (a leaked key cannot mint keys, touch the account, or create, join or
 * leave organisations). The client, which always calls with an API key, leaves them out of its type.
 */
export const SESSION_ONLY = [
  "apiKeys",
  "account",
  "orgs.create",
  "orgs.acceptInvitation",
  "orgs.leave",
] as const;
type SessionOnly = (typeof SESSION_ONLY)[number];

type Methods<V, P extends string> = V extends {
  query: (input: infer I, opts?: TRPCProcedureOptions) => PromiseLike<infer O>;
}
  ? { query(input: I, opts?: CallOptions): Promise<O> } & (O extends Page<infer T>
      ? { iterate(input: I, opts?: CallOptions): AsyncGenerator<T, void, undefined> }
      : O extends (infer T)[]
        ? I extends { afterAt?: unknown }
          ? { iterate(input: I, opts?: CallOptions): AsyncGenerator<T, void, undefined> }
          : unknown
        : unknown)
  : V extends { mutate: (input: infer I, opts?: TRPCProcedureOptions) => PromiseLike<infer O> }
    ? { mutate(input: I, opts?: CallOptions): Promise<O> }
    : V extends object
      ? Procedures<V, `${P}.`>
      : never;

type Procedures<T, P extends string = ""> = {
  [K in keyof T as K extends string ? (`${P}${K}` extends SessionOnly ? never : K) : never]: Methods<
    T[K],
    `${P}${K & string}`
  >;
};

/**
 * Every procedure of the control plane an API key may call, with inputs and outputs inferred from its router
 * (not those of `SESSION_ONLY`).
 */
export type McpPlatformClient = Procedures<TRPCClient<AppRouter>>;

function positive(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a number >= ${min}`);
  return value;
}

/**
 * `<baseUrl>/trpc`, with or without a trailing slash or a path prefix. Anything but an absolute http(s) URL
 * without credentials, query or fragment is refused here, once, rather than failing every call after its
 * retries (the message never quotes the URL, which may hold a password).
 */
function trpcUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError("baseUrl must be an absolute http(s) URL, e.g. https://mcp.example.com");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError("baseUrl must be an http(s) URL");
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError("baseUrl must not hold credentials, a query or a fragment");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}/trpc`;
}

/**
 * The key, without surrounding whitespace (a key read from a file or an environment variable may end with a
 * newline). One that still holds anything but printable ASCII is refused without quoting it: Node's `Headers`
 * would otherwise throw an error that does, and that error would end up in logs.
 */
function apiKeyOf(apiKey: string): string {
  const key = typeof apiKey === "string" ? apiKey.trim() : "";
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new TypeError("apiKey must be an API key (mcpsk_…): printable ASCII characters, no spaces");
  }
  return key;
}

/** The defaults overridden by each field given (a field set to `undefined` keeps its default). */
function backoffOf(given: Partial<Backoff> = {}): Backoff {
  const backoff = { ...DEFAULT_BACKOFF };
  for (const name of Object.keys(DEFAULT_BACKOFF) as (keyof Backoff)[]) {
    const value = given[name];
    if (value !== undefined) backoff[name] = positive(`backoff.${name}`, value, 0);
  }
  return backoff;
}

/**
 * The typed client for integrators. Every call is its own HTTP request with retries and typed errors;
 * a mutation carries one `Idempotency-Key` across its retries, so a retried `instances.connect` connects
 * once.
 *
 * ```ts
 * const mcp = createClient({ baseUrl, apiKey });
 * const { instanceUrl } = await mcp.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
 * ```
 */
export function createClient(opts: ClientOptions): McpPlatformClient {
  const untyped = createTRPCUntypedClient<AppRouter>({
    links: [
      platformLink({
        url: trpcUrl(opts.baseUrl),
        apiKey: apiKeyOf(opts.apiKey),
        fetch: opts.fetch ?? ((url, init) => globalThis.fetch(url, init)),
        maxRetries: positive("maxRetries", opts.maxRetries ?? 2, 0),
        timeout: positive("timeout", opts.timeout ?? 30_000, 1),
        headers: opts.headers ?? {},
        backoff: backoffOf(opts.backoff),
      }),
    ],
  });

  const request = (type: "query" | "mutation", path: string, input: unknown, call: CallOptions = {}) => {
    const { signal, ...rest } = call;
    const context: Record<string, unknown> = { ...(rest satisfies CallContext) };
    if (rest.maxRetries !== undefined) positive("maxRetries", rest.maxRetries, 0);
    if (rest.timeout !== undefined) positive("timeout", rest.timeout, 1);
    return type === "query"
      ? untyped.query(path, input, { context, signal })
      : untyped.mutation(path, input, { context, signal });
  };

  return proxy([], (path, method, args) => {
    const [input, call] = args as [unknown, CallOptions | undefined];
    if (method === "query") return request("query", path, input, call);
    if (method === "mutate") return request("mutation", path, input, call);
    if (method === "iterate") {
      const keys = KEYSET_LISTS[path];
      if (keys) {
        const query = (i: object, o?: CallOptions) => request("query", path, i, o) as Promise<unknown[]>;
        return paginateAfter({ query }, (input ?? {}) as object, keys, call);
      }
      const query = (i: unknown, o?: CallOptions) => request("query", path, i, o) as Promise<Page<unknown>>;
      return paginate({ query }, input, call);
    }
    throw new TypeError(`${path}.${method} is not a client method (query, mutate, iterate)`);
  }) as McpPlatformClient;
}

type Invoke = (path: string, method: string, args: unknown[]) => unknown;

/** `client.a.b.query(…)` → invoke("a.b", "query", […]): the path is whatever was walked. */
function proxy(path: string[], invoke: Invoke): unknown {
  return new Proxy(() => {}, {
    get(_target, key) {
      // Not a thenable (`await client.instances` must not call anything), and nothing for JSON.stringify to call
      // (a logger serialising an object that holds the client must not throw).
      if (typeof key !== "string" || key === "then" || key === "toJSON") return undefined;
      return proxy([...path, key], invoke);
    },
    apply(_target, _this, args: unknown[]) {
      const method = path.at(-1);
      if (path.length < 2 || method === undefined) throw new TypeError("Call a procedure's method");
      return invoke(path.slice(0, -1).join("."), method, args);
    },
  });
}
