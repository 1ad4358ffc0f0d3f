// Every bad input the control plane can get, over real HTTP: each answer's exact status and code, and
// proof that nothing was stored and that the upstream was not called when it should not have been.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { credentials, instances, users } from "@mcp/db";
import { createClient, errorCode } from "@mcp/sdk";
import {
  connectFigma,
  data,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

// ---------------------------------------------------------------------------------------------------
// helpers

/** The user has no instance (API and database agree) and no credential row. */
async function expectNothingStored(s: Stack, user: TestUser): Promise<void> {
  const listed = await trpc(s, "instances.list", undefined, { cookie: user.cookie });
  expect(data<unknown[]>(listed)).toEqual([]);
  const db = s.platform.deps.db;
  const creds = (await db.select().from(credentials)).filter((r) => r.userId === user.userId);
  const insts = (await db.select().from(instances)).filter((r) => r.userId === user.userId);
  expect({ creds, insts }).toEqual({ creds: [], insts: [] });
}

const upstreamMark = (s: Stack) => s.figma.requests.length;
const upstreamSince = (s: Stack, mark: number) => s.figma.requests.slice(mark);

// Bodies of `instances.connect` / `POST …/authenticate` that must fail validation before any upstream call.
const BAD_KEY_BODIES: [string, Record<string, unknown>][] = [
  ["empty apiKey", { apiKey: "" }],
  ["whitespace-only apiKey", { apiKey: " \t\n  " }],
  ["apiKey over 4096 chars", { apiKey: `figd_${"k".repeat(4092)}` }],
  ["numeric apiKey", { apiKey: 12345 }],
  ["object apiKey", { apiKey: { token: "figd_abc" } }],
  ["array apiKey", { apiKey: ["figd_abc"] }],
  ["boolean apiKey", { apiKey: true }],
  ["null apiKey", { apiKey: null }],
  ["missing apiKey", {}],
  ["additionalCredentials not an object", { apiKey: "figd_abc", additionalCredentials: "x" }],
  ["additionalCredentials with a non-string value", { apiKey: "figd_abc", additionalCredentials: { a: 1 } }],
  [
    "more than 16 additionalCredentials",
    {
      apiKey: "figd_abc",
      additionalCredentials: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
    },
  ],
];

// ---------------------------------------------------------------------------------------------------

describe("instances.connect / POST /services/:type/authenticate: bad input", () => {
  for (const [label, body] of BAD_KEY_BODIES) {
    test(`${label} → 400 BAD_REQUEST on tRPC and REST, no upstream call, nothing stored`, async () => {
      const user = await newUser(stack);
      const mark = upstreamMark(stack);
      const viaTrpc = await trpc(
        stack,
        "instances.connect",
        { serviceType: "figma", ...body },
        { cookie: user.cookie },
      );
      expectTrpcError(viaTrpc, 400, "BAD_REQUEST");
      const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
        body,
        auth: { cookie: user.cookie },
      });
      expectRestError(viaRest, 400, "BAD_REQUEST");
      expect(upstreamSince(stack, mark)).toEqual([]);
      await expectNothingStored(stack, user);
    });
  }

  test("the zod issue names the field on both transports", async () => {
    const user = await newUser(stack);
    const viaTrpc = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: 5 },
      { cookie: user.cookie },
    );
    const issues = (viaTrpc.body.error?.data as { issues?: { path: string[] }[] } | undefined)?.issues;
    expect(issues?.[0]?.path).toEqual(["apiKey"]);
    const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: 5 },
      auth: { cookie: user.cookie },
    });
    expect(viaRest.body.issues).toEqual([{ path: ["apiKey"], message: expect.any(String) }]);
  });

  test("an apiKey of exactly 4096 chars passes validation and is checked upstream", async () => {
    const user = await newUser(stack);
    const key = `figd_${"k".repeat(4091)}`;
    expect(key).toHaveLength(4096);
    const mark = upstreamMark(stack);
    const res = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: key },
      { cookie: user.cookie },
    );
    expectTrpcError(res, 400, "INVALID_API_KEY");
    expect(upstreamSince(stack, mark).map((r) => r.token)).toEqual([key]);
    await expectNothingStored(stack, user);
  });

  test("unknown service type → 404 NOT_FOUND on both, no upstream call", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "unknown-svc");
    const mark = upstreamMark(stack);
    const viaTrpc = await trpc(
      stack,
      "instances.connect",
      { serviceType: "nosuchservice", apiKey: key },
      { cookie: user.cookie },
    );
    expectTrpcError(viaTrpc, 404, "NOT_FOUND");
    const viaRest = await rest(stack, "POST", "/services/nosuchservice/authenticate", {
      body: { apiKey: key },
      auth: { cookie: user.cookie },
    });
    expectRestError(viaRest, 404, "NOT_FOUND");
    expect(upstreamSince(stack, mark)).toEqual([]);
    await expectNothingStored(stack, user);
  });

  test("malformed service type (upper case, spaces, too long) → 400 BAD_REQUEST", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "bad-type");
    const mark = upstreamMark(stack);
    for (const serviceType of ["FIGMA", "fig ma", "", "f".repeat(33), 7]) {
      const res = await trpc(
        stack,
        "instances.connect",
        { serviceType, apiKey: key },
        { cookie: user.cookie },
      );
      expectTrpcError(res, 400, "BAD_REQUEST");
    }
    for (const path of ["/services/FIGMA/authenticate", `/services/${"f".repeat(33)}/authenticate`]) {
      const res = await rest(stack, "POST", path, { body: { apiKey: key }, auth: { cookie: user.cookie } });
      expectRestError(res, 400, "BAD_REQUEST");
    }
    expect(upstreamSince(stack, mark)).toEqual([]);
    await expectNothingStored(stack, user);
  });

  test("missing input altogether → 400 on tRPC", async () => {
    const user = await newUser(stack);
    const res = await trpc(stack, "instances.connect", undefined, { cookie: user.cookie });
    expectTrpcError(res, 400, "BAD_REQUEST");
    await expectNothingStored(stack, user);
  });

  for (const [label, raw] of [
    ["not JSON", "apiKey=figd_abc"],
    ["truncated JSON", '{"apiKey": "figd_'],
    ["empty body", ""],
    ["a JSON array", '["figd_abc"]'],
    ["JSON null", "null"],
    ["a JSON string", '"figd_abc"'],
    ["a JSON number", "42"],
  ] as const) {
    test(`REST body that is ${label} → 400 BAD_REQUEST, no upstream call`, async () => {
      const user = await newUser(stack);
      const mark = upstreamMark(stack);
      const res = await rest(stack, "POST", "/services/figma/authenticate", {
        raw,
        auth: { cookie: user.cookie },
      });
      expectRestError(res, 400, "BAD_REQUEST");
      expect(upstreamSince(stack, mark)).toEqual([]);
      await expectNothingStored(stack, user);
    });
  }

  test("tRPC body that is not JSON → 400 BAD_REQUEST; the message never quotes the body (a key sent unquoted)", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "unquoted");
    for (const body of ["{not json", `{"serviceType":"figma","apiKey": ${key}}`]) {
      const res = await fetch(`${stack.controlPlaneUrl}/trpc/instances.connect`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: user.cookie },
        body,
      });
      const text = await res.text();
      expectTrpcError(
        { status: res.status, body: JSON.parse(text) as TrpcAnswer["body"] },
        400,
        "BAD_REQUEST",
      );
      expect(JSON.parse(text).error.message).toBe("Input must be JSON");
      expect(text).not.toContain(key);
      // The same over GET's `?input=`.
      const viaGet = await fetch(
        `${stack.controlPlaneUrl}/trpc/instances.list?input=${encodeURIComponent(body)}`,
        { headers: { cookie: user.cookie } },
      );
      const got = await viaGet.text();
      expect({ status: viaGet.status, leaks: got.includes(key) }).toEqual({ status: 400, leaks: false });
    }
    await expectNothingStored(stack, user);
  });

  test("body over 64 KB → 413 PAYLOAD_TOO_LARGE on REST and tRPC, no upstream call", async () => {
    const user = await newUser(stack);
    const big = { serviceType: "figma", apiKey: `figd_${"x".repeat(70 * 1024)}` };
    const mark = upstreamMark(stack);
    const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: big.apiKey },
      auth: { cookie: user.cookie },
    });
    expectRestError(viaRest, 413, "PAYLOAD_TOO_LARGE");
    const viaTrpc = await trpc(stack, "instances.connect", big, { cookie: user.cookie });
    expectTrpcError(viaTrpc, 413, "PAYLOAD_TOO_LARGE");
    expect(upstreamSince(stack, mark)).toEqual([]);
    await expectNothingStored(stack, user);
  });

  test("a procedure or REST route called with the wrong method → 405 METHOD_NOT_ALLOWED (REST with Allow), nothing changed", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "wrong-method");
    const mark = upstreamMark(stack);
    const get = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: key },
      {
        cookie: user.cookie,
        method: "GET",
      },
    );
    expectTrpcError(get, 405, "METHOD_NOT_ALLOWED");
    expect(get.headers.get("allow")).toBe("POST");
    const posted = await trpc(stack, "instances.list", undefined, { cookie: user.cookie, method: "POST" });
    expectTrpcError(posted, 405, "METHOD_NOT_ALLOWED");
    expect(posted.headers.get("allow")).toBe("GET");
    const auth = { cookie: user.cookie };
    const cases: [string, string, string][] = [
      ["PUT", "/services/figma/authenticate", "POST"],
      ["GET", "/services/figma/authenticate", "POST"],
      ["POST", "/services/figma/instance", "GET, HEAD, DELETE"],
      ["PATCH", "/user/instances", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await rest(stack, method, path, {
        auth,
        ...(method !== "GET" && { body: { apiKey: key } }),
      });
      expectRestError(res, 405, "METHOD_NOT_ALLOWED");
      expect([method, path, res.headers.get("allow")]).toEqual([method, path, allow]);
    }
    // With an Idempotency-Key the 405 is not kept: a repeat is refused afresh, Allow and all, not replayed.
    for (const _ of [1, 2]) {
      const res = await fetch(`${stack.controlPlaneUrl}/api/v1/services/figma/authenticate`, {
        method: "PUT",
        headers: {
          cookie: user.cookie,
          "content-type": "application/json",
          "idempotency-key": "wrong-method-1",
        },
        body: JSON.stringify({ apiKey: key }),
      });
      expect([res.status, res.headers.get("allow"), res.headers.get("idempotency-replayed")]).toEqual([
        405,
        "POST",
        null,
      ]);
    }
    // The methods a path does take still answer, and an unknown path is still a 404.
    expect((await rest(stack, "GET", "/user/instances", { auth })).status).toBe(200);
    expectRestError(await rest(stack, "PUT", "/user/nope", { auth }), 404, "NOT_FOUND");
    expect(upstreamSince(stack, mark)).toEqual([]);
    await expectNothingStored(stack, user);
  });

  test("a NUL character anywhere in the input (names, keys, passwords, nested) → 400 naming the field, on both", async () => {
    const user = await newUser(stack);
    const auth = { cookie: user.cookie };
    const nul = "a\u0000b";
    const cases: [string, unknown, string][] = [
      ["apiKeys.create", { name: nul }, "name"],
      ["orgs.create", { name: `Acme${nul}` }, "name"],
      ["instances.connect", { serviceType: "figma", apiKey: `figd_${nul}` }, "apiKey"],
      [
        "instances.connect",
        { serviceType: "figma", apiKey: "k", additionalCredentials: { [nul]: "v" } },
        "additionalCredentials.a\u0000b",
      ],
      ["auth.signIn", { email: user.email, password: `correct horse${nul}` }, "password"],
    ];
    const mark = upstreamMark(stack);
    for (const [procedure, input, field] of cases) {
      const answer = await trpc(stack, procedure, input, auth);
      expectTrpcError(answer, 400, "BAD_REQUEST");
      expect(answer.body.error?.message).toBe(`${field}: must not contain NUL characters`);
    }
    // REST goes through the same procedures: the same 400, with our error shape.
    const restAnswer = await rest(stack, "POST", "/orgs", { auth, body: { name: nul } });
    expectRestError(restAnswer, 400, "BAD_REQUEST");
    expect(restAnswer.body.error).toBe("name: must not contain NUL characters");
    const settings = await rest(stack, "PATCH", "/services/figma/instance/settings", {
      auth,
      body: { displayName: nul },
    });
    expect(settings.status).toBe(400);
    // Nothing was made, nothing was sent upstream.
    expect(upstreamMark(stack)).toBe(mark);
    expect(data<unknown[]>(await trpc(stack, "apiKeys.list", undefined, auth))).toEqual([]);
    expect(data<{ personal: boolean }[]>(await trpc(stack, "orgs.list", undefined, auth))).toHaveLength(1);
    await expectNothingStored(stack, user);
  });

  test("a field the procedure does not know (a typo) → 400 naming it, on both transports; nothing is changed", async () => {
    const user = await newUser(stack);
    const auth = { cookie: user.cookie };
    await connectFigma(stack, user, figmaKeyFor(stack, user.userId));
    const typo = { serviceType: "figma", readOnly: true, ratelimitPerMinute: 5 };
    const viaTrpc = await trpc(stack, "instances.updateSettings", typo, auth);
    expectTrpcError(viaTrpc, 400, "BAD_REQUEST");
    expect(viaTrpc.body.error?.message).toContain('"ratelimitPerMinute"');
    const viaRest = await rest(stack, "PATCH", "/services/figma/instance/settings", {
      auth,
      body: { readOnly: true, ratelimitPerMinute: 5 },
    });
    expectRestError(viaRest, 400, "BAD_REQUEST");
    expect(viaRest.body.error).toContain('"ratelimitPerMinute"');
    const unchanged = data<{ readOnly?: boolean }>(
      await trpc(stack, "instances.get", { serviceType: "figma" }, auth),
    );
    expect(unchanged.readOnly).toBe(false);
  });

  test("an instant with a fraction of 3,000 digits → 400 (every string is bounded), on audit and usage", async () => {
    const user = await newUser(stack);
    const long = `2026-01-01T00:00:00.${"1".repeat(3000)}Z`;
    const audit = await trpc(stack, "audit.list", { filters: { from: long } }, { cookie: user.cookie });
    expectTrpcError(audit, 400, "BAD_REQUEST");
    const usage = await trpc(
      stack,
      "usage.summary",
      { from: long, to: "2026-01-02T00:00:00Z" },
      { cookie: user.cookie },
    );
    expectTrpcError(usage, 400, "BAD_REQUEST");
    // The same instant written plainly is fine.
    const plain = await trpc(
      stack,
      "audit.list",
      { filters: { from: "2026-01-01T00:00:00.1Z" } },
      { cookie: user.cookie },
    );
    expect(plain.status).toBe(200);
  });

  test("unknown procedure and unknown REST endpoint → 404 NOT_FOUND", async () => {
    const user = await newUser(stack);
    expectTrpcError(await trpc(stack, "instances.nope", {}, { cookie: user.cookie }), 404, "NOT_FOUND");
    expectRestError(await rest(stack, "GET", "/nope", { auth: { cookie: user.cookie } }), 404, "NOT_FOUND");
  });
});

