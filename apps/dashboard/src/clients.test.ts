import { describe, expect, test } from "bun:test";
import {
  CURL_PROTOCOL_VERSION,
  claudeCodeSetup,
  clientSetups,
  curlSetup,
  cursorSetup,
  inspectorSetup,
  serverName,
  vscodeSetup,
  windsurfSetup,
} from "./clients.ts";

const URL_ = "http://127.0.0.1:3001/mcp_fig_AbC-123_xyz/mcp";

describe("client snippets", () => {
  test("one tab per client, in order, each naming the URL", () => {
    const all = clientSetups("Figma", URL_);
    expect(all.map((c) => c.id)).toEqual([
      "claude",
      "claude-code",
      "cursor",
      "vscode",
      "windsurf",
      "inspector",
      "curl",
    ]);
    for (const c of all) expect(c.snippet).toContain(URL_);
    // Claude's custom connector takes the URL alone.
    expect(all[0]?.snippet).toBe(URL_);
  });

  test("server names are slugs every client accepts", () => {
    expect(serverName("Figma")).toBe("figma");
    expect(serverName("My tools (prod)!")).toBe("my-tools-prod");
    expect(serverName("---")).toBe("mcp-server");
    expect(serverName("x".repeat(100))).toHaveLength(40);
  });

  test("Claude Code: claude mcp add --transport http <name> <url>", () => {
    expect(claudeCodeSetup("figma", URL_).snippet).toBe(`claude mcp add --transport http figma '${URL_}'`);
  });

  test("Cursor: mcp.json with mcpServers.<name>.url and a deep link carrying base64 of {url}", () => {
    const c = cursorSetup("figma", URL_);
    expect(JSON.parse(c.snippet)).toEqual({ mcpServers: { figma: { url: URL_ } } });
    const link = new URL(c.installUrl ?? "");
    expect(link.protocol).toBe("cursor:");
    expect(`${link.host}${link.pathname}`).toBe("anysphere.cursor-deeplink/mcp/install");
    expect(link.searchParams.get("name")).toBe("figma");
    expect(JSON.parse(atob(link.searchParams.get("config") ?? ""))).toEqual({ url: URL_ });
  });

  test("VS Code: mcp.json servers.<name> with type http, and vscode:mcp/install?<json>", () => {
    const c = vscodeSetup("figma", URL_);
    expect(JSON.parse(c.snippet)).toEqual({ servers: { figma: { type: "http", url: URL_ } } });
    const link = c.installUrl ?? "";
    expect(link.startsWith("vscode:mcp/install?")).toBe(true);
    expect(JSON.parse(decodeURIComponent(link.slice("vscode:mcp/install?".length)))).toEqual({
      name: "figma",
      type: "http",
      url: URL_,
    });
  });

  test("Windsurf: mcp_config.json with mcpServers.<name>.serverUrl", () => {
    const c = windsurfSetup("figma", URL_);
    expect(c.file).toBe("~/.codeium/windsurf/mcp_config.json");
    expect(JSON.parse(c.snippet)).toEqual({ mcpServers: { figma: { serverUrl: URL_ } } });
  });

  test("MCP Inspector: npx @modelcontextprotocol/inspector and the URL", () => {
    const lines = inspectorSetup("figma", URL_).snippet.split("\n");
    expect(lines[0]).toBe("npx @modelcontextprotocol/inspector");
    expect(lines[1]).toBe(`# URL: ${URL_}`);
    expect(lines[2]).toBe(
      `npx @modelcontextprotocol/inspector --cli '${URL_}' --transport http --method tools/list`,
    );
  });

  test("curl: an initialize POST with the Accept header Streamable HTTP requires", () => {
    const s = curlSetup("figma", URL_).snippet;
    expect(s.startsWith(`curl -sS -X POST '${URL_}'`)).toBe(true);
    expect(s).toContain("-H 'Accept: application/json, text/event-stream'");
    expect(s).toContain("-H 'Content-Type: application/json'");
    expect(s).toContain(`-H 'MCP-Protocol-Version: ${CURL_PROTOCOL_VERSION}'`);
    const body = /-d '(.*)'$/.exec(s)?.[1] ?? "";
    expect(JSON.parse(body)).toMatchObject({
      jsonrpc: "2.0",
      method: "initialize",
      params: { protocolVersion: CURL_PROTOCOL_VERSION, capabilities: {} },
    });
  });

  test("a quote in a URL cannot break out of the shell string", () => {
    const s = claudeCodeSetup("x", "http://h/a'b/mcp").snippet;
    expect(s).toBe(`claude mcp add --transport http x 'http://h/a'"'"'b/mcp'`);
  });
});
