import { avatar, FAKE_FILE_KEY, type FakeComment, type FakeUser } from "./figma-data.ts";
import { getFile, getImages, getNodes, json, notFound, postComment } from "./figma-routes.ts";

export { FAKE_FILE_KEY, type FakeUser } from "./figma-data.ts";

/** The token the fake accepts when no `keys` are given. */
export const FAKE_FIGMA_KEY = "figd_fake_token_0001";

export interface FakeFigmaOptions {
  /** Accepted `X-Figma-Token` values and the user each belongs to. */
  keys?: Map<string, FakeUser>;
  /** Keys of the files that exist; each holds the sample document. */
  files?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  token: string | null;
  body: unknown;
  headers: Record<string, string>;
}

export interface FakeFigma {
  url: string;
  requests: RecordedRequest[];
  /** Delay before every answer, to simulate a slow upstream. */
  delayMs: number;
  /** Registers another accepted token (a fresh user's key). */
  addKey(token: string, user: FakeUser): void;
  /** Stops accepting a token (revoked or expired upstream): it is answered 403 "Invalid token" from then on. */
  removeKey(token: string): void;
  /** Answer the next request (still recorded) with this status and body instead, e.g. 500. */
  failNext(status: number, body?: unknown): void;
  /** Answer the next request with this exact text (not JSON-encoded), e.g. an HTML error page behind a 200. */
  answerNext(status: number, text: string, contentType?: string): void;
  /** Stop listening so connections are refused; `up()` listens on the same port again. */
  down(): void;
  up(): void;
  stop(): void;
}

/** A real HTTP server on 127.0.0.1 shaped like the documented Figma REST API. */
export async function startFakeFigma(opts: FakeFigmaOptions = {}): Promise<FakeFigma> {
  const keys =
    opts.keys ?? new Map([[FAKE_FIGMA_KEY, { id: "1000001", email: "ada@example.com", handle: "Ada" }]]);
  const comments = new Map<string, FakeComment[]>((opts.files ?? [FAKE_FILE_KEY]).map((k) => [k, []]));
  const failures: (() => Response)[] = [];
  const requests: RecordedRequest[] = [];

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const text = await req.text();
    const token = req.headers.get("x-figma-token");
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    requests.push({
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      token,
      body,
      headers: Object.fromEntries(req.headers),
    });
    // The override belongs to the request that arrives next, not to whichever wakes up first: a slow request
    // a test gave up on must not take the answer queued by the test after it.
    const failure = failures.shift();
    if (fake.delayMs > 0) await Bun.sleep(fake.delayMs);
    if (failure) return failure();
    const user = token === null ? undefined : keys.get(token);
    if (!user) return json(403, { status: 403, err: "Invalid token" });
    const [, v1, kind, rawKey, sub, ...rest] = url.pathname.split("/");
    if (v1 !== "v1" || rest.length > 0) return notFound();
    if (kind === "me" && rawKey === undefined && req.method === "GET") {
      return json(200, { id: user.id, email: user.email, handle: user.handle, img_url: avatar(user) });
    }
    const fileKey = decodeURIComponent(rawKey ?? "");
    const fileComments = comments.get(fileKey);
    if (!fileComments) return notFound();
    const q = url.searchParams;
    if (kind === "files" && sub === undefined && req.method === "GET") return getFile(fileKey, q);
    if (kind === "files" && sub === "nodes" && req.method === "GET") return getNodes(q);
    if (kind === "files" && sub === "comments" && req.method === "GET")
      return json(200, { comments: fileComments });
    if (kind === "files" && sub === "comments" && req.method === "POST")
      return postComment(fileKey, fileComments, user, body);
    if (kind === "images" && sub === undefined && req.method === "GET") return getImages(q);
    return notFound();
  }

  let server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  const port = server.port;
  const fake: FakeFigma = {
    url: `http://127.0.0.1:${port}`,
    requests,
    delayMs: 0,
    addKey: (token, user) => void keys.set(token, user),
    removeKey: (token) => void keys.delete(token),
    failNext: (status, body) =>
      void failures.push(() => json(status, body ?? { status, err: `Fake failure ${status}` })),
    answerNext: (status, text, contentType = "application/json") =>
      void failures.push(() => new Response(text, { status, headers: { "content-type": contentType } })),
    down: () => server.stop(true),
    up: () => {
      server = Bun.serve({ hostname: "127.0.0.1", port, fetch: handle });
    },
    stop: () => server.stop(true),
  };
  return fake;
}
