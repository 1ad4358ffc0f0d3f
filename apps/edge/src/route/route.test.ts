// Which paths the MCP route takes (everything else goes to the edge's Hono app).
import { describe, expect, test } from "bun:test";
import { mcpToken } from "./route.ts";

describe("mcpToken", () => {
  const at = (path: string) => mcpToken(`http://127.0.0.1:3001${path}`);

  test("/<token>/mcp, with or without a query, gives the token as sent", () => {
    expect(at("/mcp_fig_abc123/mcp")).toBe("mcp_fig_abc123");
    expect(at("/mcp_fig_abc123/mcp?x=1")).toBe("mcp_fig_abc123");
    expect(mcpToken("https://mcp.example.com/t/mcp")).toBe("t");
  });

  test("a percent-encoded token is decoded as a router would; a malformed escape stays as sent", () => {
    expect(at("/mcp_fig_%41bc/mcp")).toBe("mcp_fig_Abc");
    expect(at("/mcp_fig_%E0%A4%A/mcp")).toBe("mcp_fig_%E0%A4%A");
  });

  test("no token segment, more than one, a trailing slash or another path: not the route", () => {
    for (const path of [
      "/mcp",
      "//mcp",
      "/a/b/mcp",
      "/t/mcp/",
      "/t/mcpx",
      "/t/xmcp",
      "/health",
      "/",
      "/t/mcp/x",
    ])
      expect([path, at(path)]).toEqual([path, null]);
  });
});