describe("instances.connect: the upstream rejects the key", () => {
  test("→ 400 INVALID_API_KEY; REST body is exactly { error, code, requestId }; nothing stored", async () => {
    const user = await newUser(stack);
    const wrong = `figd_wrong_${crypto.randomUUID()}`;
    const mark = upstreamMark(stack);
    const viaTrpc = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: wrong },
      { cookie: user.cookie },
    );
    expectTrpcError(viaTrpc, 400, "INVALID_API_KEY");
    expect(viaTrpc.body.error?.message).toBe("Invalid API key");
    const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: wrong },
      auth: { cookie: user.cookie },
    });
    expect(viaRest.status).toBe(400);
    expect(viaRest.body).toEqual({
      error: "Invalid API key",
      code: "INVALID_API_KEY",
      requestId: expect.any(String),
    });
    // Checked once per attempt with the documented validation request; the key is never echoed.
    expect(upstreamSince(stack, mark)).toEqual([
      expect.objectContaining({ method: "GET", path: "/v1/me", token: wrong }),
      expect.objectContaining({ method: "GET", path: "/v1/me", token: wrong }),
    ]);
    expect(JSON.stringify(viaTrpc.body) + JSON.stringify(viaRest.body)).not.toContain(wrong);
    await expectNothingStored(stack, user);
  });

  test("reconnecting with a rejected key leaves the working instance and its credential untouched", async () => {
    const user = await newUser(stack);
    const good = figmaKeyFor(stack, "keeper");
    const { instanceId } = await connectFigma(stack, user, good);
    const db = stack.platform.deps.db;
    const credBefore = (await db.select().from(credentials)).filter((r) => r.userId === user.userId);
    const instBefore = (await db.select().from(instances)).filter((r) => r.userId === user.userId);

    const res = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: "figd_definitely_wrong" },
      auth: { cookie: user.cookie },
    });
    expect(res.body).toEqual({
      error: "Invalid API key",
      code: "INVALID_API_KEY",
      requestId: expect.any(String),
    });

    const credAfter = (await db.select().from(credentials)).filter((r) => r.userId === user.userId);
    const instAfter = (await db.select().from(instances)).filter((r) => r.userId === user.userId);
    expect(credAfter).toEqual(credBefore);
    expect(instAfter).toEqual(instBefore);
    const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: user.cookie });
    expect(data(got)).toMatchObject({ instanceId, status: "active", isActive: true });
  });
});

