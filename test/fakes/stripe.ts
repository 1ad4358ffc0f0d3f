// A fake Stripe API (https://docs.stripe.com/api) for the Stripe service suite, built on the generic fake
// upstream: the same paths, methods, Bearer keys, form-encoded bodies, list/search objects with `has_more`
// (cursors `starting_after` and `page`/`next_page`), and Stripe's `{ error: { type, code, message, param } }`
// bodies with its status codes. Every key owns a small in-memory account; writes (customers, refunds) apply.
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

type Obj = Record<string, unknown>;

export interface FakeStripeAccount {
  id: string;
  name: string;
  email: string;
  balance: { available: number; pending: number };
  /** Newest first, as Stripe lists them. */
  customers: Obj[];
  paymentIntents: Obj[];
  invoices: Obj[];
  subscriptions: Obj[];
  refunds: Obj[];
  /** Amount refunded so far per payment intent id. */
  refunded: Map<string, number>;
  /** Idempotency-Key → the request it was first used with and its answer. */
  idempotency: Map<string, { request: string; status: number; body: unknown }>;
}

export interface FakeStripeKeyOptions {
  /** Share an existing account (e.g. a second key of the same account). */
  account?: FakeStripeAccount;
  /** Seeded customers (default 12). */
  customers?: number;
  /**
   * For restricted keys (`rk_…`): the permissions granted, e.g. `balance_read`, `customer_write`,
   * `payment_intent_read`, `invoice_read`, `subscription_read`, `refund_write`. Write implies read.
   */
  permissions?: string[];
}

export interface FakeStripe {
  url: string;
  requests: RecordedUpstreamRequest[];
  /** Accepts `key` from now on; returns the account it opens (seeded unless one is given). */
  addKey(key: string, opts?: FakeStripeKeyOptions): FakeStripeAccount;
  /** Revokes (rolls) a key: it is answered 401 "Invalid API Key provided" from then on. */
  removeKey(key: string): void;
  answerNext: FakeUpstream["answerNext"];
  stop(): void;
}

/** A Stripe error body as the API sends it. */
export function stripeError(
  status: number,
  error: { type?: string; code?: string; message: string; param?: string },
): Response {
  const body: Obj = { type: error.type ?? "invalid_request_error", message: error.message };
  if (error.code) {
    body.code = error.code;
    body.doc_url = `https://stripe.com/docs/error-codes/${error.code.replaceAll("_", "-")}`;
  }
  if (error.param) body.param = error.param;
  body.request_log_url = "https://dashboard.stripe.com/test/logs/req_fake";
  return json({ error: body }, status, { "request-id": requestId() });
}

const requestId = () => `req_${randomId(14)}`;

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function randomId(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => ALNUM[b % ALNUM.length]).join("");
}

/** How Stripe shows a key in messages: its prefix, asterisks, and the last four characters. */
export function maskKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? "";
  return `${prefix}${"*".repeat(Math.max(4, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

const BASE_TIME = 1_735_689_600; // 2025-01-01T00:00:00Z

function customerObject(tag: string, i: number, created: number, fields: Obj = {}): Obj {
  return {
    id: `cus_${tag}C${i}`,
    object: "customer",
    address: null,
    balance: 0,
    created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: `${tag.slice(0, 6).toUpperCase()}${i}`,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
    ...fields,
  };
}

function paymentIntent(tag: string, i: number, customer: string, amount: number, status: string): Obj {
  const id = `pi_${tag}P${i}`;
  const succeeded = status === "succeeded";
  return {
    id,
    object: "payment_intent",
    amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: succeeded ? amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: { allow_redirects: "always", enabled: true },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic_async",
    client_secret: `${id}_secret_${randomId(24)}`,
    confirmation_method: "automatic",
    created: BASE_TIME + 86_400 * (10 + i),
    currency: "usd",
    customer,
    description: `Order #${1000 + i}`,
    invoice: null,
    last_payment_error: succeeded
      ? null
      : {
          code: "card_declined",
          decline_code: "insufficient_funds",
          message: "Your card has insufficient funds.",
        },
    latest_charge: `ch_${tag}H${i}`,
    livemode: false,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: `pm_${tag}M${i}`,
    payment_method_types: ["card"],
    receipt_email: null,
    setup_future_usage: null,
    shipping: null,
    statement_descriptor: null,
    status,
    transfer_data: null,
  };
}

