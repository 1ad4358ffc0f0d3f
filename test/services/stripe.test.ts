// The Stripe service end to end: the whole product in-process, Stripe pointed at a fake shaped like the
// documented API (Bearer keys, form bodies, list/search pagination, Stripe error bodies), real MCP clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/client";
import { data, type TestUser, trpc } from "../client.ts";
import {
  type FakeStripe,
  type FakeStripeAccount,
  type FakeStripeKeyOptions,
  maskKey,
  startStripeFake,
} from "../fakes/stripe.ts";
import type { RecordedUpstreamRequest } from "../fakes/upstream.ts";
import type { Stack } from "../harness.ts";
import {
  type Connected,
  callTool,
  connect,
  connectRaw,
  expectInvalidParams,
  expectOnlyCredential,
  mcpClient,
  newUser,
  startServiceStack,
  type ToolAnswer,
  userWithInstance,
} from "./kit.ts";

const TYPE = "stripe";
const API_VERSION = "2024-06-20";

let fake: FakeStripe;
let stack: Stack;
const clients: Client[] = [];

beforeAll(async () => {
  fake = await startStripeFake();
  stack = await startServiceStack(TYPE, fake.url);
});

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await stack.stop();
  fake.stop();
});

/** A fresh fake key (never a real one): `sk_test_fake…` or `rk_test_fake…`. */
const freshKey = (kind: "sk" | "rk" = "sk") => `${kind}_test_fake${crypto.randomUUID().replaceAll("-", "")}`;

interface Setup {
  key: string;
  account: FakeStripeAccount;
  user: TestUser;
  instance: Connected;
  client: Client;
}

/** A new user with their own key and fake account, connected, with an MCP client. */
async function setup(opts: FakeStripeKeyOptions & { kind?: "sk" | "rk" } = {}): Promise<Setup> {
  const key = freshKey(opts.kind);
  const account = fake.addKey(key, opts);
  const { user, instance, client } = await userWithInstance(stack, TYPE, key);
  clients.push(client);
  return { key, account, user, instance, client };
}

const byKey = (key: string) => fake.requests.filter((r) => r.headers.authorization === `Bearer ${key}`);

/** The one request `run` made upstream with `key`. */
async function onlyRequest(key: string, run: () => Promise<unknown>): Promise<RecordedUpstreamRequest> {
  const before = byKey(key).length;
  await run();
  const made = byKey(key).slice(before);
  expect(made).toHaveLength(1);
  const [req] = made;
  if (!req) throw new Error("no request");
  expect(req.headers["stripe-version"]).toBe(API_VERSION);
  return req;
}

/** Calls a tool that must make exactly one upstream request; returns it and the answer. */
async function callOnce(
  key: string,
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ req: RecordedUpstreamRequest; answer: ToolAnswer }> {
  let answer: ToolAnswer | undefined;
  const req = await onlyRequest(key, async () => {
    answer = await callTool(client, name, args);
  });
  if (!answer) throw new Error("no answer");
  return { req, answer };
}

const ids = (json: unknown) => ((json as { data: { id: string }[] }).data ?? []).map((o) => o.id);
const at = <T>(list: readonly T[], i: number): T => {
  const item = list[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
};

async function statusOf(user: TestUser): Promise<string | undefined> {
  const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
  return data<{ serviceType: string; status: string }[]>(list).find((i) => i.serviceType === TYPE)?.status;
}

describe("connect", () => {
  test("a valid key is checked with GET /v1/balance (Bearer, pinned Stripe-Version) and stored", async () => {
    const key = freshKey();
    fake.addKey(key);
    const user = await newUser(stack);
    const req = await onlyRequest(key, () => connect(stack, user, TYPE, key));
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/balance");
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(list)).toEqual([
      expect.objectContaining({ serviceType: TYPE, status: "active", isActive: true }),
    ]);
  });

  test("a wrong key → 400 INVALID_API_KEY and nothing is stored", async () => {
    const key = freshKey();
    const user = await newUser(stack);
    const res = await connectRaw(stack, user, TYPE, key);
    expect(res.status).toBe(400);
    expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    expect(JSON.stringify(res.body)).not.toContain(key);
    const [req] = byKey(key);
    expect(req?.path).toBe("/v1/balance");
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(list)).toEqual([]);
  });

  test("a restricted key (rk_) with Balance read connects; GET /v1/account would have refused it", async () => {
    const key = freshKey("rk");
    fake.addKey(key, { permissions: ["balance_read", "customer_read"] });
    const user = await newUser(stack);
    await connect(stack, user, TYPE, key);
    expect(await statusOf(user)).toBe("active");
    // Why validation does not use GET /v1/account: Stripe refuses it to every restricted key.
    const account = await fetch(`${fake.url}/v1/account`, { headers: { authorization: `Bearer ${key}` } });
    expect(account.status).toBe(403);
  });
});

