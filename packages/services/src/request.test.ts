import { describe, expect, test } from "bun:test";
import type { AuthConfig } from "./definition.ts";
import { buildRequest, isSendableCredential, type RequestTarget } from "./request.ts";

const spec = { method: "GET" as const, path: "/v1/files/{key}/nodes", query: ["ids", "depth"] };
const target = (baseUrl: string, auth: AuthConfig, extra: Partial<RequestTarget> = {}): RequestTarget => ({
  baseUrl,
  auth,
  additionalCredentials: [],
  ...extra,
});
const bearer = target("https://x.test", { type: "bearer" });

describe("buildRequest", () => {
  test("encodes path params, skips absent query params, keeps a base path", () => {
    const req = buildRequest(
      target("https://x.test/api/", { type: "bearer" }),
      spec,
      { key: "a b", ids: ["1:2", "3:4"] },
      {
        apiKey: "k1",
      },
    );
    if ("error" in req) throw new Error(req.error);
    expect(req.url.href).toBe("https://x.test/api/v1/files/a%20b/nodes?ids=1%3A2%2C3%3A4");
    expect(req.headers.get("authorization")).toBe("Bearer k1");
    expect(req.body).toBeUndefined();
  });

  test("query auth puts the key in the URL; header auth in the named header", () => {
    const query = buildRequest(
      target("https://x.test", { type: "query", name: "api_key" }),
      spec,
      { key: "f" },
      { apiKey: "k2" },
    );
    expect("url" in query && query.url.searchParams.get("api_key")).toBe("k2");
    const header = buildRequest(
      target("https://x.test", { type: "header", name: "X-Figma-Token" }),
      spec,
      { key: "f" },
      {
        apiKey: "k3",
      },
    );
    expect("headers" in header && header.headers.get("x-figma-token")).toBe("k3");
  });

  test("basic auth: the username comes from the additional credentials, the key is the password", () => {
    const jira = target("https://x.test", { type: "basic", username: "email" });
    const req = buildRequest(
      jira,
      spec,
      { key: "f" },
      { apiKey: "tok", additional: { email: "ada@example.com" } },
    );
    expect("headers" in req && req.headers.get("authorization")).toBe(
      `Basic ${Buffer.from("ada@example.com:tok").toString("base64")}`,
    );
    expect(buildRequest(jira, spec, { key: "f" }, { apiKey: "tok" })).toEqual({
      error: 'the stored "email" is missing',
    });
  });

  test.each(["", ".", "..", "../admin", "a/b", "..%2Fadmin", "a%2fb", "%2e%2e", "a\\b", "x\ny"])(
    "refuses the path segment %p, which could change the endpoint",
    (key) => {
      expect(buildRequest(bearer, spec, { key }, { apiKey: "k" })).toEqual({
        error: '"key" is not a valid path segment',
      });
    },
  );

  test("only declared, present body fields are sent as JSON", () => {
    const post = { method: "POST" as const, path: "/c", body: ["message", "meta"] };
    const req = buildRequest(bearer, post, { message: "hi", other: 1 }, { apiKey: "k" });
    expect("body" in req && req.body).toBe('{"message":"hi"}');
    expect("headers" in req && req.headers.get("content-type")).toBe("application/json; charset=utf-8");
  });

  test("a body mapping nests input under dot paths inside a template", () => {
    const post = {
      method: "POST" as const,
      path: "/issue",
      bodyTemplate: { fields: { issuetype: { name: "Task" } } },
      body: { "fields.project.key": "project", "fields.summary": "summary", "fields.__proto__.x": "summary" },
    };
    const req = buildRequest(bearer, post, { project: "OPS", summary: "Fix it" }, { apiKey: "k" });
    expect("body" in req && JSON.parse(req.body ?? "")).toEqual({
      fields: { issuetype: { name: "Task" }, project: { key: "OPS" }, summary: "Fix it" },
    });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  test("form encoding uses bracket keys (Stripe)", () => {
    const post = {
      method: "POST" as const,
      path: "/v1/customers",
      body: ["email", "metadata", "items"],
      bodyEncoding: "form" as const,
    };
    const req = buildRequest(
      bearer,
      post,
      { email: "a@b.c", metadata: { plan: "pro" }, items: [{ price: "p_1" }] },
      { apiKey: "k" },
    );
    if ("error" in req) throw new Error(req.error);
    expect(req.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(decodeURIComponent(req.body ?? "")).toBe("email=a@b.c&metadata[plan]=pro&items[0][price]=p_1");
  });

  test("query and header mappings rename input; static service headers are sent", () => {
    const get = {
      method: "GET" as const,
      path: "/s",
      query: { "page[size]": "size" },
      headers: { "X-Trace": "trace" },
    };
    const svc = target("https://x.test", { type: "bearer" }, { headers: { "Notion-Version": "2022-06-28" } });
    const req = buildRequest(svc, get, { size: 5, trace: "t1" }, { apiKey: "k" });
    if ("error" in req) throw new Error(req.error);
    expect(req.url.search).toBe("?page%5Bsize%5D=5");
    expect(req.headers.get("x-trace")).toBe("t1");
    expect(req.headers.get("notion-version")).toBe("2022-06-28");
  });

  test("a base URL placeholder is filled from a non-secret field only when it matches its pattern", () => {
    const jira = target(
      "https://{site}/rest/api/3",
      { type: "basic", username: "email" },
      {
        additionalCredentials: [
          {
            name: "site",
            label: "Site",
            pattern: "[a-z0-9-]+\\.atlassian\\.net",
            maxLength: 100,
            required: true,
            secret: false,
          },
          { name: "email", label: "Email", maxLength: 100, required: true, secret: false },
        ],
      },
    );
    const get = { method: "GET" as const, path: "/myself" };
    const ok = buildRequest(
      jira,
      get,
      {},
      { apiKey: "t", additional: { site: "acme.atlassian.net", email: "a@b.c" } },
    );
    expect("url" in ok && ok.url.href).toBe("https://acme.atlassian.net/rest/api/3/myself");
    for (const site of ["evil.example.com", "acme.atlassian.net@evil.com", "evil.com/x.atlassian.net"]) {
      expect(buildRequest(jira, get, {}, { apiKey: "t", additional: { site, email: "a@b.c" } })).toEqual({
        error: 'the stored "site" is not valid',
      });
    }
  });

  test("credentials that could break a header are not sendable", () => {
    expect(isSendableCredential("figd_abc-123")).toBe(true);
    for (const bad of ["", "a b", "a\r\nb", "é", "x".repeat(5000)])
      expect(isSendableCredential(bad)).toBe(false);
  });
});
