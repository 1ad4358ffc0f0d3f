// Run by test/sdk.node.test.ts with plain `node`: the built SDK (SDK_URL, a file URL of its dist/index.js)
// against a running control plane (BASE_URL, API_KEY; FIGMA_KEY is accepted by its fake Figma; nothing
// listens at DEAD_URL). Prints one JSON line of what it saw; the test checks it.
const sdk = await import(process.env.SDK_URL);
const { BASE_URL: baseUrl, API_KEY: apiKey, FIGMA_KEY: figmaKey, DEAD_URL: deadUrl } = process.env;
const fast = { initialMs: 1, maxMs: 5 };
const out = { node: process.version };

/** The class name, code and status of the error a call fails with. */
async function failure(call) {
  try {
    await call;
    return { threw: false };
  } catch (error) {
    return {
      name: error.constructor.name,
      platform: error instanceof sdk.McpPlatformError,
      trpc: sdk.isTRPCClientError(error),
      code: error.code,
      status: error.status,
      requestId: error.requestId,
      issues: error.issues,
    };
  }
}

// The first answer is lost on the way back: the SDK retries with the same Idempotency-Key.
const attempts = [];
const lossy = async (url, init) => {
  const res = await fetch(url, init);
  attempts.push({
    key: new Headers(init.headers).get("idempotency-key"),
    replayed: res.headers.get("idempotency-replayed"),
  });
  if (attempts.length === 1) {
    await res.arrayBuffer();
    throw new TypeError("socket hang up");
  }
  return res;
};
const mcp = sdk.createClient({ baseUrl, apiKey, fetch: lossy, backoff: fast });
out.connected = await mcp.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
out.attempts = attempts;

const client = sdk.createClient({ baseUrl, apiKey, backoff: fast });
out.listed = await client.instances.list.query();
out.validation = await failure(client.instances.connect.mutate({ serviceType: "figma", apiKey: " " }));
out.notFound = await failure(client.instances.rotate.mutate({ serviceType: "github" }));
out.forbidden = await failure(client.apiKeys.list.query());
const stranger = sdk.createClient({ baseUrl, apiKey: `mcpsk_${"x".repeat(43)}`, backoff: fast });
out.unauthorized = await failure(stranger.auth.me.query());

const silent = (_url, init) =>
  new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
const slow = sdk.createClient({ baseUrl, apiKey, fetch: silent, timeout: 20, maxRetries: 1, backoff: fast });
out.timeout = await failure(slow.instances.list.query());
const closed = sdk.createClient({ baseUrl: deadUrl, apiKey, maxRetries: 0 });
out.connection = await failure(closed.instances.list.query());

// A key or header value no HTTP header may hold: Node's Headers quotes such a value in its error, so the SDK
// must refuse it without quoting it (`leaks`: whether the secret shows in the message, JSON or inspection).
const { inspect } = await import("node:util");
const leaks = (error, secret) =>
  [error.message, JSON.stringify(error), inspect(error, { showHidden: true, depth: 10 })]
    .join("\n")
    .includes(secret);
try {
  sdk.createClient({ baseUrl, apiKey: `${apiKey.slice(0, 12)}\n${apiKey.slice(12)}` });
  out.badKey = { threw: false };
} catch (error) {
  out.badKey = { name: error.constructor.name, leaks: leaks(error, apiKey.slice(12)) };
}
const proxyAuth = "proxy-s3cret\ninjected";
const withBadHeader = sdk.createClient({ baseUrl, apiKey, headers: { "x-proxy-auth": proxyAuth } });
try {
  await withBadHeader.instances.list.query();
  out.badHeader = { threw: false };
} catch (error) {
  out.badHeader = { name: error.constructor.name, code: error.code, leaks: leaks(error, "s3cret") };
}

for (let i = 0; i < 2; i++) await client.instances.rotate.mutate({ serviceType: "figma" });
out.auditIds = [];
for await (const event of client.audit.list.iterate({ limit: 1 })) out.auditIds.push(event.id);
out.auditPage = (await client.audit.list.query({ limit: 100 })).items.map((e) => e.id);
out.helperIds = [];
for await (const event of sdk.paginate(client.audit.list, { limit: 2 })) out.helperIds.push(event.id);

console.log(JSON.stringify(out));