describe("tools", () => {
  test("tools/list: ten tools, truthful annotations, cursor on paginated ones", async () => {
    const { client } = await setup({ customers: 2 });
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual([
      "create_customer",
      "create_refund",
      "get_balance",
      "get_customer",
      "get_payment_intent",
      "list_customers",
      "list_invoices",
      "list_payment_intents",
      "list_subscriptions",
      "search_customers",
    ]);
    expect(byName.get("create_refund")?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(byName.get("get_customer")?.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
    });
    for (const name of ["list_customers", "search_customers", "list_invoices", "list_subscriptions"]) {
      expect(Object.keys(byName.get(name)?.inputSchema.properties ?? {})).toContain("cursor");
    }
  });

  test("get_balance → GET /v1/balance; available and pending amounts", async () => {
    const { key, client } = await setup({ customers: 1 });
    const { req, answer } = await callOnce(key, client, "get_balance", {});
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/balance");
    expect(req.query).toEqual({});
    expect(req.headers.authorization).toBe(`Bearer ${key}`);
    expect(answer.isError).toBe(false);
    expect(answer.json).toEqual({
      available: [{ amount: 120_000, currency: "usd" }],
      pending: [{ amount: 3_500, currency: "usd" }],
      livemode: false,
    });
  });

  test("list_customers → GET /v1/customers with the email filter; only the kept fields", async () => {
    const { key, account, client } = await setup();
    const target = at(account.customers, 3);
    const { req, answer } = await callOnce(key, client, "list_customers", {
      email: String(target.email),
      limit: 3,
    });
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/customers");
    expect(req.query).toEqual({ email: String(target.email), limit: "3" });
    expect(answer.isError).toBe(false);
    const result = answer.json as { data: Record<string, unknown>[]; nextCursor?: string };
    expect(result.nextCursor).toBeUndefined();
    expect(result.data).toHaveLength(1);
    expect(result.data[0]).toMatchObject({
      id: target.id,
      email: target.email,
      name: target.name,
      created: target.created,
    });
    expect(result.data[0]).not.toHaveProperty("invoice_prefix");
    expect(result.data[0]).not.toHaveProperty("object");
  });

  test("list_customers pages with starting_after: nextCursor to the second page and to the end", async () => {
    const { key, account, client } = await setup({ customers: 12 });
    const all = account.customers.map((c) => String(c.id));
    const first = await callTool(client, "list_customers", { limit: 5 });
    const page1 = first.json as { data: { id: string }[]; nextCursor?: string };
    expect(ids(page1)).toEqual(all.slice(0, 5));
    expect(page1.nextCursor).toEqual(expect.any(String));

    const { req: req2, answer: second } = await callOnce(key, client, "list_customers", {
      limit: 5,
      cursor: page1.nextCursor,
    });
    expect(req2.query).toEqual({ limit: "5", starting_after: String(all[4]) });
    const page2 = second.json as { data: { id: string }[]; nextCursor?: string };
    expect(ids(page2)).toEqual(all.slice(5, 10));

    const third = await callTool(client, "list_customers", { limit: 5, cursor: page2.nextCursor });
    const page3 = third.json as { data: { id: string }[]; nextCursor?: string };
    expect(ids(page3)).toEqual(all.slice(10));
    expect(page3.nextCursor).toBeUndefined();
    expect(at(byKey(key), byKey(key).length - 1).query.starting_after).toBe(String(all[9]));
  });

  test("list_customers refuses a forged cursor without calling Stripe", async () => {
    const { key, client } = await setup({ customers: 1 });
    const before = byKey(key).length;
    await expectInvalidParams(client, "list_customers", { cursor: "cus_not_a_cursor" });
    expect(byKey(key).length).toBe(before);
  });

  test("search_customers → GET /v1/customers/search; pages with page = next_page", async () => {
    const { key, account, client } = await setup({ customers: 12 });
    const domain = String(at(account.customers, 0).email).split("@")[1];
    const query = `email~'${domain}' AND metadata['parity']:'even'`;
    const even = account.customers.filter((c) => c.description === "Even customer").map((c) => String(c.id));
    expect(even).toHaveLength(6);

    const { req: req1, answer: first } = await callOnce(key, client, "search_customers", { query, limit: 4 });
    expect(req1.method).toBe("GET");
    expect(req1.path).toBe("/v1/customers/search");
    expect(req1.query).toEqual({ query, limit: "4" });
    const page1 = first.json as { data: { id: string }[]; nextCursor?: string };
    expect(ids(page1)).toEqual(even.slice(0, 4));
    expect(page1.nextCursor).toEqual(expect.any(String));

    const { req: req2, answer: second } = await callOnce(key, client, "search_customers", {
      query,
      limit: 4,
      cursor: page1.nextCursor,
    });
    expect(req2.query.page).toEqual(expect.any(String));
    expect(req2.query.query).toBe(query);
    const page2 = second.json as { data: { id: string }[]; nextCursor?: string };
    expect(ids(page2)).toEqual(even.slice(4));
    expect(page2.nextCursor).toBeUndefined();
  });

  test("search_customers: Stripe's query parse error becomes a tool error with its message", async () => {
    const { client } = await setup({ customers: 1 });
    const answer = await callTool(client, "search_customers", { query: "email = bob" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("unable to parse your search query");
  });

  test("get_customer → GET /v1/customers/{id}", async () => {
    const { key, account, client } = await setup({ customers: 3 });
    const target = at(account.customers, 1);
    const { req, answer } = await callOnce(key, client, "get_customer", { customer_id: String(target.id) });
    expect(req.method).toBe("GET");
    expect(req.path).toBe(`/v1/customers/${String(target.id)}`);
    expect(req.query).toEqual({});
    expect(answer.isError).toBe(false);
    expect(answer.json).toMatchObject({
      id: target.id,
      email: target.email,
      name: target.name,
      metadata: target.metadata,
      invoice_settings: { default_payment_method: null },
    });
  });

  test("get_customer of an unknown id → tool error carrying Stripe's resource_missing message", async () => {
    const { client, user } = await setup({ customers: 1 });
    const answer = await callTool(client, "get_customer", { customer_id: "cus_Missing000000" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("No such customer: 'cus_Missing000000'");
    expect(await statusOf(user)).toBe("active");
  });

  test("create_customer → POST /v1/customers as a form; the customer exists afterwards; idempotent replays", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const input = {
      email: "grace@example.test",
      name: "Grace Hopper",
      description: "Created by the suite",
      phone: "+15555550100",
      metadata: { user_id: "42", "plan name": "pro" },
      idempotency_key: "suite-create-1",
    };
    const { req, answer } = await callOnce(key, client, "create_customer", input);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/customers");
    expect(req.headers["content-type"]).toStartWith("application/x-www-form-urlencoded");
    expect(req.headers["idempotency-key"]).toBe("suite-create-1");
    expect(req.body).toEqual({
      email: "grace@example.test",
      name: "Grace Hopper",
      description: "Created by the suite",
      phone: "+15555550100",
      "metadata[user_id]": "42",
      "metadata[plan name]": "pro",
    });
    expect(answer.isError).toBe(false);
    const created = answer.json as { id: string };
    expect(created).toMatchObject({
      email: "grace@example.test",
      name: "Grace Hopper",
      phone: "+15555550100",
      metadata: { user_id: "42", "plan name": "pro" },
    });
    expect(created.id).toMatch(/^cus_[A-Za-z0-9]+$/);
    expect(account.customers).toHaveLength(3);

    const got = await callTool(client, "get_customer", { customer_id: created.id });
    expect(got.json).toMatchObject({ id: created.id, description: "Created by the suite" });
    const found = await callTool(client, "search_customers", { query: "metadata['user_id']:'42'" });
    expect(ids(found.json)).toEqual([created.id]);

    // A retry with the same Idempotency-Key gets the same customer; nothing new is created.
    const again = await callTool(client, "create_customer", input);
    expect((again.json as { id: string }).id).toBe(created.id);
    expect(account.customers).toHaveLength(3);
  });

  test("create_customer: Stripe's 400 for an invalid email is a tool error with its message", async () => {
    const { client, account } = await setup({ customers: 1 });
    const answer = await callTool(client, "create_customer", { email: "not-an-email" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("Invalid email address: not-an-email");
    expect(account.customers).toHaveLength(1);
  });

  test("list_payment_intents → GET /v1/payment_intents filtered by customer; no client_secret", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const customer = String(at(account.customers, 0).id);
    const { req, answer } = await callOnce(key, client, "list_payment_intents", {
      customer,
      created_after: 1_700_000_000,
    });
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/payment_intents");
    expect(req.query).toEqual({ customer, "created[gte]": "1700000000" });
    const result = answer.json as { data: Record<string, unknown>[] };
    expect(result.data.map((p) => p.customer)).toEqual([customer, customer, customer]);
    expect(result.data.map((p) => p.status)).toEqual(["succeeded", "requires_payment_method", "succeeded"]);
    expect(result.data[1]).toMatchObject({
      amount: 1500,
      currency: "usd",
      last_payment_error: { code: "card_declined", message: "Your card has insufficient funds." },
    });
    expect(answer.text).not.toContain("client_secret");
    expect(answer.text).not.toContain("_secret_");
  });

  test("get_payment_intent → GET /v1/payment_intents/{id}", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const pi = at(account.paymentIntents, 0);
    const { req, answer } = await callOnce(key, client, "get_payment_intent", {
      payment_intent_id: String(pi.id),
    });
    expect(req.method).toBe("GET");
    expect(req.path).toBe(`/v1/payment_intents/${String(pi.id)}`);
    expect(answer.json).toMatchObject({
      id: pi.id,
      amount: 1200,
      amount_received: 1200,
      status: "succeeded",
      latest_charge: pi.latest_charge,
    });
    expect(answer.text).not.toContain("_secret_");

    const missing = await callTool(client, "get_payment_intent", { payment_intent_id: "pi_Missing000000" });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("No such payment_intent: 'pi_Missing000000'");
  });

  test("list_invoices → GET /v1/invoices with customer and status", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const customer = String(at(account.customers, 0).id);
    const { req, answer } = await callOnce(key, client, "list_invoices", { customer, status: "open" });
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/invoices");
    expect(req.query).toEqual({ customer, status: "open" });
    const result = answer.json as { data: Record<string, unknown>[] };
    expect(result.data).toHaveLength(1);
    const open = at(account.invoices, 1);
    expect(result.data[0]).toEqual({
      id: open.id,
      number: open.number,
      status: "open",
      customer,
      customer_email: open.customer_email,
      customer_name: open.customer_name,
      subscription: open.subscription,
      amount_due: 2000,
      amount_paid: 0,
      amount_remaining: 2000,
      currency: "usd",
      created: open.created,
      due_date: null,
      period_start: open.period_start,
      period_end: open.period_end,
      paid: false,
      billing_reason: "subscription_cycle",
      collection_method: "charge_automatically",
      hosted_invoice_url: open.hosted_invoice_url,
      invoice_pdf: open.invoice_pdf,
      livemode: false,
    });
  });

  test("list_subscriptions → GET /v1/subscriptions; canceled ones only with status=all", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const { req, answer } = await callOnce(key, client, "list_subscriptions", {});
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/subscriptions");
    expect(req.query).toEqual({});
    const active = at(account.subscriptions, 1);
    expect(ids(answer.json)).toEqual([String(active.id)]);
    expect((answer.json as { data: unknown[] }).data[0]).toMatchObject({
      status: "active",
      customer: active.customer,
      items: {
        data: [
          { quantity: 1, price: { unit_amount: 2000, currency: "usd", recurring: { interval: "month" } } },
        ],
      },
    });

    const all = await callOnce(key, client, "list_subscriptions", { status: "all", limit: 10 });
    expect(all.req.query).toEqual({ status: "all", limit: "10" });
    expect(ids(all.answer.json)).toEqual(account.subscriptions.map((s) => String(s.id)));
  });

  test("create_refund → POST /v1/refunds as a form; money leaves the balance; over-refund is refused", async () => {
    const { key, account, client } = await setup({ customers: 2 });
    const pi = at(account.paymentIntents, 1); // 5000 cents, succeeded
    expect(pi.amount_received).toBe(5000);
    const { req, answer } = await callOnce(key, client, "create_refund", {
      payment_intent: String(pi.id),
      amount: 1500,
      reason: "requested_by_customer",
      idempotency_key: "refund-1",
    });
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/refunds");
    expect(req.headers["content-type"]).toStartWith("application/x-www-form-urlencoded");
    expect(req.headers["idempotency-key"]).toBe("refund-1");
    expect(req.body).toEqual({
      payment_intent: String(pi.id),
      amount: "1500",
      reason: "requested_by_customer",
    });
    expect(answer.isError).toBe(false);
    expect(answer.json).toMatchObject({
      amount: 1500,
      currency: "usd",
      status: "succeeded",
      payment_intent: pi.id,
      charge: pi.latest_charge,
      reason: "requested_by_customer",
    });
    expect((answer.json as { id: string }).id).toMatch(/^re_/);

    // The write is applied: the balance is lower (the read cache was invalidated by the write).
    const balance = await callTool(client, "get_balance");
    expect((balance.json as { available: { amount: number }[] }).available[0]?.amount).toBe(120_000 - 1500);

    // 3500 is left; asking for more is Stripe's 400, passed on with its message.
    const over = await callTool(client, "create_refund", { payment_intent: String(pi.id), amount: 4000 });
    expect(over.isError).toBe(true);
    expect(over.text).toContain(
      "Refund amount ($40.00) is greater than unrefunded amount on charge ($35.00)",
    );

    // The rest, then nothing is left.
    const rest = await callTool(client, "create_refund", { payment_intent: String(pi.id) });
    expect(rest.json).toMatchObject({ amount: 3500 });
    const done = await callTool(client, "create_refund", { payment_intent: String(pi.id) });
    expect(done.isError).toBe(true);
    expect(done.text).toContain("has already been refunded");
    expect(account.refunds).toHaveLength(2);
  });

  test("create_refund with an Idempotency-Key reused for other parameters → Stripe's idempotency_error", async () => {
    const { account, client } = await setup({ customers: 2 });
    const pi = String(at(account.paymentIntents, 1).id);
    const first = await callTool(client, "create_refund", {
      payment_intent: pi,
      amount: 100,
      idempotency_key: "k-1",
    });
    expect(first.isError).toBe(false);
    const replay = await callTool(client, "create_refund", {
      payment_intent: pi,
      amount: 100,
      idempotency_key: "k-1",
    });
    expect((replay.json as { id: string }).id).toBe((first.json as { id: string }).id);
    const other = await callTool(client, "create_refund", {
      payment_intent: pi,
      amount: 200,
      idempotency_key: "k-1",
    });
    expect(other.isError).toBe(true);
    expect(other.text).toContain("Keys for idempotent requests can only be used with the same parameters");
    expect(account.refunds).toHaveLength(1);
  });
});

describe("isolation and safety", () => {
  test("two users: each call carried only that user's own key and saw only that account", async () => {
    const alice = await setup({ customers: 3 });
    const bob = await setup({ customers: 4 });
    const mark = fake.requests.length;
    const [a, b] = await Promise.all([
      callTool(alice.client, "list_customers", { limit: 100 }),
      callTool(bob.client, "list_customers", { limit: 100 }),
    ]);
    await Promise.all([
      callTool(alice.client, "get_customer", { customer_id: String(at(alice.account.customers, 0).id) }),
      callTool(bob.client, "get_customer", { customer_id: String(at(bob.account.customers, 0).id) }),
    ]);
    expect(ids(a.json)).toEqual(alice.account.customers.map((c) => String(c.id)));
    expect(ids(b.json)).toEqual(bob.account.customers.map((c) => String(c.id)));
    const made = fake.requests.slice(mark);
    const aliceCustomers = new Set(alice.account.customers.map((c) => String(c.id)));
    const aliceReqs = made.filter((r) => r.headers.authorization === `Bearer ${alice.key}`);
    const bobReqs = made.filter((r) => r.headers.authorization === `Bearer ${bob.key}`);
    expect(aliceReqs).toHaveLength(2);
    expect(bobReqs).toHaveLength(2);
    expect(aliceReqs.length + bobReqs.length).toBe(made.length);
    expectOnlyCredential(aliceReqs, "authorization", `Bearer ${alice.key}`);
    expectOnlyCredential(bobReqs, "authorization", `Bearer ${bob.key}`);
    for (const r of bobReqs) expect(aliceCustomers.has(r.path.split("/").pop() ?? "")).toBe(false);
    // Bob cannot read Alice's customer: his key is sent, and Stripe says it does not exist.
    const cross = await callTool(bob.client, "get_customer", {
      customer_id: String(at(alice.account.customers, 1).id),
    });
    expect(cross.isError).toBe(true);
    expect(cross.text).toContain("No such customer");
    expect(at(fake.requests, fake.requests.length - 1).headers.authorization).toBe(`Bearer ${bob.key}`);
  });

  test("bad input is refused before Stripe is called", async () => {
    const { key, client } = await setup({ customers: 1 });
    const before = byKey(key).length;
    await expectInvalidParams(client, "get_customer", { customer_id: "../balance" });
    await expectInvalidParams(client, "get_customer", { customer_id: "cus_abc%2F..%2Fbalance" });
    await expectInvalidParams(client, "get_customer", { customer_id: "cus_abc/../../v1/balance" });
    await expectInvalidParams(client, "get_customer", { customer_id: "pi_123" });
    await expectInvalidParams(client, "get_customer", {});
    await expectInvalidParams(client, "get_payment_intent", { payment_intent_id: "pi_a%2Fb" });
    await expectInvalidParams(client, "create_refund", {});
    await expectInvalidParams(client, "create_refund", { payment_intent: "pi_abc", amount: 0 });
    await expectInvalidParams(client, "create_refund", { payment_intent: "pi_abc", reason: "because" });
    await expectInvalidParams(client, "list_customers", { limit: 101 });
    await expectInvalidParams(client, "list_invoices", { status: "overdue" });
    await expectInvalidParams(client, "search_customers", { query: "" });
    await expectInvalidParams(client, "create_customer", { email: "a@b.c", metadata: { "a[b]": "x" } });
    await expectInvalidParams(client, "create_customer", { metadata: { plan: 3 } });
    expect(byKey(key).length).toBe(before);
  });

  test("a key revoked upstream → tool error telling the user to reconnect; marked needs_reauth", async () => {
    const { key, user, account, client } = await setup({ customers: 1 });
    fake.removeKey(key);
    const answer = await callTool(client, "get_customer", {
      customer_id: String(at(account.customers, 0).id),
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/reconnect/i);
    expect(answer.text).not.toContain(key);
    // The tool call got Stripe's 401; the key was then re-checked with the validation request.
    const last = byKey(key).slice(-2);
    expect(last.map((r) => r.path)).toEqual([
      `/v1/customers/${String(at(account.customers, 0).id)}`,
      "/v1/balance",
    ]);
    expect(await statusOf(user)).toBe("needs_reauth");
  });

  test("a restricted key without a permission → 'refused access', the key stays valid, not the full key", async () => {
    const { key, user, account, client } = await setup({
      kind: "rk",
      customers: 2,
      permissions: ["balance_read", "customer_read", "payment_intent_read"],
    });
    const answer = await callTool(client, "create_refund", {
      payment_intent: String(at(account.paymentIntents, 0).id),
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("refused access");
    expect(answer.text).toContain("rak_refund_write");
    expect(answer.text).not.toContain(key);
    // Stripe echoes the key masked (prefix and last four), never whole.
    expect(answer.text).toContain(maskKey(key));
    expect(await statusOf(user)).toBe("active");
    expect(account.refunds).toHaveLength(0);
    const ok = await callTool(client, "list_payment_intents", { limit: 1 });
    expect(ok.isError).toBe(false);
  });

  test("the key never reaches a tool result, even when Stripe echoes it", async () => {
    const { key, account, client } = await setup({ customers: 1 });
    const id = String(at(account.customers, 0).id);
    fake.answerNext(() =>
      Response.json({ ...at(account.customers, 0), id, description: `note for ${key}`, name: key }),
    );
    const answer = await callTool(client, "get_customer", { customer_id: id });
    expect(answer.isError).toBe(false);
    expect(answer.text).not.toContain(key);
    expect(answer.json).toMatchObject({ id });
  });

  test("Stripe's 429 rate_limit → a rate-limited tool error with a wait", async () => {
    const { client } = await setup({ customers: 1 });
    fake.answerNext(() =>
      Response.json(
        {
          error: {
            code: "rate_limit",
            message:
              "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            type: "invalid_request_error",
          },
        },
        { status: 429 },
      ),
    );
    const answer = await callTool(client, "list_customers", {});
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/rate limiting/i);
    // Stripe sends no Retry-After; the platform's default wait applies.
    expect(answer.meta).toMatchObject({ retryAfterSeconds: expect.any(Number) });
  });

  test("a second MCP client on the same instance URL works with the same key", async () => {
    const { key, instance } = await setup({ customers: 1 });
    const other = await mcpClient(instance.instanceUrl);
    clients.push(other);
    const answer = await callTool(other, "list_invoices", { limit: 5 });
    expect(answer.isError).toBe(false);
    expect(at(byKey(key), byKey(key).length - 1).path).toBe("/v1/invoices");
  });
});