// Outages get their own stack: their failures feed the upstream's circuit breaker, which must not
// leak into the rest of this file. Each test ends with a successful connect, which also resets it.
describe("instances.connect: upstream down, slow or failing → 503 SERVICE_UNAVAILABLE", () => {
  let outage: Stack;
  beforeAll(async () => {
    outage = await startStack();
  });
  afterAll(() => outage.stop());

  async function expectBothUnavailable(user: TestUser, key: string): Promise<void> {
    const [viaTrpc, viaRest] = await Promise.all([
      trpc(outage, "instances.connect", { serviceType: "figma", apiKey: key }, { cookie: user.cookie }),
      rest(outage, "POST", "/services/figma/authenticate", {
        body: { apiKey: key },
        auth: { cookie: user.cookie },
      }),
    ]);
    expectTrpcError(viaTrpc, 503, "SERVICE_UNAVAILABLE");
    expectRestError(viaRest, 503, "SERVICE_UNAVAILABLE");
    expect(JSON.stringify(viaTrpc.body) + JSON.stringify(viaRest.body)).not.toContain(key);
    await expectNothingStored(outage, user);
  }

  /** After the outage a good key connects again (and the breaker's failure count starts over). */
  async function expectRecovered(): Promise<void> {
    const user = await newUser(outage);
    const { instanceUrl } = await connectFigma(outage, user, figmaKeyFor(outage, "recovered"));
    expect(instanceUrl).toStartWith(outage.edgeUrl);
  }

  test("upstream unreachable", async () => {
    const user = await newUser(outage);
    const key = figmaKeyFor(outage, "down");
    outage.figma.down();
    try {
      await expectBothUnavailable(user, key);
    } finally {
      outage.figma.up();
    }
    await expectRecovered();
  }, 20_000);

  test("upstream timing out (slower than the 5 s validation timeout)", async () => {
    const user = await newUser(outage);
    const key = figmaKeyFor(outage, "slow");
    const mark = upstreamMark(outage);
    outage.figma.delayMs = 8_000;
    try {
      await expectBothUnavailable(user, key);
    } finally {
      outage.figma.delayMs = 0;
    }
    // The upstream was asked (and answered too late).
    expect(upstreamSince(outage, mark).filter((r) => r.token === key)).toHaveLength(2);
    await expectRecovered();
  }, 25_000);

  for (const status of [500, 502, 503, 429]) {
    test(`upstream answers ${status}`, async () => {
      const user = await newUser(outage);
      const key = figmaKeyFor(outage, `fail-${status}`);
      const mark = upstreamMark(outage);
      outage.figma.failNext(status);
      outage.figma.failNext(status);
      await expectBothUnavailable(user, key);
      expect(upstreamSince(outage, mark).filter((r) => r.token === key)).toHaveLength(2);
      await expectRecovered();
    }, 20_000);
  }
});

