// How to put an instance URL into each MCP client: snippets and install links, in the shapes each client
// documents. Pure functions (no DOM), unit-tested in clients.test.ts.

export type ClientId = "claude" | "claude-code" | "cursor" | "vscode" | "windsurf" | "inspector" | "curl";

export interface ClientSetup {
  id: ClientId;
  /** Tab label. */
  label: string;
  /** One or two sentences on where the snippet goes. */
  where: string;
  /** What to copy; `file` names the file it goes in, when there is one. */
  snippet: string;
  file?: string;
  /** A link that installs the server in one click, where the client has one. */
  installUrl?: string;
}

/** The MCP protocol version the curl example speaks (the 2025 era, which every client still uses). */
export const CURL_PROTOCOL_VERSION = "2025-06-18";

/** A server name every client accepts: lowercase letters, digits and dashes. */
export function serverName(raw: string): string {
  const slug = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return slug === "" ? "mcp-server" : slug;
}

/** Base64 of an ASCII or UTF-8 string, in the browser and in Bun alike. */
function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

const json = (value: unknown) => JSON.stringify(value, null, 2);
/** Single-quoted for POSIX shells. */
const shellQuote = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

export function claudeSetup(_name: string, url: string): ClientSetup {
  return {
    id: "claude",
    label: "Claude",
    where:
      "In Claude (claude.ai or Claude Desktop): Settings → Connectors → Add custom connector, then paste this URL as the remote MCP server URL.",
    snippet: url,
  };
}

export function claudeCodeSetup(name: string, url: string): ClientSetup {
  return {
    id: "claude-code",
    label: "Claude Code",
    where: "Run this in a terminal; Claude Code adds the server to your configuration.",
    snippet: `claude mcp add --transport http ${name} ${shellQuote(url)}`,
  };
}

export function cursorSetup(name: string, url: string): ClientSetup {
  const config = { url };
  return {
    id: "cursor",
    label: "Cursor",
    where: "Click the install link, or add this to ~/.cursor/mcp.json (or .cursor/mcp.json in a project).",
    file: "mcp.json",
    snippet: json({ mcpServers: { [name]: config } }),
    installUrl: `cursor://anysphere.cursor-deeplink/mcp/install?name=${encodeURIComponent(name)}&config=${encodeURIComponent(base64(JSON.stringify(config)))}`,
  };
}

export function vscodeSetup(name: string, url: string): ClientSetup {
  return {
    id: "vscode",
    label: "VS Code",
    where:
      "Click the install link, or add this to .vscode/mcp.json in your workspace (or your user mcp.json).",
    file: "mcp.json",
    snippet: json({ servers: { [name]: { type: "http", url } } }),
    installUrl: `vscode:mcp/install?${encodeURIComponent(JSON.stringify({ name, type: "http", url }))}`,
  };
}

export function windsurfSetup(name: string, url: string): ClientSetup {
  return {
    id: "windsurf",
    label: "Windsurf",
    where: "Add this to ~/.codeium/windsurf/mcp_config.json, then refresh the MCP servers in Windsurf.",
    file: "~/.codeium/windsurf/mcp_config.json",
    snippet: json({ mcpServers: { [name]: { serverUrl: url } } }),
  };
}

export function inspectorSetup(_name: string, url: string): ClientSetup {
  return {
    id: "inspector",
    label: "MCP Inspector",
    where:
      "Start the Inspector, choose the Streamable HTTP transport and paste the URL; or list the tools from the command line with the second line.",
    snippet: `npx @modelcontextprotocol/inspector\n# URL: ${url}\nnpx @modelcontextprotocol/inspector --cli ${shellQuote(url)} --transport http --method tools/list`,
  };
}

/** The JSON-RPC `initialize` request the curl example sends. */
export function initializeBody(): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: CURL_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "curl", version: "1.0.0" },
    },
  });
}

export function curlSetup(_name: string, url: string): ClientSetup {
  return {
    id: "curl",
    label: "curl",
    where: "A raw MCP initialize request, to check the URL from any machine.",
    snippet: [
      `curl -sS -X POST ${shellQuote(url)} \\`,
      `  -H 'Content-Type: application/json' \\`,
      `  -H 'Accept: application/json, text/event-stream' \\`,
      `  -H 'MCP-Protocol-Version: ${CURL_PROTOCOL_VERSION}' \\`,
      `  -d ${shellQuote(initializeBody())}`,
    ].join("\n"),
  };
}

/** Every client, in tab order. */
export function clientSetups(rawName: string, url: string): ClientSetup[] {
  const name = serverName(rawName);
  return [
    claudeSetup,
    claudeCodeSetup,
    cursorSetup,
    vscodeSetup,
    windsurfSetup,
    inspectorSetup,
    curlSetup,
  ].map((make) => make(name, url));
}
