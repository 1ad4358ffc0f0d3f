import { describe, expect, test } from "bun:test";
import { buildRequest, isSendableCredential } from "./request.ts";

const spec = { method: "GET", path: "/v1/files/{key}/nodes", query: ["ids", "depth"] };

describe("buildRequest", () => {
  test("encodes path params, skips absent query params, keeps a base path", () => {
    const req = buildRequest(
      "https://x.test/api/",
      { type: "bearer" },
      spec,
      { key: "a b/c", ids: ["1:2", "3:4"] },
      "k1",
    );
    if ("error" in req) throw new Error(req.error);
    expect(req.url.href).toBe("https://x.test/api/v1/files/a%20b%2Fc/nodes?ids=1%3A2%2C3%3A4");
    expect(req.headers.get("authorization")).toBe("Bearer k1");
    expect(req.body).toBeUndefined();
  });

  test("query auth puts the key in the URL; header auth in the named header", () => {
    const query = buildRequest(
      "https://x.test",
      { type: "query", name: "api_key" },
      spec,
      { key: "f" },
      "k2",
    );
    expect("url" in query && query.url.searchParams.get("api_key")).toBe("k2");
    const header = buildRequest(
      "https://x.test",
      { type: "header", name: "X-Figma-Token" },
      spec,
      { key: "f" },
      "k3",
    );
    expect("headers" in header && header.headers.get("x-figma-token")).toBe("k3");
  });

  test.each(["", ".", ".."])("refuses the path segment %p, which would change the endpoint", (key) => {
    expect(buildRequest("https://x.test", { type: "bearer" }, spec, { key }, "k")).toEqual({
      error: '"key" is not a valid path segment',
    });
  });

  test("only declared, present body fields are sent as JSON", () => {
    const post = { method: "POST", path: "/c", body: ["message", "meta"] };
    const req = buildRequest("https://x.test", { type: "bearer" }, post, { message: "hi", other: 1 }, "k");
    expect("body" in req && req.body).toBe('{"message":"hi"}');
    expect("headers" in req && req.headers.get("content-type")).toBe("application/json");
  });

  test("credentials that could break a header are not sendable", () => {
    expect(isSendableCredential("figd_abc-123")).toBe(true);
    for (const bad of ["", "a b", "a\r\nb", "é", "x".repeat(5000)])
      expect(isSendableCredential(bad)).toBe(false);
  });
});