function invoice(
  acct: string,
  tag: string,
  i: number,
  customer: Obj,
  subscription: string | null,
  status: string,
): Obj {
  const paid = status === "paid";
  const created = BASE_TIME + 86_400 * (20 + i);
  return {
    id: `in_${tag}I${i}`,
    object: "invoice",
    account_country: "US",
    account_name: "Fake Co",
    amount_due: 2000,
    amount_paid: paid ? 2000 : 0,
    amount_remaining: paid ? 0 : 2000,
    billing_reason: subscription ? "subscription_cycle" : "manual",
    collection_method: "charge_automatically",
    created,
    currency: "usd",
    customer: customer.id,
    customer_email: customer.email,
    customer_name: customer.name,
    due_date: null,
    hosted_invoice_url: status === "draft" ? null : `https://invoice.stripe.com/i/${acct}/test_${tag}${i}`,
    invoice_pdf:
      status === "draft" ? null : `https://pay.stripe.com/invoice/${acct}/test_${tag}${i}/pdf?s=ap`,
    lines: {
      object: "list",
      data: [
        { id: `il_${tag}L${i}`, object: "line_item", amount: 2000, currency: "usd", description: "Pro plan" },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/invoices/in_${tag}I${i}/lines`,
    },
    livemode: false,
    metadata: {},
    number: status === "draft" ? null : `${tag.slice(0, 6).toUpperCase()}-000${i}`,
    paid,
    period_end: created,
    period_start: created - 30 * 86_400,
    status,
    subscription,
    subtotal: 2000,
    total: 2000,
  };
}

function subscription(tag: string, i: number, customer: string, status: string, price: string): Obj {
  const id = `sub_${tag}S${i}`;
  const created = BASE_TIME + 86_400 * (5 + i);
  const canceled = status === "canceled";
  return {
    id,
    object: "subscription",
    billing_cycle_anchor: created,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: canceled ? created + 86_400 : null,
    collection_method: "charge_automatically",
    created,
    currency: "usd",
    current_period_end: created + 30 * 86_400,
    current_period_start: created,
    customer,
    default_payment_method: null,
    ended_at: canceled ? created + 86_400 : null,
    items: {
      object: "list",
      data: [
        {
          id: `si_${tag}T${i}`,
          object: "subscription_item",
          created,
          price: {
            id: price,
            object: "price",
            active: true,
            currency: "usd",
            product: `prod_${tag}D`,
            recurring: { interval: "month", interval_count: 1, usage_type: "licensed" },
            type: "recurring",
            unit_amount: 2000,
          },
          quantity: 1,
          subscription: id,
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    metadata: {},
    start_date: created,
    status,
    trial_end: null,
  };
}

/**
 * A seeded account: `customers` customers (`customer<i>@<tag>.example.test`, newest first), payments,
 * invoices and subscriptions for the two newest, and a USD balance.
 */
function seedAccount(customerCount: number): FakeStripeAccount {
  const tag = randomId(10);
  const acct = `acct_${tag}`;
  const domain = `${tag.toLowerCase()}.example.test`;
  const customers: Obj[] = [];
  for (let i = 0; i < customerCount; i++) {
    customers.unshift(
      customerObject(tag, i, BASE_TIME + 3600 * i, {
        email: `customer${i}@${domain}`,
        name: `Customer ${i}`,
        description: i % 2 === 0 ? "Even customer" : null,
        metadata: { index: String(i), parity: i % 2 === 0 ? "even" : "odd" },
      }),
    );
  }
  const [first, second] = customers;
  const paymentIntents: Obj[] = [];
  const invoices: Obj[] = [];
  const subscriptions: Obj[] = [];
  if (first && second) {
    const a = String(first.id);
    const b = String(second.id);
    const price = `price_${tag}R`;
    paymentIntents.push(
      paymentIntent(tag, 3, b, 1200, "succeeded"),
      paymentIntent(tag, 2, a, 5000, "succeeded"),
      paymentIntent(tag, 1, a, 1500, "requires_payment_method"),
      paymentIntent(tag, 0, a, 2000, "succeeded"),
    );
    subscriptions.push(subscription(tag, 1, b, "canceled", price), subscription(tag, 0, a, "active", price));
    invoices.push(
      invoice(acct, tag, 2, second, null, "draft"),
      invoice(acct, tag, 1, first, String(subscriptions[1]?.id), "open"),
      invoice(acct, tag, 0, first, String(subscriptions[1]?.id), "paid"),
    );
  }
  return {
    id: acct,
    name: `Fake Co ${tag}`,
    email: `owner@${domain}`,
    balance: { available: 120_000, pending: 3_500 },
    customers,
    paymentIntents,
    invoices,
    subscriptions,
    refunds: [],
    refunded: new Map(),
    idempotency: new Map(),
  };
}

interface Caller {
  key: string;
  account: FakeStripeAccount;
  permissions?: Set<string>;
}

type Handler = (caller: Caller, req: RecordedUpstreamRequest, url: URL, id?: string) => Response;

interface Route {
  method: string;
  pattern: RegExp;
  permission?: string;
  handle: Handler;
}

const LIST_PARAMS = [
  "limit",
  "starting_after",
  "ending_before",
  "expand[]",
  "created[gt]",
  "created[gte]",
  "created[lt]",
  "created[lte]",
  "created",
];

function unknownParam(url: URL, allowed: readonly string[]): Response | undefined {
  for (const name of url.searchParams.keys()) {
    if (!allowed.includes(name)) {
      return stripeError(400, {
        code: "parameter_unknown",
        message: `Received unknown parameter: ${name}`,
        param: name,
      });
    }
  }
  return undefined;
}

function parseLimit(url: URL): number | Response {
  const raw = url.searchParams.get("limit");
  if (raw === null) return 10;
  if (!/^[0-9]+$/.test(raw)) return stripeError(400, { message: `Invalid integer: ${raw}`, param: "limit" });
  const n = Number(raw);
  if (n < 1 || n > 100) {
    return stripeError(400, {
      message: "This value must be greater than or equal to 1 and less than or equal to 100.",
      param: "limit",
    });
  }
  return n;
}

function createdFilter(url: URL, items: Obj[]): Obj[] {
  const q = url.searchParams;
  const bound = (name: string) => (q.has(name) ? Number(q.get(name)) : undefined);
  const [gt, gte, lt, lte, eq] = [
    "created[gt]",
    "created[gte]",
    "created[lt]",
    "created[lte]",
    "created",
  ].map(bound);
  return items.filter((item) => {
    const c = Number(item.created);
    return (
      (gt === undefined || c > gt) &&
      (gte === undefined || c >= gte) &&
      (lt === undefined || c < lt) &&
      (lte === undefined || c <= lte) &&
      (eq === undefined || c === eq)
    );
  });
}

/** A Stripe list object page of `items` (already filtered, newest first). */
function listPage(url: URL, items: Obj[], objectName: string, extraParams: readonly string[]): Response {
  const bad = unknownParam(url, [...LIST_PARAMS, ...extraParams]);
  if (bad) return bad;
  const limit = parseLimit(url);
  if (limit instanceof Response) return limit;
  const filtered = createdFilter(url, items);
  const after = url.searchParams.get("starting_after");
  const before = url.searchParams.get("ending_before");
  let start = 0;
  let end = filtered.length;
  if (after !== null) {
    const at = filtered.findIndex((o) => o.id === after);
    if (at < 0 && !items.some((o) => o.id === after)) {
      return stripeError(400, {
        code: "resource_missing",
        message: `No such ${objectName}: '${after}'`,
        param: "starting_after",
      });
    }
    start = at + 1;
  } else if (before !== null) {
    const at = filtered.findIndex((o) => o.id === before);
    if (at < 0) {
      return stripeError(400, {
        code: "resource_missing",
        message: `No such ${objectName}: '${before}'`,
        param: "ending_before",
      });
    }
    end = at;
    start = Math.max(0, end - limit);
  }
  const data = filtered.slice(start, Math.min(end, start + limit));
  const hasMore = before !== null ? start > 0 : start + data.length < end;
  return ok({ object: "list", data, has_more: hasMore, url: url.pathname });
}

const ok = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  json(body, status, { "request-id": requestId(), "stripe-version": "2024-06-20", ...headers });

function notFound(kind: string, id: string, param = "id"): Response {
  return stripeError(404, { code: "resource_missing", message: `No such ${kind}: '${id}'`, param });
}

const formOf = (req: RecordedUpstreamRequest): Record<string, string> =>
  req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded") &&
  typeof req.body === "object" &&
  req.body !== null
    ? (req.body as Record<string, string>)
    : {};

function unknownFormParam(form: Record<string, string>, allowed: readonly string[]): Response | undefined {
  for (const name of Object.keys(form)) {
    const ok = allowed.includes(name) || (allowed.includes("metadata") && /^metadata\[[^\]]+\]$/.test(name));
    if (!ok) {
      return stripeError(400, {
        code: "parameter_unknown",
        message: `Received unknown parameter: ${name}`,
        param: name,
      });
    }
  }
  return undefined;
}

// --- Search: Stripe's query language for customers (email, name, phone, metadata, created). ---

const CLAUSE =
  /^(email|name|phone|metadata\['([^']+)'\])\s*(:|~)\s*'((?:[^'\\]|\\.)*)'$|^created\s*(>=|<=|>|<|:)\s*([0-9]+)$/;

function searchPredicate(query: string): ((c: Obj) => boolean) | Response {
  const parseError = () =>
    stripeError(400, {
      message: `We were unable to parse your search query. Try using the format \`metadata['key']:'value'\` to query for metadata or \`key:'value'\` to query for other fields.`,
      param: "query",
    });
  const hasAnd = / AND /.test(query);
  const hasOr = / OR /.test(query);
  if (hasAnd && hasOr) {
    return stripeError(400, {
      message: "Search queries cannot combine AND and OR; use only one of them.",
      param: "query",
    });
  }
  const parts = query.split(hasOr ? / OR / : / AND /).map((p) => p.trim());
  const tests: ((c: Obj) => boolean)[] = [];
  for (const part of parts) {
    const m = CLAUSE.exec(part);
    if (!m) return parseError();
    if (m[5] !== undefined) {
      const [op, n] = [m[5], Number(m[6])];
      tests.push((c) => {
        const v = Number(c.created);
        return op === ">"
          ? v > n
          : op === ">="
            ? v >= n
            : op === "<"
              ? v < n
              : op === "<="
                ? v <= n
                : v === n;
      });
      continue;
    }
    const [, field, metaKey, op, rawValue] = m;
    const value = (rawValue ?? "").replaceAll("\\'", "'");
    if (op === "~" && value.length < 3) {
      return stripeError(400, {
        message: "Substring matching (~) requires a value of at least 3 characters.",
        param: "query",
      });
    }
    const get = (c: Obj): unknown =>
      metaKey !== undefined ? (c.metadata as Record<string, unknown>)[metaKey] : c[field ?? ""];
    tests.push((c) => {
      const v = get(c);
      if (typeof v !== "string") return false;
      return op === ":"
        ? v.toLowerCase() === value.toLowerCase()
        : v.toLowerCase().includes(value.toLowerCase());
    });
  }
  return (c) => (hasOr ? tests.some((t) => t(c)) : tests.every((t) => t(c)));
}

function searchCustomers(account: FakeStripeAccount, url: URL): Response {
  const bad = unknownParam(url, ["query", "limit", "page", "expand[]"]);
  if (bad) return bad;
  const query = url.searchParams.get("query");
  if (!query) {
    return stripeError(400, {
      code: "parameter_missing",
      message: "Missing required param: query.",
      param: "query",
    });
  }
  const limit = parseLimit(url);
  if (limit instanceof Response) return limit;
  const predicate = searchPredicate(query);
  if (predicate instanceof Response) return predicate;
  let offset = 0;
  const page = url.searchParams.get("page");
  if (page !== null) {
    const decoded = Number(
      Buffer.from(page, "base64")
        .toString("utf8")
        .replace(/^offset:/, ""),
    );
    if (!Number.isSafeInteger(decoded) || decoded < 0) {
      return stripeError(400, { message: `Invalid page: ${page}`, param: "page" });
    }
    offset = decoded;
  }
  const matches = account.customers.filter(predicate);
  const data = matches.slice(offset, offset + limit);
  const hasMore = offset + data.length < matches.length;
  return ok({
    object: "search_result",
    data,
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(`offset:${offset + data.length}`).toString("base64") : null,
    url: "/v1/customers/search",
  });
}

// --- Writes. -------------------------------------------------------------------------------------------

function createCustomer(account: FakeStripeAccount, req: RecordedUpstreamRequest): Response {
  const form = formOf(req);
  const bad = unknownFormParam(form, ["email", "name", "description", "phone", "metadata"]);
  if (bad) return bad;
  if (form.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(form.email)) {
    return stripeError(400, {
      code: "email_invalid",
      message: `Invalid email address: ${form.email}`,
      param: "email",
    });
  }
  const metadata = Object.fromEntries(
    Object.entries(form)
      .filter(([k]) => k.startsWith("metadata["))
      .map(([k, v]) => [k.slice("metadata[".length, -1), v]),
  );
  const newest = Number(account.customers[0]?.created ?? BASE_TIME);
  const customer = customerObject(randomId(10), account.customers.length, newest + 60, {
    email: form.email ?? null,
    name: form.name ?? null,
    description: form.description ?? null,
    phone: form.phone ?? null,
    metadata,
  });
  account.customers.unshift(customer);
  return ok(customer);
}

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

function createRefund(account: FakeStripeAccount, req: RecordedUpstreamRequest): Response {
  const form = formOf(req);
  const bad = unknownFormParam(form, ["payment_intent", "charge", "amount", "reason", "metadata"]);
  if (bad) return bad;
  if (form.payment_intent === undefined && form.charge === undefined) {
    return stripeError(400, {
      code: "parameter_missing",
      message: "One of the following params should be provided for this request: payment_intent or charge.",
    });
  }
  const pi = account.paymentIntents.find((p) => p.id === form.payment_intent);
  if (!pi) {
    return stripeError(400, {
      code: "resource_missing",
      message: `No such payment_intent: '${form.payment_intent}'`,
      param: "payment_intent",
    });
  }
  if (
    form.reason !== undefined &&
    !["duplicate", "fraudulent", "requested_by_customer"].includes(form.reason)
  ) {
    return stripeError(400, {
      message: "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
      param: "reason",
    });
  }
  if (pi.status !== "succeeded") {
    return stripeError(400, {
      message: `This PaymentIntent (${String(pi.id)}) does not have a successful charge to refund.`,
      param: "payment_intent",
    });
  }
  const already = account.refunded.get(String(pi.id)) ?? 0;
  const remaining = Number(pi.amount_received) - already;
  if (remaining <= 0) {
    return stripeError(400, {
      code: "charge_already_refunded",
      message: `Charge ${String(pi.latest_charge)} has already been refunded.`,
    });
  }
  let amount = remaining;
  if (form.amount !== undefined) {
    if (!/^[0-9]+$/.test(form.amount)) {
      return stripeError(400, { message: `Invalid integer: ${form.amount}`, param: "amount" });
    }
    amount = Number(form.amount);
    if (amount > remaining) {
      return stripeError(400, {
        message: `Refund amount (${dollars(amount)}) is greater than unrefunded amount on charge (${dollars(remaining)})`,
        param: "amount",
      });
    }
  }
  account.refunded.set(String(pi.id), already + amount);
  account.balance.available -= amount;
  const refund = {
    id: `re_${randomId(24)}`,
    object: "refund",
    amount,
    balance_transaction: `txn_${randomId(24)}`,
    charge: pi.latest_charge,
    created: Math.floor(Date.now() / 1000),
    currency: pi.currency,
    destination_details: { card: { type: "refund" }, type: "card" },
    metadata: {},
    payment_intent: pi.id,
    reason: form.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
  account.refunds.unshift(refund);
  return ok(refund);
}

// --- Routing. ------------------------------------------------------------------------------------------

const ROUTES: Route[] = [
  {
    method: "GET",
    pattern: /^\/v1\/balance$/,
    permission: "balance_read",
    handle: ({ account }, _req, url) =>
      unknownParam(url, ["expand[]"]) ??
      ok({
        object: "balance",
        available: [
          {
            amount: account.balance.available,
            currency: "usd",
            source_types: { card: account.balance.available },
          },
        ],
        livemode: false,
        pending: [
          {
            amount: account.balance.pending,
            currency: "usd",
            source_types: { card: account.balance.pending },
          },
        ],
      }),
  },
  {
    // Not used by the definition: restricted keys cannot read it, which is why validation uses /v1/balance.
    method: "GET",
    pattern: /^\/v1\/account$/,
    permission: "account_read_unavailable",
    handle: ({ account }) =>
      ok({
        id: account.id,
        object: "account",
        business_profile: { name: account.name },
        email: account.email,
        settings: { dashboard: { display_name: account.name } },
      }),
  },
  {
    method: "GET",
    pattern: /^\/v1\/customers\/search$/,
    permission: "customer_read",
    handle: ({ account }, _req, url) => searchCustomers(account, url),
  },
  {
    method: "GET",
    pattern: /^\/v1\/customers$/,
    permission: "customer_read",
    handle: ({ account }, _req, url) => {
      const email = url.searchParams.get("email");
      const items = email === null ? account.customers : account.customers.filter((c) => c.email === email);
      return listPage(url, items, "customer", ["email", "test_clock"]);
    },
  },
  {
    method: "POST",
    pattern: /^\/v1\/customers$/,
    permission: "customer_write",
    handle: ({ account }, req) => createCustomer(account, req),
  },
  {
    method: "GET",
    pattern: /^\/v1\/customers\/([^/]+)$/,
    permission: "customer_read",
    handle: ({ account }, _req, url, id = "") =>
      unknownParam(url, ["expand[]"]) ??
      (account.customers.find((c) => c.id === id)
        ? ok(account.customers.find((c) => c.id === id))
        : notFound("customer", id)),
  },
  {
    method: "GET",
    pattern: /^\/v1\/payment_intents$/,
    permission: "payment_intent_read",
    handle: ({ account }, _req, url) => {
      const customer = url.searchParams.get("customer");
      const items =
        customer === null
          ? account.paymentIntents
          : account.paymentIntents.filter((p) => p.customer === customer);
      return listPage(url, items, "payment_intent", ["customer"]);
    },
  },
  {
    method: "GET",
    pattern: /^\/v1\/payment_intents\/([^/]+)$/,
    permission: "payment_intent_read",
    handle: ({ account }, _req, url, id = "") => {
      const bad = unknownParam(url, ["expand[]", "client_secret"]);
      if (bad) return bad;
      const pi = account.paymentIntents.find((p) => p.id === id);
      return pi ? ok(pi) : notFound("payment_intent", id, "intent");
    },
  },
  {
    method: "GET",
    pattern: /^\/v1\/invoices$/,
    permission: "invoice_read",
    handle: ({ account }, _req, url) => {
      const q = url.searchParams;
      const status = q.get("status");
      if (status !== null && !["draft", "open", "paid", "uncollectible", "void"].includes(status)) {
        return stripeError(400, {
          message: `Invalid status: must be one of draft, open, paid, uncollectible, or void`,
          param: "status",
        });
      }
      const items = account.invoices.filter(
        (i) =>
          (q.get("customer") === null || i.customer === q.get("customer")) &&
          (q.get("subscription") === null || i.subscription === q.get("subscription")) &&
          (status === null || i.status === status),
      );
      return listPage(url, items, "invoice", [
        "customer",
        "subscription",
        "status",
        "collection_method",
        "due_date",
      ]);
    },
  },
  {
    method: "GET",
    pattern: /^\/v1\/subscriptions$/,
    permission: "subscription_read",
    handle: ({ account }, _req, url) => {
      const q = url.searchParams;
      const status = q.get("status");
      const statuses = [
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
        "ended",
        "all",
      ];
      if (status !== null && !statuses.includes(status)) {
        return stripeError(400, {
          message: `Invalid status: must be one of ${statuses.join(", ")}`,
          param: "status",
        });
      }
      const statusOk = (s: unknown) =>
        status === "all" ||
        (status === null && s !== "canceled" && s !== "incomplete_expired") ||
        (status === "ended" && (s === "canceled" || s === "incomplete_expired")) ||
        s === status;
      const hasPrice = (sub: Obj) =>
        ((sub.items as { data: { price: { id: string } }[] }).data ?? []).some(
          (it) => it.price.id === q.get("price"),
        );
      const items = account.subscriptions.filter(
        (s) =>
          statusOk(s.status) &&
          (q.get("customer") === null || s.customer === q.get("customer")) &&
          (q.get("price") === null || hasPrice(s)),
      );
      return listPage(url, items, "subscription", [
        "customer",
        "status",
        "price",
        "collection_method",
        "current_period_end",
        "current_period_start",
        "test_clock",
      ]);
    },
  },
  {
    method: "POST",
    pattern: /^\/v1\/refunds$/,
    permission: "refund_write",
    handle: ({ account }, req) => createRefund(account, req),
  },
];

function keyOf(req: RecordedUpstreamRequest): string | undefined {
  const auth = req.headers.authorization ?? "";
  const bearer = /^Bearer (.+)$/.exec(auth);
  if (bearer) return bearer[1];
  // Stripe also takes the key as the Basic username (curl -u sk_test_...:).
  const basic = /^Basic (.+)$/.exec(auth);
  if (basic)
    return Buffer.from(basic[1] ?? "", "base64")
      .toString("utf8")
      .split(":")[0];
  return undefined;
}

function allowed(caller: Caller, permission: string | undefined): boolean {
  if (!caller.permissions || !permission) return true;
  if (permission === "account_read_unavailable") return false;
  if (caller.permissions.has(permission)) return true;
  return permission.endsWith("_read") && caller.permissions.has(permission.replace(/_read$/, "_write"));
}

/** Starts the fake Stripe API on 127.0.0.1. */
export async function startStripeFake(): Promise<FakeStripe> {
  const keys = new Map<string, Caller>();

  const route = (req: RecordedUpstreamRequest, url: URL): Response | Promise<Response> => {
    const key = keyOf(req);
    if (!key) {
      return stripeError(401, {
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    const caller = keys.get(key);
    if (!caller) return stripeError(401, { message: `Invalid API Key provided: ${maskKey(key)}` });
    const version = req.headers["stripe-version"];
    if (version !== undefined && !/^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z]+)?$/.test(version)) {
      return stripeError(400, { message: `Invalid Stripe API version: ${version}` });
    }
    for (const r of ROUTES) {
      const match = r.pattern.exec(url.pathname);
      if (!match || r.method !== req.method) continue;
      if (!allowed(caller, r.permission)) {
        const why =
          r.permission === "account_read_unavailable"
            ? "This is a restricted API key, but the required permissions are not available for use by restricted keys."
            : `Having the 'rak_${r.permission}' permission would allow this request to continue.`;
        return stripeError(403, {
          message: `The provided key '${maskKey(key)}' does not have the required permissions for this endpoint on account '${caller.account.id}'. ${why}`,
        });
      }
      const id = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
      if (req.method !== "POST") return r.handle(caller, req, url, id);
      return idempotent(caller, req, () => r.handle(caller, req, url, id));
    }
    return stripeError(404, {
      message: `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    });
  };

  // Stripe replays the first answer for a reused Idempotency-Key and refuses it with other parameters.
  function idempotent(
    caller: Caller,
    req: RecordedUpstreamRequest,
    run: () => Response,
  ): Response | Promise<Response> {
    const ikey = req.headers["idempotency-key"];
    if (ikey === undefined) return run();
    const request = `${req.method} ${req.path} ${req.text}`;
    const seen = caller.account.idempotency.get(ikey);
    if (seen) {
      if (seen.request !== request) {
        return stripeError(400, {
          type: "idempotency_error",
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${ikey}' if you meant to execute a different request.`,
        });
      }
      return ok(seen.body, seen.status, { "idempotent-replayed": "true", "idempotency-key": ikey });
    }
    const res = run();
    return res
      .clone()
      .json()
      .then((body) => {
        caller.account.idempotency.set(ikey, { request, status: res.status, body });
        return res;
      });
  }

  const upstream = await startFakeUpstream(route);
  return {
    url: upstream.url,
    requests: upstream.requests,
    addKey(key, opts = {}) {
      const account = opts.account ?? seedAccount(opts.customers ?? 12);
      keys.set(key, { key, account, permissions: opts.permissions ? new Set(opts.permissions) : undefined });
      return account;
    },
    removeKey: (key) => void keys.delete(key),
    answerNext: upstream.answerNext,
    stop: upstream.stop,
  };
}