describe("auth: bad input", () => {
  const PASSWORD = "correct horse battery";

  test("duplicate sign-up email, also differently cased → 409 CONFLICT, no session issued", async () => {
    const user = await newUser(stack);
    for (const email of [user.email, user.email.toUpperCase(), `U${user.email.slice(1)}`]) {
      const res = await trpc(stack, "auth.signUp", { email, password: "another good password" });
      expectTrpcError(res, 409, "CONFLICT");
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    // The original account still signs in with its own password only.
    const ok = await trpc(stack, "auth.signIn", { email: user.email, password: PASSWORD });
    expect(data<{ id: string }>(ok).id).toBe(user.userId);
    const other = await trpc(stack, "auth.signIn", { email: user.email, password: "another good password" });
    expectTrpcError(other, 401, "UNAUTHORIZED");
  });

  test("password under 10 chars (or missing / not a string / over 256) → 400, no account made", async () => {
    const email = `short-${crypto.randomUUID()}@example.test`;
    for (const password of ["123456789", "", undefined, 1234567890, "p".repeat(257)]) {
      const res = await trpc(stack, "auth.signUp", { email, password });
      expectTrpcError(res, 400, "BAD_REQUEST");
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    const rows = (await stack.platform.deps.db.select().from(users)).filter((u) => u.email === email);
    expect(rows).toEqual([]);
    expectTrpcError(await trpc(stack, "auth.signIn", { email, password: "123456789" }), 401, "UNAUTHORIZED");
  });

  test("invalid email → 400 BAD_REQUEST on sign-up and sign-in", async () => {
    for (const email of ["not-an-email", "", "a@", "@example.test", "a b@example.test", 42, undefined]) {
      expectTrpcError(await trpc(stack, "auth.signUp", { email, password: PASSWORD }), 400, "BAD_REQUEST");
      expectTrpcError(await trpc(stack, "auth.signIn", { email, password: PASSWORD }), 400, "BAD_REQUEST");
    }
  });

  test("wrong password and unknown email → 401 UNAUTHORIZED with the same message", async () => {
    const user = await newUser(stack);
    const wrong = await trpc(stack, "auth.signIn", { email: user.email, password: "wrong password!!" });
    const unknown = await trpc(stack, "auth.signIn", {
      email: `nobody-${crypto.randomUUID()}@example.test`,
      password: "wrong password!!",
    });
    expectTrpcError(wrong, 401, "UNAUTHORIZED");
    expectTrpcError(unknown, 401, "UNAUTHORIZED");
    expect(wrong.body.error).toEqual(unknown.body.error as NonNullable<TrpcAnswer["body"]["error"]>);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(unknown.headers.get("set-cookie")).toBeNull();
  });

  test("a short password for an existing account gets the generic 401, not a 400", async () => {
    const user = await newUser(stack);
    const short = await trpc(stack, "auth.signIn", { email: user.email, password: "short" });
    const unknown = await trpc(stack, "auth.signIn", {
      email: `nobody-${crypto.randomUUID()}@example.test`,
      password: "short",
    });
    expectTrpcError(short, 401, "UNAUTHORIZED");
    expect(short.body.error).toEqual(unknown.body.error as NonNullable<TrpcAnswer["body"]["error"]>);
  });

  test("sign-in matches the email case-insensitively (control)", async () => {
    const user = await newUser(stack);
    const res = await trpc(stack, "auth.signIn", { email: user.email.toUpperCase(), password: PASSWORD });
    expect(data<{ id: string }>(res).id).toBe(user.userId);
    expect(res.headers.get("set-cookie")).toStartWith("mcp_session=");
  });
});

describe("unauthenticated", () => {
  const AUTHED: [string, unknown][] = [
    ["instances.connect", { serviceType: "figma", apiKey: "figd_anything" }],
    ["instances.list", undefined],
    ["instances.get", { serviceType: "figma" }],
    ["instances.rotate", { serviceType: "figma" }],
    ["instances.revoke", { serviceType: "figma" }],
    ["apiKeys.create", { name: "ci" }],
    ["apiKeys.list", undefined],
    ["apiKeys.revoke", { id: "key_doesnotmatter" }],
  ];
  const REST: [string, string, unknown][] = [
    ["POST", "/services/figma/authenticate", { apiKey: "figd_anything" }],
    ["GET", "/services/figma/instance", undefined],
    ["DELETE", "/services/figma/instance", undefined],
    ["GET", "/user/instances", undefined],
  ];

  test("every authed procedure without cookie or key → 401 UNAUTHORIZED, no upstream call", async () => {
    const mark = upstreamMark(stack);
    for (const [path, input] of AUTHED) {
      const res = await trpc(stack, path, input);
      expectTrpcError(res, 401, "UNAUTHORIZED");
      // RFC 9110: a 401 says how to authenticate (an API key is a bearer token).
      expect([path, res.headers.get("www-authenticate")]).toEqual([path, 'Bearer realm="mcp-platform"']);
    }
    expect(upstreamSince(stack, mark)).toEqual([]);
  });

  test("every REST endpoint without cookie or key → 401 { error, code, requestId }", async () => {
    const mark = upstreamMark(stack);
    for (const [method, path, body] of REST) {
      const res = await rest(stack, method, path, { body });
      expectRestError(res, 401, "UNAUTHORIZED");
      expect([path, res.headers.get("www-authenticate")]).toEqual([path, 'Bearer realm="mcp-platform"']);
    }
    // Only a 401 carries the challenge.
    expect((await rest(stack, "GET", "/services")).headers.get("www-authenticate")).toBeNull();
    expect(upstreamSince(stack, mark)).toEqual([]);
  });

  test("a forged or expired session cookie is anonymous: 401 on authed calls, auth.me null", async () => {
    const user = await newUser(stack);
    const signOut = await trpc(stack, "auth.signOut", undefined, { cookie: user.cookie });
    expect(signOut.status).toBe(200);
    for (const cookie of [
      user.cookie,
      "mcp_session=forged-session-secret",
      `mcp_session=${"a".repeat(500)}`,
    ]) {
      expectTrpcError(await trpc(stack, "instances.list", undefined, { cookie }), 401, "UNAUTHORIZED");
      expectRestError(await rest(stack, "GET", "/user/instances", { auth: { cookie } }), 401, "UNAUTHORIZED");
      expect(data(await trpc(stack, "auth.me", undefined, { cookie }))).toBeNull();
    }
  });

  test("auth.me anonymous → null; services.list is public", async () => {
    expect(data(await trpc(stack, "auth.me"))).toBeNull();
    const services = data<{ type: string }[]>(await trpc(stack, "services.list"));
    expect(services.map((s) => s.type)).toContain("figma");
  });

  test("a malformed, unknown or revoked API key in Authorization → 401, even with a valid cookie", async () => {
    const user = await newUser(stack);
    const created = data<{ id: string; key: string }>(
      await trpc(stack, "apiKeys.create", { name: "soon revoked" }, { cookie: user.cookie }),
    );
    expect((await trpc(stack, "apiKeys.revoke", { id: created.id }, { cookie: user.cookie })).status).toBe(
      200,
    );
    const unknownKey = `mcpsk_${"A".repeat(43)}`;
    const headersList = [
      "Bearer nope",
      "Bearer ",
      "Bearer mcpsk_short",
      `Bearer ${unknownKey}`,
      `Bearer ${created.key}`,
      `Bearer ${created.key} extra`,
      `Basic ${btoa("user:pass")}`,
      created.key,
    ];
    const mark = upstreamMark(stack);
    for (const authorization of headersList) {
      for (const cookie of [undefined, user.cookie]) {
        const auth = { authorization, cookie };
        const listed = await trpc(stack, "instances.list", undefined, auth);
        expectTrpcError(listed, 401, "UNAUTHORIZED");
        // A bearer token presented is what failed: the challenge says so (RFC 6750, 3.1); another scheme (or
        // none) is told only how to authenticate.
        const challenge = /^bearer\s/i.test(authorization.trim())
          ? 'Bearer realm="mcp-platform", error="invalid_token"'
          : 'Bearer realm="mcp-platform"';
        expect(listed.headers.get("www-authenticate")).toBe(challenge);
        expectTrpcError(await trpc(stack, "auth.me", undefined, auth), 401, "UNAUTHORIZED");
        expectTrpcError(
          await trpc(stack, "instances.connect", { serviceType: "figma", apiKey: "figd_x" }, auth),
          401,
          "UNAUTHORIZED",
        );
        const viaRest = await rest(stack, "GET", "/user/instances", { auth });
        expectRestError(viaRest, 401, "UNAUTHORIZED");
        expect(viaRest.headers.get("www-authenticate")).toBe(challenge);
      }
    }
    expect(upstreamSince(stack, mark)).toEqual([]);
    await expectNothingStored(stack, user);
  });
});

describe("API keys", () => {
  test("created with a cookie, usable as Bearer on tRPC and REST, shown only once", async () => {
    const user = await newUser(stack);
    const created = await trpc(stack, "apiKeys.create", { name: "ci pipeline" }, { cookie: user.cookie });
    const key = data<{ id: string; name: string; prefix: string; key: string; createdAt: string }>(created);
    expect(key.key).toMatch(/^mcpsk_[A-Za-z0-9_-]{43}$/);
    expect(key.name).toBe("ci pipeline");
    expect(key.key.startsWith(key.prefix)).toBe(true);
    expect(key.prefix.length).toBeLessThan(key.key.length / 2);

    const me = data<{ id: string }>(await trpc(stack, "auth.me", undefined, { apiKey: key.key }));
    expect(me.id).toBe(user.userId);
    expect(data(await trpc(stack, "instances.list", undefined, { apiKey: key.key }))).toEqual([]);
    const viaRest = await rest(stack, "GET", "/user/instances", { auth: { apiKey: key.key } });
    expect(viaRest).toMatchObject({ status: 200, body: { instances: [] } });

    {
      const listed = data<Record<string, unknown>[]>(
        await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }),
      );
      expect(listed).toHaveLength(1);
      expect(Object.keys(listed[0] ?? {}).sort()).toEqual([
        "createdAt",
        "expiresAt",
        "id",
        "lastUsedAt",
        "name",
        "prefix",
        "scopes",
      ]);
      expect(listed[0]).toMatchObject({ id: key.id, name: "ci pipeline", prefix: key.prefix });
      const text = JSON.stringify(listed);
      expect(text).not.toContain(key.key);
      expect(text).not.toContain(key.key.slice(key.prefix.length));
      expect(text).not.toContain(new Bun.CryptoHasher("sha256").update(key.key).digest("hex"));
    }
  });

  test("revoke → the key stops working at once (401) and leaves the list; revoking twice → 404", async () => {
    const user = await newUser(stack);
    const keep = data<{ id: string; key: string }>(
      await trpc(stack, "apiKeys.create", { name: "keep" }, { cookie: user.cookie }),
    );
    const drop = data<{ id: string; key: string }>(
      await trpc(stack, "apiKeys.create", { name: "drop" }, { cookie: user.cookie }),
    );
    expect((await trpc(stack, "instances.list", undefined, { apiKey: drop.key })).status).toBe(200);

    const revoked = await trpc(stack, "apiKeys.revoke", { id: drop.id }, { cookie: user.cookie });
    expect(data(revoked)).toEqual({ id: drop.id });
    expectTrpcError(
      await trpc(stack, "instances.list", undefined, { apiKey: drop.key }),
      401,
      "UNAUTHORIZED",
    );
    expectRestError(
      await rest(stack, "GET", "/user/instances", { auth: { apiKey: drop.key } }),
      401,
      "UNAUTHORIZED",
    );
    const listed = data<{ id: string }[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }),
    );
    expect(listed.map((k) => k.id)).toEqual([keep.id]);
    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: drop.id }, { cookie: user.cookie }),
      404,
      "NOT_FOUND",
    );
    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: "key_doesnotexist" }, { cookie: user.cookie }),
      404,
      "NOT_FOUND",
    );
    // The surviving key still works.
    expect((await trpc(stack, "instances.list", undefined, { apiKey: keep.key })).status).toBe(200);
  });

  test("name empty, blank, over 64 chars, not a string or missing → 400; nothing created", async () => {
    const user = await newUser(stack);
    for (const input of [
      { name: "" },
      { name: "   " },
      { name: "n".repeat(65) },
      { name: 7 },
      { name: null },
      {},
    ]) {
      expectTrpcError(
        await trpc(stack, "apiKeys.create", input, { cookie: user.cookie }),
        400,
        "BAD_REQUEST",
      );
    }
    expect(data(await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }))).toEqual([]);
    // 64 is allowed.
    const ok = await trpc(stack, "apiKeys.create", { name: "n".repeat(64) }, { cookie: user.cookie });
    expect(data<{ name: string }>(ok).name).toHaveLength(64);
  });

  test("apiKeys.revoke with a bad id → 400", async () => {
    const user = await newUser(stack);
    for (const input of [{ id: "" }, { id: "k".repeat(65) }, { id: 1 }, {}]) {
      expectTrpcError(
        await trpc(stack, "apiKeys.revoke", input, { cookie: user.cookie }),
        400,
        "BAD_REQUEST",
      );
    }
  });
});

describe("the typed SDK", () => {
  async function sdkFor(user: TestUser) {
    const created = await trpc(stack, "apiKeys.create", { name: "sdk" }, { cookie: user.cookie });
    const { id, key } = data<{ id: string; key: string }>(created);
    return { id, key, client: createClient({ baseUrl: `${stack.controlPlaneUrl}/`, apiKey: key }) };
  }

  async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
    try {
      await call;
    } catch (err) {
      return errorCode(err);
    }
    throw new Error("expected the call to fail");
  }

  test("connect, list, get, rotate, revoke with an API key", async () => {
    const user = await newUser(stack);
    const { client } = await sdkFor(user);
    const figmaKey = figmaKeyFor(stack, "sdk-user");

    const issued = await client.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
    expect(issued.serviceType).toBe("figma");
    expect(issued.instanceUrl).toMatch(new RegExp(`^${stack.edgeUrl}/mcp_fig_[A-Za-z0-9_-]{43}/mcp$`));

    const [listed, got] = await Promise.all([
      client.instances.list.query(),
      client.instances.get.query({ serviceType: "figma" }),
    ]);
    expect(listed).toEqual([expect.objectContaining({ instanceId: issued.instanceId, isActive: true })]);
    expect(got).toMatchObject({ instanceId: issued.instanceId, serviceType: "figma", status: "active" });
    expect(Number.isNaN(Date.parse(got.createdAt))).toBe(false);

    const rotated = await client.instances.rotate.mutate({ serviceType: "figma" });
    expect(rotated.instanceId).toBe(issued.instanceId);
    expect(rotated.instanceUrl).not.toBe(issued.instanceUrl);

    expect(await client.instances.revoke.mutate({ serviceType: "figma" })).toEqual({
      instanceId: issued.instanceId,
    });
    expect(await client.instances.get.query({ serviceType: "figma" })).toMatchObject({
      isActive: false,
      status: "revoked",
    });
    expect(await codeOf(client.instances.rotate.mutate({ serviceType: "figma" }))).toBe("NOT_FOUND");
    expect(await codeOf(client.instances.revoke.mutate({ serviceType: "figma" }))).toBe("NOT_FOUND");
  });

  test("errorCode() reads INVALID_API_KEY, BAD_REQUEST and NOT_FOUND; nothing stored", async () => {
    const user = await newUser(stack);
    const { client } = await sdkFor(user);
    expect(
      await codeOf(client.instances.connect.mutate({ serviceType: "figma", apiKey: "figd_not_a_real_key" })),
    ).toBe("INVALID_API_KEY");
    expect(await codeOf(client.instances.connect.mutate({ serviceType: "figma", apiKey: "  " }))).toBe(
      "BAD_REQUEST",
    );
    expect(await codeOf(client.instances.get.query({ serviceType: "figma" }))).toBe("NOT_FOUND");
    await expectNothingStored(stack, user);
    expect(errorCode(new Error("not from tRPC"))).toBeUndefined();
  });

  test("a revoked API key surfaces as UNAUTHORIZED through the SDK", async () => {
    const user = await newUser(stack);
    const { id, client } = await sdkFor(user);
    expect(await client.instances.list.query()).toEqual([]);
    await trpc(stack, "apiKeys.revoke", { id }, { cookie: user.cookie });
    expect(await codeOf(client.instances.list.query())).toBe("UNAUTHORIZED");
    expect(await codeOf(client.auth.me.query())).toBe("UNAUTHORIZED");
  });
});
